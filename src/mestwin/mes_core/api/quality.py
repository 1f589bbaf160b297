"""Specs, inspection results (with quality-gate stops), capability and NCRs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.orm import Session

from mestwin.mes_core import quality
from mestwin.mes_core.api.deps import Config, Db
from mestwin.mes_core.api.schemas import (
    CapabilityOut,
    InspectionIn,
    InspectionOut,
    NcrDispositionIn,
    NcrOut,
    SignedIn,
    SpecIn,
    SpecOut,
    StopOut,
)
from mestwin.mes_core.audit import utc
from mestwin.mes_core.genealogy import lot_by_code
from mestwin.mes_core.store import MaterialLot, NcrStatus, Nonconformance, QualitySpec
from mestwin.mes_core.store.checks import BIGINT_RANGE, INTEGER_RANGE

router = APIRouter(tags=["quality"])


def _spec_out(spec: QualitySpec) -> SpecOut:
    return SpecOut(id=spec.id, routing_operation_id=spec.routing_operation_id,
                   characteristic=spec.characteristic, lsl=spec.lsl, usl=spec.usl,
                   target=spec.target, unit=spec.unit)


def _ncr_out(db: Session, ncr: Nonconformance) -> NcrOut:
    lot = None if ncr.material_lot_id is None else db.get(MaterialLot, ncr.material_lot_id)
    return NcrOut(code=ncr.code, lot=None if lot is None else lot.code,
                  order_operation_id=ncr.order_operation_id, defect_code=ncr.defect_code,
                  description=ncr.description, quantity=ncr.quantity,
                  disposition=ncr.disposition, status=ncr.status, opened_by=ncr.opened_by,
                  opened_at=utc(ncr.opened_at))


@router.post("/specs", status_code=status.HTTP_201_CREATED, response_model=SpecOut)
def create_spec(body: SpecIn, db: Db) -> SpecOut:
    """Define LSL/USL/target of a characteristic at a routing operation."""
    spec = quality.add_spec(db, **body.model_dump())
    db.commit()
    return _spec_out(spec)


@router.get("/specs/{spec_id}/capability", response_model=CapabilityOut)
def get_capability(
    spec_id: Annotated[int, Path(ge=INTEGER_RANGE[0], le=INTEGER_RANGE[1])], db: Db,
    last: Annotated[int | None, Query(ge=2, le=BIGINT_RANGE[1])] = None,
) -> CapabilityOut:
    """Cp and Cpk of a spec over all its inspections or the *last* n."""
    c = quality.spec_capability(db, spec_id, last=last)
    return CapabilityOut(spec_id=spec_id, n=c.n, mean=c.mean, stdev=c.stdev, cp=c.cp, cpk=c.cpk)


@router.post("/inspections", status_code=status.HTTP_201_CREATED, response_model=InspectionOut)
def inspect(body: InspectionIn, db: Db, cfg: Config) -> InspectionOut:
    """Record a result; a failure opens an NCR and may stop the operation (*stop* says how)."""
    lot_id = None if body.lot is None else lot_by_code(db, body.lot).id
    outcome = quality.record_inspection(
        db, spec_id=body.spec_id, value=body.value, inspector=body.inspector,
        order_operation_id=body.order_operation_id, lot_id=lot_id, at=body.at,
    )
    db.commit()
    stop = outcome.stop
    if stop is not None and cfg.on_stop is not None:
        cfg.on_stop(stop)
    return InspectionOut(
        id=outcome.inspection.id, passed=outcome.passed,
        ncr=None if outcome.ncr is None else outcome.ncr.code,
        stop=None if stop is None else StopOut(
            gate_id=stop.gate_id, order=stop.order_code,
            order_operation_id=stop.order_operation_id, work_centre=stop.work_centre,
            work_unit=stop.work_unit, command=stop.command, reason=stop.reason),
    )


@router.get("/ncrs", response_model=list[NcrOut])
def list_ncrs(db: Db, status: NcrStatus | None = None, lot: str | None = None) -> list[NcrOut]:
    """Nonconformance records, optionally of one status and/or lot."""
    lot_id = None if lot is None else lot_by_code(db, lot).id
    return [_ncr_out(db, n) for n in quality.list_ncrs(db, status=status, lot_id=lot_id)]


@router.get("/ncrs/{code}", response_model=NcrOut)
def get_ncr(code: str, db: Db) -> NcrOut:
    """One NCR."""
    return _ncr_out(db, quality.get_ncr(db, code))


@router.post("/ncrs/{code}/disposition", response_model=NcrOut)
def disposition(code: str, body: NcrDispositionIn, db: Db) -> NcrOut:
    """Decide use-as-is, rework, scrap or return (audited); 409 on a closed NCR."""
    ncr = quality.disposition_ncr(db, code, body.disposition, who=body.who, why=body.why)
    db.commit()
    return _ncr_out(db, ncr)


@router.post("/ncrs/{code}/close", response_model=NcrOut)
def close(code: str, body: SignedIn, db: Db) -> NcrOut:
    """Close a dispositioned NCR (audited); 409 otherwise."""
    ncr = quality.close_ncr(db, code, who=body.who, why=body.why)
    db.commit()
    return _ncr_out(db, ncr)


