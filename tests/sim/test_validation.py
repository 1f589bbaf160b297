"""Validation of the plant simulator against closed-form results nobody on the team wrote.

Issue 2, point 6. Every scenario goes through the public path: a scenario dict (the YAML
file as Python) validated by ``parse_scenario`` and run by ``run_scenario``, whose
``to_dict()`` is exactly what ``mestwin run --json`` prints; one test drives the real CLI in
a subprocess. Only the wait distribution of M/M/1 and the effective process times of a
machine with breakdowns are read from the ground-truth event log, because the JSON has no
per-unit output.

Statistical checks follow the recipe of docs/validation.md: R = 20 replications seeded from
one fixed ``SeedSequence(root).spawn(R)``, warm-up deleted, a Student-t interval at
alpha = 0.001 that must contain the exact value AND have a half-width below a target. The
roots below were fixed before the recorded run and are never tuned to make a check pass.
Exact checks (Little's law on a run that starts and ends empty, a deterministic line) need
no statistics. Formulas: Kleinrock, *Queueing Systems* 1; Gross & Harris; Hopp & Spearman,
*Factory Physics* ch. 8 (see tests/sim/validation_helpers.py).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mestwin.plantmodels import Plant
from mestwin.plantmodels.eventlog import Enter, EventKind, StateChange
from mestwin.plantmodels.states import MachineState
from mestwin.sim.run import run_scenario
from mestwin.sim.scenario import build_plant, load_scenario, parse_scenario

from .validation_helpers import (
    check_estimate,
    effective_process,
    erlang_c,
    mg1_wait_variance,
    mm1,
    mm1_wait_variance,
    mm1k_probabilities,
    mmc,
    pollaczek_khinchine,
    replicate,
    replication_seeds,
    t_interval,
    two_station_throughput,
)

R = 20
"""Independent replications per statistical check."""

ROOTS = {"mm1": 601, "mmc": 602, "mg1": 603, "tandem": 604, "mm1k": 605, "two": 606,
         "breakdowns": 607}
"""Fixed SeedSequence entropy per check (chosen once, never tuned)."""

PROCESSING = int(MachineState.PROCESSING)


def exponential(mean: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean": mean}


def open_line(name: str, seed: int, arrival_rate: float, customers: int, warmup: int,
              stations: list[dict[str, Any]], **source: Any) -> dict[str, Any]:
    """Poisson arrivals into *stations* (a line ending in the sink); *customers* expected
    arrivals in the window after *warmup* expected arrivals."""
    return {
        "name": name, "seed": seed,
        "horizon": (warmup + customers) / arrival_rate, "warmup": warmup / arrival_rate,
        "sources": [{"id": "arrivals", "interarrival": exponential(1 / arrival_rate),
                     "to": stations[0]["id"], **source}],
        "stations": stations,
    }


def pick(results: list[dict[str, Any]], *path: str) -> list[float]:
    """The value at *path* (e.g. ``"stations", "s1", "mean_wait_s"``) of every result."""
    values = []
    for result in results:
        value: Any = result
        for key in path:
            value = value[key]
        values.append(float(value))
    return values


# -- the oracle itself ------------------------------------------------------------------------
def test_closed_forms_reproduce_the_published_worked_examples() -> None:
    """The formulas used as oracles give the textbook's worked numbers (a typo in an oracle
    would otherwise make a wrong simulator look right)."""
    m = mm1(0.8, 1.0)
    assert (m.l, m.lq, m.w, m.wq) == pytest.approx((4.0, 3.2, 5.0, 4.0))
    assert mm1_wait_variance(0.8, 1.0) == pytest.approx(24.0)
    assert mg1_wait_variance(0.8, 1.0, 2.0, 6.0) == pytest.approx(24.0)  # exponential moments
    c, wq = erlang_c(1.6, 1.0, 2)
    assert (c, wq, mmc(1.6, 1.0, 2).l) == pytest.approx((0.7111, 1.7778, 4.4444), abs=1e-4)
    assert [pollaczek_khinchine(0.8, 1.0, scv).wq for scv in (0.0, 0.5, 1 / 3)] == (
        pytest.approx([2.0, 3.0, 2.6667], abs=1e-4))
    w = sum(1 / (mu - 0.8) for mu in (1.0, 1.25))
    assert (w, 0.8 * w) == pytest.approx((7.2222, 5.7778), abs=1e-4)
    assert mm1k_probabilities(0.8, 1.0, 5)[-1] == pytest.approx(0.08882, abs=1e-5)
    assert two_station_throughput(1.0, 1.0, 0) == pytest.approx(2 / 3)
    assert two_station_throughput(1.0, 1.0 + 1e-7, 0) == pytest.approx(2 / 3, rel=1e-6)
    e = effective_process(15.0, 0.25, 744.0, 248.0, 1.0)
    assert (e.availability, e.te, e.ce2) == pytest.approx((0.75, 20.0, 6.45))


# -- M/M/1 ----------------------------------------------------------------------------------
MM1_ARRIVAL, MM1_SERVICE = 0.25, 0.5
"""lambda = 0.25/s, mu = 0.5/s (mean service 2 s, not 1, so a rate/mean mix-up shows): rho 0.5,
where the variance of the wait is estimated about twice as precisely as at rho 0.6."""
MM1_CUSTOMERS, MM1_WARMUP = 20_000, 1_000


@dataclass(frozen=True)
class MM1Replication:
    result: dict[str, Any]
    waits: np.ndarray[Any, np.dtype[np.float64]]
    """Wait in queue of every unit that entered the buffer after warm-up (from the log)."""


def mm1_scenario(seed: int) -> dict[str, Any]:
    return open_line("mm1", seed, MM1_ARRIVAL, MM1_CUSTOMERS, MM1_WARMUP, [
        {"id": "s1", "process_time": exponential(1 / MM1_SERVICE), "to": "sink"}])


def queue_waits(plant: Plant, node: str, warmup: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Waits from the log: Enter(node) to the first PROCESSING state of that serial, for the
    units that entered after *warmup* and started before the end of the run."""
    entered: dict[str, float] = {}
    for record in plant.log.records(EventKind.ENTER):
        assert isinstance(record, Enter)
        if record.node == node and record.t >= warmup:
            entered[record.serial] = record.t
    waits: list[float] = []
    for record in plant.log.records(EventKind.STATE):
        assert isinstance(record, StateChange)
        if (record.station == node and record.state == PROCESSING
                and record.serial in entered):
            waits.append(record.t - entered.pop(record.serial))
    return np.asarray(waits, dtype=float)


@pytest.fixture(scope="module")
def mm1_runs() -> list[MM1Replication]:
    """R replications of M/M/1 with their JSON result and log-derived waits."""
    runs = []
    for seed in replication_seeds(ROOTS["mm1"], R):
        scenario = parse_scenario(mm1_scenario(seed), file="mm1")
        plant = build_plant(scenario)
        plant.run(scenario.horizon)
        runs.append(MM1Replication(plant.results().to_dict(),
                                   queue_waits(plant, "s1", scenario.warmup)))
    return runs


@pytest.mark.slow
def test_mm1_matches_wait_length_utilization_and_wait_distribution(
    mm1_runs: list[MM1Replication],
) -> None:
    """M/M/1 at rho = 0.5 gives Wq = rho/(mu-lambda), W = 1/(mu-lambda), L = rho/(1-rho),
    Lq = lambda Wq, utilization rho, P(wait) = rho and Var(Wq) = rho(2-rho)/(mu-lambda)^2.

    The mean wait is the same under FIFO and LIFO; the variance is not, so the variance is
    checked too (on the log, the only per-unit record). The warm-up of 1,000 arrivals is far
    above five relaxation times, 5 / (mu (1 - sqrt(rho))^2).
    """
    lam, mu = MM1_ARRIVAL, MM1_SERVICE
    rho = lam / mu
    assert MM1_WARMUP / lam > 5 / (mu * (1 - math.sqrt(rho)) ** 2)
    exact = mm1(lam, mu)
    results = [run.result for run in mm1_runs]
    # the log-reading path saw the very run the public path reports
    first = run_scenario(parse_scenario(mm1_scenario(replication_seeds(ROOTS["mm1"], 1)[0]),
                                        file="mm1")).to_dict()
    assert first == results[0]
    check_estimate("M/M/1 Wq (mean_wait_s)", pick(results, "stations", "s1", "mean_wait_s"),
                   exact.wq, 0.08)
    check_estimate("M/M/1 W (mean_flow_time_s)", pick(results, "mean_flow_time_s"),
                   exact.w, 0.06)
    check_estimate("M/M/1 L (mean_wip)", pick(results, "mean_wip"), exact.l, 0.06)
    check_estimate("M/M/1 Lq (mean_queue_length)",
                   pick(results, "stations", "s1", "mean_queue_length"), exact.lq, 0.08)
    check_estimate("M/M/1 utilization", pick(results, "stations", "s1", "utilization"),
                   rho, 0.02)
    check_estimate("M/M/1 P(wait) (log)", [float(np.mean(r.waits > 0)) for r in mm1_runs],
                   rho, 0.025)
    check_estimate("M/M/1 Var(Wq) (log)", [float(np.var(r.waits, ddof=1)) for r in mm1_runs],
                   mm1_wait_variance(lam, mu), 0.15)


NEGATIVE_CONTROLS = [
    # (what is wrong, what is estimated, the wrong "exact" value)
    ("Wq with rho 5% high", "wq", mm1(1.05 * MM1_ARRIVAL, MM1_SERVICE).wq),
    ("Wq with rho 5% low", "wq", mm1(0.95 * MM1_ARRIVAL, MM1_SERVICE).wq),
    ("L with rho 5% high", "l", mm1(1.05 * MM1_ARRIVAL, MM1_SERVICE).l),
    ("L with rho 5% low", "l", mm1(0.95 * MM1_ARRIVAL, MM1_SERVICE).l),
    ("utilization with rho 5% high", "u", 1.05 * MM1_ARRIVAL / MM1_SERVICE),
    ("P(wait) with rho 5% low", "pwait", 0.95 * MM1_ARRIVAL / MM1_SERVICE),
    # same mean and scv as exponential service (so the same Wq), smallest third moment:
    # service 0 or 4 s with probability 1/2 each (22% below the exponential's Var(Wq))
    ("Var(Wq) of two-point service", "var", mg1_wait_variance(MM1_ARRIVAL, 2.0, 8.0, 32.0)),
]


@pytest.mark.slow  # shares the M/M/1 replications (module fixture)
@pytest.mark.parametrize(("wrong", "quantity", "value"), NEGATIVE_CONTROLS,
                         ids=[c[0] for c in NEGATIVE_CONTROLS])
def test_negative_control_interval_rejects_a_deliberately_wrong_exact_value(
    mm1_runs: list[MM1Replication], wrong: str, quantity: str, value: float,
) -> None:
    """Power check: the same M/M/1 intervals exclude a slightly wrong formula value, so a
    passing M/M/1 check is evidence, not a formality."""
    results = [run.result for run in mm1_runs]
    estimates = {
        "wq": lambda: pick(results, "stations", "s1", "mean_wait_s"),
        "l": lambda: pick(results, "mean_wip"),
        "u": lambda: pick(results, "stations", "s1", "utilization"),
        "pwait": lambda: [float(np.mean(r.waits > 0)) for r in mm1_runs],
        "var": lambda: [float(np.var(r.waits, ddof=1)) for r in mm1_runs],
    }
    interval = t_interval(estimates[quantity]())
    print(f"NEGATIVE | {wrong} | wrong value {value:.6g} | interval {interval}")
    assert not interval.contains(value), f"{wrong}: {value:.6g} inside {interval}"


# -- M/M/c ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_mmc_matches_erlang_c() -> None:
    """M/M/2 at rho = 0.55 (lambda 0.55/s, mean service 2 s): Wq = C/(c mu - lambda) with the
    Erlang C probability computed from its formula, L = lambda (Wq + 1/mu), utilization rho."""
    lam, mu, c = 0.55, 0.5, 2
    exact = mmc(lam, mu, c)
    results = replicate(lambda seed: open_line("mmc", seed, lam, 10_000, 1_000, [
        {"id": "s1", "servers": c, "process_time": exponential(1 / mu), "to": "sink"}]),
        R, ROOTS["mmc"])
    check_estimate("M/M/2 Wq (mean_wait_s)", pick(results, "stations", "s1", "mean_wait_s"),
                   exact.wq, 0.12)
    check_estimate("M/M/2 L (mean_wip)", pick(results, "mean_wip"), exact.l, 0.06)
    check_estimate("M/M/2 utilization", pick(results, "stations", "s1", "utilization"),
                   lam / (c * mu), 0.03)


# -- M/G/1 ----------------------------------------------------------------------------------
MG1_CASES = [
    # (name, service time spec with mean 2 s, its scv)
    ("M/D/1", {"dist": "constant", "value": 2.0}, 0.0),
    ("M/E2/1", {"dist": "erlang", "mean": 2.0, "k": 2}, 0.5),
    ("M/U/1", {"dist": "uniform", "low": 0.0, "high": 4.0}, 1 / 3),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "service", "scv"), MG1_CASES, ids=[c[0] for c in MG1_CASES])
def test_mg1_matches_pollaczek_khinchine(name: str, service: dict[str, Any], scv: float) -> None:
    """M/G/1 at rho = 0.6: Wq = rho (1 + cs^2) E[S] / (2 (1 - rho)) and L = lambda W, for
    deterministic, Erlang-2 and uniform service."""
    lam, mean = 0.3, 2.0
    exact = pollaczek_khinchine(lam, mean, scv)
    results = replicate(lambda seed: open_line("mg1", seed, lam, 10_000, 1_000, [
        {"id": "s1", "process_time": service, "to": "sink"}]), R, ROOTS["mg1"])
    check_estimate(f"{name} Wq (mean_wait_s)", pick(results, "stations", "s1", "mean_wait_s"),
                   exact.wq, 0.08)
    check_estimate(f"{name} L (mean_wip)", pick(results, "mean_wip"), exact.l, 0.05)


# -- Jackson tandem -------------------------------------------------------------------------
@pytest.mark.slow
def test_jackson_tandem_of_two_mm1_stations() -> None:
    """Two M/M/1 stations in series with unlimited buffers behave as independent M/M/1
    queues: W = sum 1/(mu_i - lambda), L = lambda W, and each station's own Wq."""
    lam, rates = 0.3, (0.5, 0.6)
    results = replicate(lambda seed: open_line("tandem", seed, lam, 10_000, 1_000, [
        {"id": "s1", "process_time": exponential(1 / rates[0]), "to": "s2"},
        {"id": "s2", "process_time": exponential(1 / rates[1]), "to": "sink"}]),
        R, ROOTS["tandem"])
    w = sum(1 / (mu - lam) for mu in rates)
    check_estimate("Tandem W (mean_flow_time_s)", pick(results, "mean_flow_time_s"), w, 0.04)
    check_estimate("Tandem L (mean_wip)", pick(results, "mean_wip"), lam * w, 0.05)
    for sid, mu in zip(("s1", "s2"), rates, strict=True):
        check_estimate(f"Tandem {sid} Wq (mean_wait_s)",
                       pick(results, "stations", sid, "mean_wait_s"), mm1(lam, mu).wq, 0.10)


# -- M/M/1/K --------------------------------------------------------------------------------
@pytest.mark.slow
def test_mm1k_drops_arrivals_with_the_blocking_probability() -> None:
    """M/M/1/K with K = 5 (buffer counts waiting places, so ``buffer: 4``), lambda 0.4/s,
    mean service 2 s: an arrival finding K units is lost with probability
    P_K = (1-rho) rho^K / (1-rho^(K+1)) = 0.08882, measured as dropped / released; the mean
    number in system is sum n P_n.

    ``released`` and ``dropped`` count the whole run (warm-up included), unlike the window
    statistics; the run starts empty and the bias this adds is far below the half-width.
    """
    lam, mu, capacity = 0.4, 0.5, 5
    probabilities = mm1k_probabilities(lam, mu, capacity)
    results = replicate(lambda seed: open_line("mm1k", seed, lam, 10_000, 1_000, [
        {"id": "s1", "process_time": exponential(1 / mu), "buffer": capacity - 1,
         "to": "sink"}], when_full="drop"), R, ROOTS["mm1k"])
    check_estimate("M/M/1/5 blocking (dropped/released)",
                   [r["dropped"] / r["released"] for r in results], probabilities[-1], 0.10)
    check_estimate("M/M/1/5 L (mean_wip)", pick(results, "mean_wip"),
                   sum(n * p for n, p in enumerate(probabilities)), 0.05)


# -- two stations with a finite buffer ----------------------------------------------------------
TWO_STATION_CASES = [
    # (r1, r2, buffer B between them)
    (0.5, 0.5, 0),
    (0.5, 0.5, 2),
    (0.5, 0.4, 1),
]


@pytest.mark.slow
@pytest.mark.parametrize(("r1", "r2", "buffer"), TWO_STATION_CASES,
                         ids=["balanced-B0", "balanced-B2", "unbalanced-B1"])
def test_two_exponential_stations_with_blocking_after_service(
    r1: float, r2: float, buffer: int,
) -> None:
    """A saturated exponential station (rate r1) feeding another (rate r2) through B waiting
    places, blocking after service: TH = r1 (1 - u^(B+2)) / (1 - u^(B+3)), u = r1/r2, which
    is 2/3 r when balanced with B = 0. The first station processes a fraction TH/r1 of the
    time (the rest it is blocked)."""
    exact = two_station_throughput(r1, r2, buffer)
    units, warmup = 5_000, 100

    def scenario(seed: int) -> dict[str, Any]:
        return {
            "name": "two-stations", "seed": seed,
            "horizon": (warmup + units) / exact, "warmup": warmup / exact,
            "sources": [{"id": "material", "saturated": True, "to": "m1"}],
            "stations": [
                {"id": "m1", "buffer": 0, "process_time": exponential(1 / r1), "to": "m2"},
                {"id": "m2", "buffer": buffer, "process_time": exponential(1 / r2),
                 "to": "sink"}],
        }

    results = replicate(scenario, R, ROOTS["two"])
    label = f"Two stations r1={r1} r2={r2} B={buffer}"
    check_estimate(f"{label} TH (throughput_per_hour/3600)",
                   [v / 3600 for v in pick(results, "throughput_per_hour")], exact, 0.02)
    check_estimate(f"{label} m1 utilization", pick(results, "stations", "m1", "utilization"),
                   exact / r1, 0.025)


# -- breakdowns -------------------------------------------------------------------------------
@pytest.mark.slow
def test_breakdowns_inflate_effective_process_time_and_its_variability() -> None:
    """A saturated machine with Erlang-4 process times (t0 = 2 s, c0^2 = 0.25) and
    exponential failures on operating time (mf = 12 s, mr = 4 s, work resumes after repair):
    A = mf/(mf+mr) = 0.75, te = t0/A, ce^2 = c0^2 + (1 + cr^2) A (1-A) mr / t0 = 1.

    te is (APT + ADET) / produced from the time elements, A the utilization (APT/PBT of a
    never-starved, never-blocked machine), ce^2 the scv of the effective process times read
    from the log (start of PROCESSING of one unit to the start of the next unit)."""
    t0, mf, mr = 2.0, 12.0, 4.0
    exact = effective_process(t0, 0.25, mf, mr, 1.0)
    units, warmup = 8_000, 200
    te, availability, ce2 = [], [], []
    for seed in replication_seeds(ROOTS["breakdowns"], R):
        scenario = parse_scenario({
            "name": "breakdowns", "seed": seed,
            "horizon": (warmup + units) * exact.te, "warmup": warmup * exact.te,
            "sources": [{"id": "material", "saturated": True, "to": "m"}],
            "stations": [{
                "id": "m", "buffer": 0, "process_time": {"dist": "erlang", "mean": t0, "k": 4},
                "failures": {"ttf": exponential(mf), "ttr": exponential(mr),
                             "basis": "operating"},
                "to": "sink"}],
        }, file="breakdowns")
        plant = build_plant(scenario)
        plant.run(scenario.horizon)
        m = plant.results().to_dict()["stations"]["m"]
        elements = m["time_elements_s"]
        te.append((elements["APT"] + elements["ADET"]) / m["produced"])
        availability.append(m["utilization"])
        starts, last = [], None
        for record in plant.log.records(EventKind.STATE):
            assert isinstance(record, StateChange)
            if record.state == PROCESSING and record.serial != last:
                last = record.serial
                if record.t >= scenario.warmup:
                    starts.append(record.t)
        effective = np.diff(starts)
        ce2.append(float(np.var(effective, ddof=1) / np.mean(effective) ** 2))
    check_estimate("Breakdowns te ((APT+ADET)/produced)", te, exact.te, 0.03)
    check_estimate("Breakdowns A (utilization)", availability, exact.availability, 0.025)
    check_estimate("Breakdowns ce^2 (log)", ce2, exact.ce2, 0.08)


# -- exact checks -----------------------------------------------------------------------------
LITTLE_YAML = """\
name: little
seed: 11
horizon: 12000
warmup: 0
sources:
  - {id: arrivals, interarrival: {dist: exponential, mean: 2.2}, to: cut, limit: 3000}
stations:
  - {id: cut, servers: 2, process_time: {dist: lognormal, mean: 3.5, cv: 0.8}, buffer: 3,
     to: pack}
  - id: pack
    process_time: {dist: erlang, mean: 1.6, k: 3}
    buffer: 2
    failures: {ttf: {dist: exponential, mean: 300}, ttr: {dist: exponential, mean: 30},
               basis: operating}
    to: sink
"""


def test_littles_law_holds_exactly_on_a_run_that_starts_and_ends_empty(tmp_path: Path) -> None:
    """Through ``mestwin run --json`` (a subprocess, the real public path): 3,000 units enter
    an empty line with blocking and breakdowns and all leave before the horizon, so the
    time-average WIP equals throughput x mean flow time to rounding (L = lambda W exactly for
    the sample), and the CLI prints exactly ``run_scenario(...).to_dict()``."""
    file = tmp_path / "little.yaml"
    file.write_text(LITTLE_YAML, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mestwin.cli", "run", str(file), "--json"],
                          capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(done.stdout)
    assert result == run_scenario(load_scenario(file)).to_dict()
    assert result["released"] == result["departed"] == 3000  # it started and ended empty
    assert result["warmup_s"] == 0
    assert result["horizon_s"] == 12000
    assert result["stations"]["pack"]["failures"] > 0
    assert result["stations"]["cut"]["time_elements_s"]["ADOT"] > 0
    throughput_per_s = result["throughput_per_hour"] / 3600
    assert result["mean_wip"] > 1.0  # a busy line, not an idle one
    assert result["mean_wip"] == pytest.approx(throughput_per_s * result["mean_flow_time_s"],
                                               rel=1e-9, abs=0)


DETERMINISTIC_TIMES = (1.0, 2.0, 1.5)
"""Process times of a three-station line; the middle one is the bottleneck."""


def deterministic_line(seed: int, horizon: float, warmup: float,
                       source: dict[str, Any]) -> dict[str, Any]:
    ids = [f"op{i + 1}" for i in range(len(DETERMINISTIC_TIMES))]
    return {
        "name": "deterministic-line", "seed": seed, "horizon": horizon, "warmup": warmup,
        "sources": [{"id": "material", "to": ids[0], **source}],
        "stations": [{"id": sid, "process_time": {"dist": "constant", "value": t}, "buffer": 2,
                      "to": ids[i + 1] if i + 1 < len(ids) else "sink"}
                     for i, (sid, t) in enumerate(zip(ids, DETERMINISTIC_TIMES, strict=True))],
    }


@pytest.mark.parametrize(("horizon", "warmup"), [(1000.25, 0.0), (1000.25, 100.25),
                                                 (777.0, 0.0)])
def test_deterministic_saturated_line_runs_at_the_bottleneck_rate(
    horizon: float, warmup: float,
) -> None:
    """Best case (Factory Physics): a saturated line with constant times 1, 2, 1.5 s releases
    its k-th unit at T0 + (k-1) tb, T0 = 4.5 s the raw process time and tb = 2 s the
    bottleneck time, so the window [warmup, horizon) holds exactly the units of that
    sequence, and the throughput differs from 1/tb only by that start-up transient."""
    t0, tb = sum(DETERMINISTIC_TIMES), max(DETERMINISTIC_TIMES)
    result = run_scenario(parse_scenario(
        deterministic_line(1, horizon, warmup, {"saturated": True}), file="det")).to_dict()
    exits = [t0 + k * tb for k in range(int(horizon / tb) + 1)]
    expected = sum(1 for t in exits if warmup <= t < horizon)
    window = horizon - warmup
    assert result["departed"] == expected
    assert result["throughput_per_hour"] == pytest.approx(3600 * expected / window, rel=1e-12)
    transient = max(t0 / tb, 1.0) / window
    assert abs(result["throughput_per_hour"] / 3600 - 1 / tb) <= transient


@pytest.mark.parametrize("source", [{"interarrival": {"dist": "constant", "value": 5.0},
                                     "limit": 1},
                                    {"interarrival": {"dist": "constant", "value": 2.5}}],
                         ids=["single-unit", "paced-slower-than-bottleneck"])
def test_deterministic_flow_time_equals_the_raw_process_time(source: dict[str, Any]) -> None:
    """A unit that never waits spends exactly T0 = 1 + 2 + 1.5 s in the line: a single unit,
    or units released every 2.5 s (slower than the bottleneck), and L = T0/2.5 then."""
    t0 = sum(DETERMINISTIC_TIMES)
    result = run_scenario(parse_scenario(
        deterministic_line(1, 1000.0, 0.0, source), file="det")).to_dict()
    assert result["departed"] >= 1
    assert result["mean_flow_time_s"] == pytest.approx(t0, rel=1e-12)
    assert all(s["mean_wait_s"] == 0 for s in result["stations"].values())
    if "limit" not in source:
        # each unit released at r < horizon is in the line for min(T0, horizon - r)
        horizon, releases = 1000.0, np.arange(2.5, 1000.0, 2.5)
        area = float(np.minimum(t0, horizon - releases).sum())
        assert result["mean_wip"] == pytest.approx(area / horizon, rel=1e-12)
