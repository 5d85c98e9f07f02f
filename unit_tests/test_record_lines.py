"""The entrypoint writes each message as the CDK's would, records without serpyco's copy of their data."""

from __future__ import annotations

import pytest
from airbyte_cdk.models import (
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    Level,
    StreamDescriptor,
    Type,
)

from source_brightpearl.run import CDK_MESSAGE_TO_STRING, BrightpearlEntrypoint


def _record(data: dict, **fields) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.RECORD, record=AirbyteRecordMessage(stream="orders", data=data, emitted_at=1764590000123, **fields)
    )


RECORDS = {
    "nulls at the top and inside": {"id": 7, "ref": None, "parties": {"customer": None, "tags": [None, 1]}},
    "numbers, text and nesting": {
        "id": 2**63 - 1,
        "total": 12.5,
        "ratio": 1e-9,
        "name": 'Zoë \u2028 "quoted" \\ ✓',
        "rows": [{"qty": 1, "sku": "A-1"}, {"qty": 0, "sku": ""}],
        "flags": [True, False],
        "empty": {},
    },
    "nothing but nulls": {"a": None},
    "an int beyond 64 bits": {"id": 2**70},
}


@pytest.mark.parametrize("data", RECORDS.values(), ids=RECORDS.keys())
def test_given_a_record_when_written_then_the_line_is_the_cdks(data: dict) -> None:
    message = _record(data)

    assert BrightpearlEntrypoint.airbyte_message_to_string(message) == CDK_MESSAGE_TO_STRING(message)


def test_given_a_record_with_top_level_nulls_when_written_then_they_are_left_out_as_the_cdk_does() -> None:
    line = BrightpearlEntrypoint.airbyte_message_to_string(_record({"id": 1, "ref": None, "inner": {"ref": None}}))

    assert '"ref":null' in line
    assert line.count("null") == 1


@pytest.mark.parametrize(
    "message",
    [
        _record({"id": 1}, namespace="shop"),
        AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.WARN, message="careful")),
        AirbyteMessage(
            type=Type.STATE,
            state=AirbyteStateMessage(
                type=AirbyteStateType.STREAM,
                stream=AirbyteStreamState(
                    stream_descriptor=StreamDescriptor(name="orders"),
                    stream_state=AirbyteStateBlob({"updatedOn": "2026-11-30T10:00:00.000Z"}),
                ),
            ),
        ),
    ],
    ids=["a record with a namespace", "a log", "a state"],
)
def test_given_any_other_message_when_written_then_it_is_the_cdks_line(message: AirbyteMessage) -> None:
    assert BrightpearlEntrypoint.airbyte_message_to_string(message) == CDK_MESSAGE_TO_STRING(message)
