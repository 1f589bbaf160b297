"""Over OPC UA and Modbus at 600x real time, our MES collects like a real one and is right
to 0.1 pp.

The MES subscribes to the state tags with deep queues and books intervals from each
change's SourceTimestamp; the PLC's cumulative state times only reconcile (a difference is
a collection gap). Every shipped scenario (``job_shop.yaml`` is a plant scenario like the
others: its MES here collects, it does not dispatch) runs paced for a stretch that keeps it
to about ten seconds of wall time, and is checked against the truth file of the same run
(:mod:`mestwin.sim.truth`, built from the event log; it shares no code with the MES):
availability and every ISO 22400 element as a share of POT within 0.1 percentage points
on every machine, counts exact, no gap flagged. One run reads the PackML state instead;
so does one of a small plant with every loss early on (setups, breakdowns, minor stops,
starvation, blocking and planned breaks, PackML acting states of 0.3 to 3 s), which the
shipped scenarios only reach hours in. Over Modbus the MES polls, and reads each PLC's state
log (every change of MachineState and StateReason with its time) rather than sampling the
state, so states shorter than a poll are timed too.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from mestwin.mes_core.collection.modbus import ModbusPollingSource
from mestwin.plantmodels import Retention
from mestwin.sim.scenario import Scenario, load_scenario, parse_scenario
from mestwin.sim.wire import WireRun, run_over_wire

SPEED = 600.0
LIMIT_PP = 0.1
ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")
RUNS = [("two_step_line", 1800.0, "machine_state"), ("bottling_line", 900.0, "machine_state"),
        ("assembly_line", 1800.0, "machine_state"), ("job_shop", 1800.0, "machine_state"),
        ("bottling_line", 900.0, "packml"), ("every_loss", 2400.0, "packml")]
"""(scenario, simulated seconds, state source): 1.5 to 4 wall seconds of pacing each, plus
server start-up and the scenario's own load (the bottling line's PLCs scan 5 machines at
1 s cycles)."""


EVERY_LOSS: dict[str, Any] = {
    "name": "every loss", "seed": 11, "horizon": "2h",
    "calendar": {"planned_downtime": [
        {"start": "8min", "duration": "4min", "every": "20min", "reason": "break"}]},
    "products": [{"id": "a", "family": "x", "routing": ["cell", "pack"]},
                 {"id": "b", "family": "y", "routing": ["cell", "pack"]}],
    "sources": [{"id": "feed", "interarrival": {"dist": "exponential", "mean": "45s"},
                 "product_mix": {"a": 0.5, "b": 0.5}}],
    "stations": [
        {"id": "cell", "process_time": {"dist": "exponential", "mean": "30s"}, "buffer": 4,
         "setups": {"default": "40s"},
         "microstops": {"every": {"dist": "exponential", "mean": "5min"}, "duration": "15s"},
         "failures": {"ttf": {"dist": "exponential", "mean": "10min"},
                      "ttr": {"dist": "exponential", "mean": "90s"}}},
        {"id": "pack", "servers": 2, "process_time": "50s", "buffer": 1}],
    "packml": {"acting_time": {
        "aborting": "1s", "clearing": "2s", "resetting": "1s", "starting": "3s",
        "holding": "500ms", "unholding": "500ms", "suspending": "300ms",
        "unsuspending": "400ms", "stopping": "2s"}},
}
"""Family setups, breakdowns and minor stops on the cell, starving and blocking the packers,
a 4 min break every 20 min from minute 8 (PDOT: the PackML source books Stopped by the stop
reason, so the PLC's StopReason must follow a break that begins while starved), and PackML
acting states that take time (the plant waits in the stop it leaves)."""


def _scenario(scenarios_dir: Path, stem: str) -> Scenario:
    scenario = (parse_scenario(EVERY_LOSS) if stem == "every_loss"
                else load_scenario(scenarios_dir / f"{stem}.yaml"))
    return scenario.model_copy(update={"warmup": 0.0})


def _truth(text: str) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[0]["type"] == "header"
    assert rows[-1] == {"type": "end", "lines": len(rows) - 1}
    return {r["machine"]: r for r in rows if r["type"] == "machine"}


def _errors_pp(run: WireRun, machine: str, truth: dict[str, Any]) -> dict[str, float]:
    """Per element (share of POT) and availability (APT / PBT): MES - truth in pp."""
    m = run.ledger.measurements(machine)
    mes = {"APT": m.time.apt, "ASUT": m.time.asut, "ADET": m.time.adet,
           "ADOT": m.time.adot, "PDOT": m.time.pdot}
    true = truth["elements"]
    errors = {k: 100 * (mes[k] - true[k]) / true["POT"] for k in ELEMENTS}
    mes_pbt = sum(mes[k] for k in ELEMENTS if k != "PDOT")
    errors["availability"] = 100 * (mes["APT"] / mes_pbt - true["APT"] / true["PBT"])
    return errors


def _assert_true_to_a_tenth(run: WireRun, text: str, stem: str, until: float,
                            caplog: pytest.LogCaptureFixture) -> None:
    """No gap flagged; per machine availability and every element within 0.1 pp of the
    truth file *text*, counts exact; the run had production and losses to time."""
    truth = _truth(text)
    assert sorted(truth) == sorted(run.ledger.units)
    assert run.collector.gaps == []
    assert not [r for r in caplog.records if "collection gap" in r.getMessage()]
    for machine, row in truth.items():
        assert row["elements"]["POT"] == pytest.approx(until)
        errors = _errors_pp(run, machine, row)
        assert max(abs(e) for e in errors.values()) <= LIMIT_PP, (machine, errors)
        q = run.ledger.measurements(machine).quantities
        assert (q.pq, q.gq, q.sq, q.rq) == tuple(row["counts"][k] for k in
                                                 ("PQ", "GQ", "SQ", "RQ")), machine
    produced = sum(r["counts"]["PQ"] for r in truth.values())
    stopped = sum(r["elements"]["PBT"] - r["elements"]["APT"] for r in truth.values())
    assert produced > 0
    assert stopped > 0  # the run had losses to time, not just production
    if stem == "every_loss":
        for element in ELEMENTS:  # every element was there to be timed
            assert sum(r["elements"][element] for r in truth.values()) > 60, element


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize(("stem", "until", "source"), RUNS)
def test_our_mes_over_opcua_at_600x_is_within_a_tenth_of_a_point(
        scenarios_dir: Path, stem: str, until: float, source: str,
        caplog: pytest.LogCaptureFixture) -> None:
    scenario = _scenario(scenarios_dir, stem)
    stream = io.StringIO()
    with caplog.at_level(logging.WARNING, logger="mestwin.mes_core.collection.collector"):
        run = asyncio.run(asyncio.wait_for(run_over_wire(
            scenario, "opcua", SPEED, until, retention=Retention.NONE, state_source=source,
            truth=stream), 80))
    _assert_true_to_a_tenth(run, stream.getvalue(), stem, until, caplog)


MODBUS_RUNS = [("two_step_line", 1800.0, SPEED), ("assembly_line", 1800.0, SPEED),
               ("job_shop", 1800.0, SPEED), ("bottling_line", 900.0, 150.0)]
"""(scenario, simulated seconds, speed) over Modbus. The bottling line runs at 150x: at
600x its plant, PLCs and server take the whole event loop (each Modbus request of the MES
waits for a 20 ms batch of the driver), a poll of its five machines takes over a second of
wall time, hundreds of state changes, and the state log of 64 is overrun (counted and
flagged, see tests/virtual_plc/test_modbus_state_log.py); at 150x a poll reads at most
about 42 records."""


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize(("stem", "until", "speed"), MODBUS_RUNS)
def test_our_mes_over_modbus_times_states_from_the_plcs_state_log(
        scenarios_dir: Path, stem: str, until: float, speed: float,
        caplog: pytest.LogCaptureFixture) -> None:
    """Polling every 50 ms of wall time (30 simulated s at 600x), the MES reads each PLC's
    state log (StateLog.Seq and the records since the last poll) instead of sampling the
    state: every state, however much shorter than a poll, is timed by its own record, so
    availability and every element are within 0.1 pp of the truth, no record is lost and
    no gap is flagged."""
    scenario = _scenario(scenarios_dir, stem)
    stream = io.StringIO()
    with caplog.at_level(logging.WARNING, logger="mestwin.mes_core.collection"):
        run = asyncio.run(asyncio.wait_for(run_over_wire(
            scenario, "modbus", speed, until, retention=Retention.NONE, truth=stream), 80))
    source = run.source
    assert isinstance(source, ModbusPollingSource)
    assert source.state_log is not None
    assert len(source.state_log.slots) == 64
    assert source.lost_state_records == 0
    assert not [r for r in caplog.records if "state log" in r.getMessage()]
    _assert_true_to_a_tenth(run, stream.getvalue(), stem, until, caplog)
