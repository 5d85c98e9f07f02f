"""The entrypoint writes each message as the CDK's would, records without serpyco's copy of their data, and
through an output that takes their lines as bytes in the CDK's print buffer's place."""

from __future__ import annotations

import logging
from collections import defaultdict

import orjson
import pytest
from airbyte_cdk.entrypoint import PRINT_BUFFER
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

from source_brightpearl import run
from source_brightpearl.run import (
    CDK_HANDLE_RECORD_COUNTS,
    CDK_MESSAGE_TO_STRING,
    BrightpearlEntrypoint,
    BrightpearlOutput,
)


def _line(message: AirbyteMessage) -> str:
    """The line `read` writes for a message: a record's comes as bytes with its newline, any other as text."""
    written = BrightpearlEntrypoint.airbyte_message_to_string(message)
    return written.decode() if isinstance(written, bytes) else f"{written}\n"


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

    assert _line(message) == f"{CDK_MESSAGE_TO_STRING(message)}\n"


def test_given_a_record_with_top_level_nulls_when_written_then_they_are_left_out_as_the_cdk_does() -> None:
    line = _line(_record({"id": 1, "ref": None, "inner": {"ref": None}}))

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
    assert _line(message) == f"{CDK_MESSAGE_TO_STRING(message)}\n"


def test_given_lines_text_and_logs_when_written_through_the_output_then_stdout_has_them_in_their_order(capfd) -> None:
    logger = logging.getLogger("airbyte")
    with BrightpearlOutput().in_place_of_print_buffer() as output:
        output.write_line(b'{"type":"RECORD","n":1}\n')
        output.write("text 2 \u2713\n")  # as print() writes, when sys.stdout is the output (pytest's stays its own)
        assert capfd.readouterr().out == ""  # held until the flush interval has passed, a log, or the end
        logger.info("log 3")
        output.write_line(b'{"type":"RECORD","n":4}\n')
    logger.info("log 5, after")

    lines = capfd.readouterr().out.splitlines()
    assert lines[:2] == ['{"type":"RECORD","n":1}', "text 2 \u2713"]
    assert orjson.loads(lines[2])["log"]["message"] == "log 3"
    assert lines[3] == '{"type":"RECORD","n":4}'
    # The CDK's print buffer again, after.
    assert orjson.loads(lines[4])["log"]["message"] == "log 5, after"
    assert any(getattr(handler, "stream", None) is PRINT_BUFFER for handler in logging.getLogger().handlers)


def test_given_more_lines_than_the_output_holds_when_written_then_they_go_out_before_the_flush_interval(
    capfd, monkeypatch
) -> None:
    monkeypatch.setattr(run, "OUTPUT_BUFFER_BYTES", 100)
    output = BrightpearlOutput()
    output.flush_interval = 3600.0
    lines = [b'{"type":"RECORD","n":%d,"pad":"%s"}\n' % (n, b"x" * 40) for n in range(5)]

    with output.in_place_of_print_buffer():
        for line in lines[:2]:
            output.write_line(line)
        written_at_the_cap = capfd.readouterr().out
        for line in lines[2:]:
            output.write_line(line)

    assert written_at_the_cap == (lines[0] + lines[1]).decode()
    assert capfd.readouterr().out == b"".join(lines[2:]).decode()


def _state(stream: str) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.STREAM,
            stream=AirbyteStreamState(
                stream_descriptor=StreamDescriptor(name=stream), stream_state=AirbyteStateBlob({"n": 1})
            ),
        ),
    )


def test_given_records_of_two_streams_when_counted_then_each_state_carries_the_cdks_count() -> None:
    def counted(handle) -> list[float]:
        messages = [_record({"id": 1}), _record({"id": 2}), _state("orders"), _record({"id": 3}), _state("orders")]
        messages[1].record.stream = "products"
        counts = defaultdict(float)
        handled = [handle(message, counts) for message in messages]
        return [message.state.sourceStats.recordCount for message in handled if message.type == Type.STATE]

    assert counted(BrightpearlEntrypoint.handle_record_counts) == counted(CDK_HANDLE_RECORD_COUNTS) == [1.0, 1.0]
