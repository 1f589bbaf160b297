"""Memory stays flat as simulated time grows: ``serve``, ``run`` and ``loop``.

* ``serve``: ``mestwin serve`` of the bottling line (8 stations, the highest event rate of
  the shipped scenarios) at ``--speed max`` as a subprocess for ``MESTWIN_BENCH_SERVE_SECONDS``
  of wall time (default 600), its RSS sampled from ``/proc/<pid>/status`` every few seconds.
  The figure is the growth of RSS after the first minute (the first fifth of a shortened
  run): target < 50 MB.
* ``run``: peak RSS (``VmHWM``, see :data:`PEAK_WRAPPER`) of ``mestwin run`` of the
  bottling line for 1 week and for 4 weeks; the peak must not grow with the horizon
  (target: the 4-week peak is < 1.1 x the 1-week one).
* ``loop``: peak RSS of ``mestwin loop`` in process on the two-step line for 30 days and
  120 days; the peak must not grow with the horizon either.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MESTWIN = [sys.executable, "-m", "mestwin.cli"]
BOTTLING = str(ROOT / "scenarios" / "bottling_line.yaml")
TWO_STEP = str(ROOT / "scenarios" / "two_step_line.yaml")
SERVE_SECONDS = float(os.environ.get("MESTWIN_BENCH_SERVE_SECONDS", "600"))
SAMPLE_S = 5.0
GROWTH_TARGET_MB = 50.0
HORIZON_TARGET = 1.1


def rss_mb(pid: int) -> float:
    """Resident set size of process *pid* now, in MB (``VmRSS`` of ``/proc/<pid>/status``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None, "no VmRSS in /proc/<pid>/status"
    return int(match.group(1)) / 1024


PEAK_WRAPPER = """\
import sys
from mestwin.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
with open("/proc/self/status") as status:
    sys.stderr.write(next(line for line in status if line.startswith("VmHWM:")))
sys.exit(code)
"""
"""Runs ``mestwin`` and reports its own peak RSS at the end. Not ``wait4``'s ``ru_maxrss``:
that one keeps the high-water mark of the forked copy of this (pytest) process from before
the ``exec``; ``VmHWM`` is the mark of the process's own memory since the ``exec``."""


def _run_measured(args: list[str], timeout: float) -> tuple[float, float, str]:
    """Run ``mestwin *args*``: (its peak RSS in MB, wall seconds, stdout)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, check=False)
    assert done.returncode == 0, f"mestwin {' '.join(args)} exited {done.returncode}"
    match = re.search(r"^VmHWM:\s+(\d+) kB", done.stderr, re.MULTILINE)
    assert match is not None, done.stderr[-2000:]
    return int(match.group(1)) / 1024, time.perf_counter() - start, done.stdout


@pytest.mark.timeout(SERVE_SECONDS + 180)
def test_serve_rss_is_flat_at_max_speed(record_ratio: Any) -> None:
    """RSS of ``serve --speed max`` grows < 50 MB after the first minute."""
    process = subprocess.Popen(
        [*MESTWIN, "serve", BOTTLING, "--speed", "max", "--opcua-port", "0",
         "--modbus-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=ROOT)
    settle = min(60.0, SERVE_SECONDS / 5)
    samples: list[tuple[float, float]] = []
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < SERVE_SECONDS:
            assert process.poll() is None, "serve exited early"
            samples.append((elapsed, rss_mb(process.pid)))
            if len(samples) % 12 == 1:
                print(f"\n[bench] serve: {elapsed:5.0f} s wall, RSS {samples[-1][1]:.1f} MB",
                      end="", flush=True)
            time.sleep(min(SAMPLE_S, max(SERVE_SECONDS - elapsed, 0.01)))
        samples.append((time.monotonic() - start, rss_mb(process.pid)))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, f"serve exited {process.returncode}"
    stopped = re.search(r"Stopped at simulated time ([\d.]+) s", out)
    assert stopped is not None, out
    at_settle = next(rss for t, rss in samples if t >= settle)
    after = [rss for t, rss in samples if t >= settle]
    growth = max(after) - at_settle
    record_ratio("serve_rss_growth_mb", wall_s=samples[-1][0], simulated_s=float(
        stopped.group(1)), rss_first_mb=samples[0][1], rss_at_settle_mb=at_settle,
        rss_peak_mb=max(after), rss_last_mb=samples[-1][1], growth_mb=growth,
        target_mb=GROWTH_TARGET_MB)
    assert growth < GROWTH_TARGET_MB


@pytest.mark.timeout(3700)
def test_run_peak_rss_does_not_grow_with_the_horizon(record_ratio: Any) -> None:
    """Peak RSS of ``run`` for 4 weeks is within 10 % of that for 1 week."""
    peaks = {}
    for label, until in (("1w", "7d"), ("4w", "28d")):
        peak, wall, _ = _run_measured(["run", BOTTLING, "--until", until, "--json",
                                       "--no-progress"], timeout=1800)
        peaks[label] = peak
        print(f"\n[bench] run bottling line {until}: peak RSS {peak:.1f} MB in {wall:.1f} s")
    ratio = peaks["4w"] / peaks["1w"]
    record_ratio("run_peak_rss_4w_over_1w", peak_1w_mb=peaks["1w"], peak_4w_mb=peaks["4w"],
                 ratio=ratio, target=HORIZON_TARGET)
    assert ratio < HORIZON_TARGET


@pytest.mark.timeout(3700)
def test_loop_peak_rss_against_the_horizon(record_ratio: Any) -> None:
    """Peak RSS of ``loop`` in process for 120 days is within 10 % of that for 30 days (the
    MES's ledger keeps lineage only for serials that have links, as a real MES's does)."""
    peaks = {}
    for label, until in (("30d", "30d"), ("120d", "120d")):
        peak, wall, _ = _run_measured(["loop", TWO_STEP, "--until", until, "--json"],
                                      timeout=1800)
        peaks[label] = peak
        print(f"\n[bench] loop two-step line {until}: peak RSS {peak:.1f} MB in {wall:.1f} s")
    record_ratio("loop_peak_rss_120d_over_30d", peak_30d_mb=peaks["30d"],
                 peak_120d_mb=peaks["120d"], ratio=peaks["120d"] / peaks["30d"],
                 target=HORIZON_TARGET)
    assert peaks["120d"] / peaks["30d"] < HORIZON_TARGET
