"""The closed loop over real sockets: plant and PLC servers paced in real time, the MES
collecting over OPC UA or Modbus TCP, all on 127.0.0.1.

:func:`run_over_wire` runs a scenario at a speed factor for a stretch of simulated time with
the MES connected through one transport, then stops the plant, lets the MES catch up, and
returns the loop so that :mod:`mestwin.sim.scoring` can compare what the MES saw with the
truth. It is what ``make demo`` and the wire acceptance tests run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

import simpy

from mestwin.mes_core.collection.collector import (
    COUNTERS,
    RECORDS,
    SEQ,
    TAG_PATHS,
    Collector,
    EventSink,
    tag_paths,
)
from mestwin.mes_core.collection.modbus import (
    STATE_LOG_SEQ,
    ModbusDevice,
    ModbusPollingSource,
    RecordFifo,
    RegisterTag,
    StateLog,
    StateSlot,
    state_log_slot,
)
from mestwin.mes_core.collection.opcua import OpcUaSource
from mestwin.mes_core.collection.reconcile import CHANGE_TIME, STATE_TIMES
from mestwin.mes_core.collection.source import TagSource
from mestwin.mes_core.collection.state_models import REASON, STATE
from mestwin.mes_core.ledger import ProductionLedger
from mestwin.plantmodels import Plant, Retention
from mestwin.sim.loop import ideal_cycle_times, make_plcs, mes_states, reason_codes
from mestwin.sim.naming import line_name
from mestwin.sim.realtime import RealtimeDriver
from mestwin.sim.scenario import Scenario, build_plant
from mestwin.sim.scoring import GenealogyTruth
from mestwin.sim.truth import TruthRecorder
from mestwin.virtual_plc.modbus_server import ModbusServer, ModbusSettings
from mestwin.virtual_plc.opcua_server import PlcOpcUaServer
from mestwin.virtual_plc.plc import START_DATETIME, VirtualPLC


@dataclass
class WireRun:
    """What a run over the wire leaves for scoring."""

    plant: Plant
    ledger: ProductionLedger
    collector: Collector
    source: TagSource
    until: float
    lag_p99_s: float
    genealogy: GenealogyTruth = field(default_factory=GenealogyTruth)
    """The true genealogy, fed by the event log as it went."""


MODBUS_STAMPS = {STATE: CHANGE_TIME, REASON: CHANGE_TIME}
"""Modbus has no time stamps: the MES dates the OEE state by the PLC's ``StateChangeTime``
read in the same poll (other tags by ``Diagnostics.SimTime``)."""


def modbus_tags(server: ModbusServer, paths: tuple[str, ...] = TAG_PATHS) -> list[RegisterTag]:
    """The MES's Modbus configuration for data collection of *paths*, from the server's
    register map (what an integrator types in from the vendor's manual)."""
    rank = {path: i for i, path in enumerate(("Diagnostics.SimTime", *paths))}
    tags = [RegisterTag(e.path, e.table, e.address, e.size, e.encoding)
            for e in server.map.entries if e.path in rank and not e.table.is_bit]
    return sorted(tags, key=lambda t: rank[t.path])


def modbus_fifo(tags: list[RegisterTag]) -> RecordFifo | None:
    """The genealogy FIFO among *tags* (None if the map lacks it), slot k as RECORDS[k]."""
    by_path = {t.path: t for t in tags}
    if SEQ not in by_path or any(path not in by_path for path in RECORDS):
        return None
    return RecordFifo(SEQ, tuple(by_path[path] for path in RECORDS))


def modbus_state_log(server: ModbusServer) -> tuple[StateLog | None, list[RegisterTag]]:
    """The state log in the server's map (None if it lacks one), with its tags: the MES
    reads it instead of sampling the state (slots as many as the map has)."""
    by_path = {e.path: RegisterTag(e.path, e.table, e.address, e.size, e.encoding)
               for e in server.map.entries if e.path is not None and not e.table.is_bit}
    slots: list[StateSlot] = []
    while all(path in by_path for path in state_log_slot(len(slots))):
        slots.append(StateSlot(*(by_path[path] for path in state_log_slot(len(slots)))))
    if STATE_LOG_SEQ not in by_path or not slots:
        return None, []
    log = StateLog(STATE_LOG_SEQ, tuple(slots), STATE, REASON, CHANGE_TIME)
    return log, [by_path[STATE_LOG_SEQ], *log.tags]


_SETTLE_PATHS = (*COUNTERS, *STATE_TIMES, CHANGE_TIME)


def _caught_up(collector: Collector, plcs: dict[str, VirtualPLC]) -> bool:
    """True when the MES has seen every PLC's final counters and state times."""
    for name, plc in plcs.items():
        machine = collector.machines.get(name)
        if machine is None:
            return False
        for path in _SETTLE_PATHS:
            seen = machine.acc.get(path) if path in COUNTERS else machine.image.get(path)
            if seen != plc.tags[path]:
                return False
    return True


async def _settle(source: TagSource, collector: Collector, plcs: dict[str, VirtualPLC],
                  timeout: float = 10.0) -> None:
    """After the plant stopped, wait until the MES has caught up with the PLCs' final
    values (a loaded machine delays the last publish), for at most *timeout* seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if isinstance(source, ModbusPollingSource):
            await source.poll()
        if _caught_up(collector, plcs):
            return
        await asyncio.sleep(0.05)


async def run_over_wire(scenario: Scenario, transport: str, speed: float, until: float,
                        scan_time_s: float = 0.1, retention: Retention = Retention.ALL,
                        events: TextIO | None = None, state_source: str = "machine_state",
                        truth: TextIO | None = None, queue_size: int = 1000,
                        sinks: Iterable[EventSink] = ()) -> WireRun:
    """Run *scenario* to simulated time *until* at *speed* x real time with the MES
    collecting over *transport* (``opcua`` or ``modbus``) from *state_source*
    (``machine_state`` or ``packml``); the event log keeps what *retention* says
    (*events*: the file for ``Retention.STREAM``); *truth*, if given, receives the ground
    truth over [0, *until*] (:mod:`mestwin.sim.truth`), the ledger's window. Over OPC UA
    every monitored item queues *queue_size* changes between publishes. *sinks* get the
    collector's events too."""
    env = simpy.Environment()
    plant = build_plant(scenario, env)
    plant.log.retain(retention, events)
    genealogy = GenealogyTruth()
    plant.log.listeners.append(genealogy.feed)
    recorder = None
    if truth is not None:
        recorder = TruthRecorder(plant, truth, scenario.name, scenario.seed, 0.0, until)
        recorder.attach(plant)
    plant.start()
    line = line_name(scenario.name)
    plcs = make_plcs(plant, line, scan_time_s)
    driver = RealtimeDriver(env, speed)
    ledger = ProductionLedger(0.0, until, ideal_cycle_times(plant))
    states = mes_states(state_source)
    paths = tag_paths(states)
    collector = Collector(reason_codes(), [ledger, *sinks],
                          heartbeat_timeout=50 * scan_time_s, states=states)
    source: TagSource
    if transport == "opcua":
        opcua = PlcOpcUaServer(list(plcs.values()), port=0, driver=driver,
                               publish_interval=0.02)
        await opcua.start()
        server: PlcOpcUaServer | ModbusServer = opcua
        source = OpcUaSource(opcua.endpoint, line, list(plcs), paths,
                             epoch=START_DATETIME, publishing_interval_ms=20,
                             queue_size=queue_size)
    elif transport == "modbus":
        modbus = ModbusServer(plcs, ModbusSettings(port=0))
        await modbus.start()
        server = modbus
        devices = [ModbusDevice(e.machine, e.host, e.port, e.unit_id) for e in modbus.endpoints]
        tags = modbus_tags(modbus, paths)
        state_log, log_tags = modbus_state_log(modbus)
        source = ModbusPollingSource(devices, [*tags, *log_tags], interval=0.05,
                                     fifo=modbus_fifo(tags), stamps=MODBUS_STAMPS,
                                     state_log=state_log)
    else:
        raise ValueError(f"unknown transport {transport!r}; expected opcua or modbus")
    source.subscribe(collector.on_batch)
    try:
        await source.start()
        await driver.run_until(until)
        plant.log.flush()
        await _settle(source, collector, plcs)
        collector.close(until)
        if recorder is not None:
            recorder.finish(until)
    finally:
        await source.stop()
        result = server.stop()
        if asyncio.iscoroutine(result):
            await result
    return WireRun(plant, ledger, collector, source, until, driver.lag_stats().p99,
                   genealogy)
