"""The tag table, its value rules and the stop-reason taxonomy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mestwin.virtual_plc.tag_values import TagValues
from mestwin.virtual_plc.tags import (
    STOP_REASONS,
    TAG_BY_PATH,
    TAGS,
    Access,
    DataType,
    Group,
    LossCategory,
    check_value,
    stop_reason,
    stop_reason_by_id,
    tags_in,
)

REQUIRED = {
    "PackTags.Command.UnitMode": DataType.INT32,
    "PackTags.Command.UnitModeChangeRequest": DataType.BOOLEAN,
    "PackTags.Command.MachSpeed": DataType.FLOAT,
    "PackTags.Command.CntrlCmd": DataType.INT32,
    "PackTags.Command.CmdChangeRequest": DataType.BOOLEAN,
    "PackTags.Command.WorkOrder": DataType.STRING,
    "PackTags.Command.StopReasonAck": DataType.BOOLEAN,
    "PackTags.Status.UnitModeCurrent": DataType.INT32,
    "PackTags.Status.StateCurrent": DataType.INT32,
    "PackTags.Status.StateRequested": DataType.INT32,
    "PackTags.Status.StateChangeInProcess": DataType.BOOLEAN,
    "PackTags.Status.MachSpeed": DataType.FLOAT,
    "PackTags.Status.CurMachSpeed": DataType.FLOAT,
    "PackTags.Status.EquipmentInterlock.Blocked": DataType.BOOLEAN,
    "PackTags.Status.EquipmentInterlock.Starved": DataType.BOOLEAN,
    "PackTags.Status.Heartbeat": DataType.UINT32,
    "PackTags.Status.CurrentWorkOrder": DataType.STRING,
    "PackTags.Status.CurrentLot": DataType.STRING,
    "PackTags.Status.CurrentSerial": DataType.STRING,
    "PackTags.Admin.ProdProcessedCount[0].ID": DataType.INT32,
    "PackTags.Admin.ProdProcessedCount[0].Count": DataType.INT32,
    "PackTags.Admin.ProdProcessedCount[0].AccCount": DataType.UINT32,
    "PackTags.Admin.ProdDefectiveCount[0].Count": DataType.INT32,
    "PackTags.Admin.ProdDefectiveCount[0].AccCount": DataType.UINT32,
    "PackTags.Admin.ProdConsumedCount[0].Count": DataType.INT32,
    "PackTags.Admin.ProdConsumedCount[0].AccCount": DataType.UINT32,
    "PackTags.Admin.StopReason.ID": DataType.INT32,
    "PackTags.Admin.StopReason.Value": DataType.INT32,
    "PackTags.Admin.StopReason.Message": DataType.STRING,
    "PackTags.Admin.StopReason.Category": DataType.INT32,
    "PackTags.Admin.AlarmExtent": DataType.INT32,
    "PackTags.Admin.Alarm[0].ID": DataType.INT32,
    "PackTags.Admin.Alarm[0].Value": DataType.INT32,
    "PackTags.Admin.Alarm[0].Message": DataType.STRING,
    "PackTags.Admin.StateCurrentTime": DataType.DOUBLE,
    "PackTags.Admin.StateCumulativeTime": DataType.DOUBLE,
    "PackTags.Admin.ModeCumulativeTime": DataType.DOUBLE,
    "PackTags.Admin.AccTimeSinceReset": DataType.DOUBLE,
    "PackTags.Admin.MachDesignSpeed": DataType.FLOAT,
    "PackTags.Admin.PACDateTime": DataType.DATETIME,
    "Diagnostics.Heartbeat": DataType.UINT32,
    "Diagnostics.ScanCount": DataType.UINT32,
    "Diagnostics.SimTime": DataType.DOUBLE,
    "Diagnostics.SpeedFactor": DataType.FLOAT,
    "MachineryItemState.CurrentState": DataType.STRING,
}


def test_the_table_has_the_tags_mes_code_reads() -> None:
    """Every PackTag the issue names exists with its data type."""
    for path, data_type in REQUIRED.items():
        assert TAG_BY_PATH[path].data_type is data_type, path


def test_paths_are_unique_and_grouped() -> None:
    """Paths are unique, and a tag's path starts with its group's folder."""
    assert len({spec.path for spec in TAGS}) == len(TAGS)
    for spec in TAGS:
        assert spec.group.value in spec.path.split("."), spec.path
        assert spec in tags_in(spec.group)


def test_only_commands_are_writable() -> None:
    """Clients may write the Command group and nothing else."""
    for spec in TAGS:
        assert spec.writable is (spec.group is Group.COMMAND), spec.path
        assert (spec.access is Access.READ_WRITE) is spec.writable


def test_strings_have_a_length() -> None:
    """Every String tag says how long it may be (this sizes its Modbus registers)."""
    for spec in TAGS:
        assert (spec.length > 0) is (spec.data_type is DataType.STRING), spec.path


def test_values_are_checked_against_the_data_type() -> None:
    """check_value converts what fits, and refuses the wrong kind (TypeError) or a value out
    of range (ValueError); a bool is not an integer."""
    cmd = TAG_BY_PATH["PackTags.Command.CntrlCmd"]
    speed = TAG_BY_PATH["PackTags.Command.MachSpeed"]
    flag = TAG_BY_PATH["PackTags.Command.CmdChangeRequest"]
    order = TAG_BY_PATH["PackTags.Command.WorkOrder"]
    clock = TAG_BY_PATH["PackTags.Admin.PACDateTime"]
    acc = TAG_BY_PATH["PackTags.Admin.ProdProcessedCount[0].AccCount"]
    assert check_value(cmd, 3) == 3
    assert check_value(speed, 60) == 60.0
    assert isinstance(check_value(speed, 60), float)
    assert check_value(flag, True) is True
    for spec, bad in [(cmd, "3"), (cmd, 3.0), (cmd, True), (flag, 1), (speed, "fast"),
                      (order, 12), (clock, 0)]:
        with pytest.raises(TypeError):
            check_value(spec, bad)
    for spec, bad in [(cmd, 2**31), (acc, -1), (acc, 2**32), (order, "x" * 33),
                      (clock, datetime(2025, 1, 1))]:
        with pytest.raises(ValueError):  # noqa: PT011 - each message is specific
            check_value(spec, bad)
    assert check_value(clock, datetime(2025, 1, 1, tzinfo=UTC)).tzinfo is UTC  # type: ignore[union-attr]


def test_defaults_have_the_tag_types() -> None:
    """Before the first scan every tag holds a valid value of its own type."""
    values = TagValues()
    for spec in TAGS:
        assert check_value(spec, values[spec.path]) == values[spec.path]


def test_stop_reason_taxonomy_covers_the_six_big_losses() -> None:
    """Codes are unique; each of the six big losses, planned and external has a code."""
    assert len({code.id for code in STOP_REASONS}) == len(STOP_REASONS)
    assert len({code.reason for code in STOP_REASONS}) == len(STOP_REASONS)
    categories = {code.category for code in STOP_REASONS}
    assert categories == set(LossCategory)


@pytest.mark.parametrize(("reason", "category"), [
    ("breakdown", LossCategory.BREAKDOWN), ("minor_stop", LossCategory.MINOR_STOP),
    ("setup", LossCategory.SETUP_ADJUSTMENT), ("starved", LossCategory.EXTERNAL),
    ("blocked", LossCategory.EXTERNAL), ("planned", LossCategory.PLANNED),
    ("break", LossCategory.PLANNED), ("operator_stop", LossCategory.PLANNED),
    ("reduced_speed", LossCategory.REDUCED_SPEED), ("startup_reject",
                                                    LossCategory.STARTUP_REJECTS),
    ("defect", LossCategory.DEFECTS_REWORK),
])
def test_plant_reasons_map_to_their_loss(reason: str, category: LossCategory) -> None:
    """The reason strings the plant model uses get their own code and loss category."""
    code = stop_reason(reason)
    assert code.reason == reason
    assert code.category is category
    assert stop_reason_by_id(code.id) is code


def test_unknown_reasons_get_the_unclassified_code() -> None:
    """A reason the taxonomy lacks maps to code 99 rather than failing."""
    assert stop_reason("cosmic_ray").id == 99
    with pytest.raises(KeyError):
        stop_reason_by_id(12345)
