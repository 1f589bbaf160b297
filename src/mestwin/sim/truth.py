"""``--truth FILE``: the ground truth of a run, in a documented, versioned JSON Lines format.

What an outside MES is scored against (``mestwin score``, docs/integrators.md "Ground truth
and scoring"). One JSON object per line, each with a ``type``:

* ``header`` (first line): ``format`` ``"mestwin-truth"``, ``version`` 1, the scenario, its
  seed, the scoring window ``warmup_s`` .. ``horizon_s`` and the machine ids.
* ``interval``: one machine was in one state from ``start`` to ``end`` (simulated seconds):
  the plant ``state``, ``machine_state`` (``Status.MachineState``), ``packml`` (the PackML
  ``StateCurrent`` the PLC drives to for it, virtual_plc ``MIRROR``), ``reason`` and
  ``reason_code`` (``Status.StateReason`` / ``Admin.StopReason.ID``, 0 while processing)
  and the ISO 22400-2 ``element`` it is booked to. Written when it ends; covers the whole run.
* ``unit``: a unit's direct parents: its release ``lot`` and what it ``consumed`` (lots or
  serials), with ``exit`` (the sink, ``scrap``, ``dropped``, or null if still in the plant).
* ``machine`` (after the intervals): per machine over the window, ``elements`` (APT, ASUT,
  ADET, ADOT, PDOT, PBT, POT, seconds), ``counts`` (PQ, GQ, SQ, RQ), ``ideal_time_s``
  (sum of PRU x PQ per product) and ``downtime_by_reason`` (reason code -> seconds of every
  state but processing).
* ``end`` (last line): the number of lines before it, so a cut file is detected.

Built from the event log's rows as they stream (a log listener): only the open interval
per machine and the links of the units still in the plant are held. It shares no code with
``mes_core``: the truth must not agree with the MES by construction. A run whose end is not
known when it starts (``mestwin serve`` without ``--until``) writes ``horizon_s`` null; its
intervals and machine lines end where it stopped. :func:`truth_so_far` gives the same
records for a run still going (the ``virtual_plant`` fixture's ``truth()``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any, TextIO

from mestwin.plantmodels import EventKind, Plant
from mestwin.plantmodels.states import TIME_ELEMENT, MachineState
from mestwin.sim.scenario import Scenario, build_plant
from mestwin.virtual_plc.packml import PACKML_NUMBERING
from mestwin.virtual_plc.plc import MIRROR
from mestwin.virtual_plc.tags import stop_reason

FORMAT, VERSION = "mestwin-truth", 1
ELEMENTS = ("APT", "ASUT", "ADET", "ADOT", "PDOT")
RELEASE, STATE, CONSUME = int(EventKind.RELEASE), int(EventKind.STATE), int(EventKind.CONSUME)
COMPLETE, EXIT, DROP = int(EventKind.COMPLETE), int(EventKind.EXIT), int(EventKind.DROP)
PROCESSING = int(MachineState.PROCESSING)


def wire_codes(state: int, reason: str) -> tuple[int, int]:
    """(PackML ``StateCurrent``, ``StateReason``) the PLC publishes for a plant state."""
    packml = MIRROR.get((state, reason), MIRROR.get((state, None)))
    code = 0 if state == PROCESSING else stop_reason(reason).id
    return (PACKML_NUMBERING.code(packml) if packml is not None else -1), code


class _Machine:
    """The open interval and the window's sums of one machine."""

    __slots__ = (
        "counts",
        "downtime",
        "elements",
        "id",
        "ideal",
        "pru",
        "reason",
        "serial",
        "since",
        "state",
    )

    def __init__(self, id: str, state: int, reason: str, since: float,
                 pru: dict[str, float]) -> None:
        self.id, self.state, self.reason, self.since = id, state, reason, since
        self.serial: str | None = None
        self.elements = [0.0] * 5
        self.counts = [0, 0, 0, 0]  # PQ, GQ, SQ, RQ
        self.ideal = 0.0
        self.downtime: dict[int, float] = {}
        self.pru = pru


class TruthRecorder:
    """Writes the truth file of *plant* to *stream* as its event log flushes.

    Attach before the run (:meth:`attach`), call :meth:`finish` at the horizon."""

    def __init__(self, plant: Plant, stream: TextIO, scenario: str, seed: int,
                 warmup: float, horizon: float | None) -> None:
        self.stream, self.warmup, self.horizon = stream, warmup, horizon
        now = float(plant.env.now)
        self.machines: dict[tuple[str, int], _Machine] = {}
        for station in plant.stations.values():
            pru = dict(station.ideal_cycle_time)
            for server in station.machines():
                self.machines[(station.id, server.index)] = _Machine(
                    server.id, int(server.state), str(server.reason), now, pru)
        self.holder: dict[tuple[str, str], _Machine] = {}
        """(station, serial) -> the machine working on it (for COMPLETE rows)."""
        self.parents: dict[str, tuple[str | None, list[str]]] = {}
        self.product: dict[str, str] = {}
        self.lines = 0
        self._write({"type": "header", "format": FORMAT, "version": VERSION,
                     "scenario": scenario, "seed": seed, "warmup_s": warmup,
                     "horizon_s": horizon,
                     "machines": [m.id for m in self.machines.values()]})

    def attach(self, plant: Plant) -> None:
        """Listen to *plant*'s event log."""
        plant.log.listeners.append(self.feed)

    def _write(self, obj: dict[str, Any]) -> None:
        self.stream.write(json.dumps(obj) + "\n")
        self.lines += 1

    def feed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Take the next rows of the event log, in order."""
        for row in rows:
            kind = row[1]
            if kind == STATE:
                machine = self.machines[(row[2], row[3])]
                self._close(machine, row[0])
                machine.state, machine.reason, machine.since = row[4], row[5], row[0]
                if machine.serial is not None:
                    self.holder.pop((row[2], machine.serial), None)
                machine.serial = row[6]
                if row[6] is not None:
                    self.holder[(row[2], row[6])] = machine
            elif kind == COMPLETE:
                self._complete(row)
            elif kind == RELEASE:
                self.parents[row[2]] = (row[4], [])
                self.product[row[2]] = row[3]
            elif kind == CONSUME:
                self.parents.setdefault(row[3], (None, []))[1].append(row[4])
                self.product.pop(row[4], None)
            elif kind == EXIT:
                self._leave(row[2], row[3])
            elif kind == DROP:
                self._leave(row[2], "dropped")

    def _complete(self, row: tuple[Any, ...]) -> None:
        machine = self.holder.get((row[2], row[3]))
        if machine is None or row[0] < self.warmup:
            return
        outcome = row[4]
        counts = machine.counts
        counts[0] += 1
        counts[1 if outcome == "good" else 2 if outcome == "scrap" else 3] += 1
        product = self.product.get(row[3], "")
        machine.ideal += machine.pru.get(product, machine.pru.get("*", 0.0))

    def _close(self, machine: _Machine, t: float) -> None:
        """Book the open interval of *machine* up to *t* (the window part) and write it."""
        start = machine.since
        if t > self.warmup:
            booked = t - (start if start > self.warmup else self.warmup)
            machine.elements[int(TIME_ELEMENT[machine.state])] += booked
            if machine.state != PROCESSING:
                code = wire_codes(machine.state, machine.reason)[1]
                machine.downtime[code] = machine.downtime.get(code, 0.0) + booked
        if t > start:
            packml, code = wire_codes(machine.state, machine.reason)
            self._write({"type": "interval", "machine": machine.id, "start": start,
                         "end": t, "state": MachineState(machine.state).name.lower(),
                         "machine_state": machine.state, "packml": packml,
                         "reason": machine.reason, "reason_code": code,
                         "element": ELEMENTS[TIME_ELEMENT[machine.state]]})

    def _leave(self, serial: str, exit: str | None) -> None:
        stack = [serial]
        while stack:
            unit = stack.pop()
            links = self.parents.pop(unit, None)
            self.product.pop(unit, None)
            if links is None:
                continue
            self._write({"type": "unit", "serial": unit, "lot": links[0],
                         "consumed": links[1], "exit": exit if unit == serial else "consumed"})
            stack.extend(links[1])

    def finish(self, t: float) -> None:
        """Close every interval at *t*, write the units still in the plant, the machines'
        sums and the end line."""
        for machine in self.machines.values():
            self._close(machine, t)
            machine.since = t
        for serial in list(self.parents):
            if serial in self.parents:
                self._leave(serial, None)
        for m in self.machines.values():
            apt, asut, adet, adot, pdot = m.elements
            pbt = apt + asut + adet + adot
            self._write({
                "type": "machine", "machine": m.id,
                "elements": {**dict(zip(ELEMENTS, m.elements, strict=True)),
                             "PBT": pbt, "POT": pbt + pdot},
                "counts": dict(zip(("PQ", "GQ", "SQ", "RQ"), m.counts, strict=True)),
                "ideal_time_s": m.ideal,
                "downtime_by_reason": {str(k): v for k, v in sorted(m.downtime.items())}})
        self._write({"type": "end", "lines": self.lines})


def truth_so_far(scenario: Scenario, rows: Iterable[tuple[Any, ...]],
                 now: float) -> list[dict[str, Any]]:
    """The truth file's records for a run of *scenario* whose event log so far is *rows*,
    as if it ended at *now*: open intervals closed at *now*, units still in the plant with
    exit null, machine lines over [warmup, now] (over [0, now] while the warm-up lasts, as
    the fixture's ``results()``). Replays the rows into a fresh recorder, so the run's own
    state is untouched."""
    warmup = scenario.warmup if now >= scenario.warmup else 0.0
    stream = io.StringIO()
    recorder = TruthRecorder(build_plant(scenario), stream, scenario.name, scenario.seed,
                             warmup, now)
    recorder.feed(rows)
    recorder.finish(now)
    return [json.loads(line) for line in stream.getvalue().splitlines()]
