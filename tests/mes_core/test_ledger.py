"""The MES's live production ledger: quantities in the window and lineage per serial."""

from __future__ import annotations

from mestwin.mes_core.collection.events import Counted, StateInterval, UnitStarted
from mestwin.mes_core.ledger import ProductionLedger


def started(serial: str, lot: str = "", consumed: tuple[tuple[str, float, str], ...] = (),
            machine: str = "asm", time: float = 0.0) -> UnitStarted:
    return UnitStarted(machine, time, serial, "ctrl", lot, "", consumed)


def test_lineage_links_serials_to_what_they_consumed_through_every_level() -> None:
    """A controller made of a PCB serial (from PCB lot L-P) and screws lot L-S traces back to
    all three; the PCB, started earlier from its own raw lot L-R, to that lot."""
    ledger = ProductionLedger()
    ledger([started("PCB-1", lot="L-R", machine="smt"),
            started("C-1", consumed=(("PCB-1", 1.0, "L-P"), ("L-S", 4.0, "")))])
    assert ledger.trace("C-1") == {"PCB-1", "L-P", "L-R", "L-S"}
    assert ledger.trace("PCB-1") == {"L-R", "L-P"}


def test_a_unit_without_lot_or_components_keeps_no_lineage_entry() -> None:
    """Serials with nothing to trace cost no memory, however many the plant makes: the
    ledger stays flat on a line without lots (its trace is simply empty)."""
    ledger = ProductionLedger()
    ledger([started(f"S-{n}", machine="cut", time=float(n)) for n in range(10_000)])
    assert len(ledger.parents) == 0
    assert ledger.trace("S-17") == set()
    ledger([started("S-17", lot="L-1", machine="pack", time=20_000.0)])
    assert dict(ledger.parents) == {"S-17": {"L-1"}}


def test_counts_and_elements_fall_in_the_window_only() -> None:
    """Counts at t in [start, end) and the overlap of state intervals with the window."""
    ledger = ProductionLedger(start=100.0, end=200.0)
    ledger([Counted("cut", 99.0, 1, 0, 0, 0, "a", ""),
            Counted("cut", 100.0, 2, 1, 1, 0, "a", ""),
            Counted("cut", 200.0, 5, 0, 0, 0, "a", ""),
            StateInterval("cut", 50.0, 150.0, 6, "", "APT", None),
            StateInterval("cut", 150.0, 260.0, 4, "", "ADET", "breakdown")])
    m = ledger.measurements("cut")
    assert (m.quantities.pq, m.quantities.gq, m.quantities.sq) == (2, 1, 1)
    assert m.time.apt == 50.0
    assert m.time.adet == 50.0
