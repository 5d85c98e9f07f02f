"""Console entry point `source-brightpearl` (spec | check | discover | read | oauth)."""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import json
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

import orjson
from airbyte_cdk.entrypoint import PRINT_BUFFER, AirbyteEntrypoint
from airbyte_cdk.exception_handler import init_uncaught_exception_handler
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteMessageSerializer,
    ConnectorSpecification,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.sources.connector_state_manager import HashableStreamDescriptor
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils import PrintBuffer
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_brightpearl import oauth_cli
from source_brightpearl.components import config_error
from source_brightpearl.config_errors import check_config_against_spec
from source_brightpearl.source import SourceBrightpearl

CONTROL_MESSAGE_START = '{"type":"CONTROL"'
# What stdout holds before it writes out, whatever the flush interval: the CDK's buffer held 0.1 s of records, about
# 15 MB of the peak of a read of orders and their rows (a few hundred lines at a time here; bench/PROFILE.md).
OUTPUT_BUFFER_BYTES = 2**20
# New dicts and lists between two collections of the youngest generation (Python's default is 700): a body of
# 200 orders parsed is about 8,000.
OBJECTS_BETWEEN_YOUNG_COLLECTIONS = 20_000
# Blocks of this size and more get a mapping of their own, given back to the system when freed: orjson's buffer
# for parsing an ID-set body (about 12 times the body: 10 MB for 200 orders), and little else a read makes.
OWN_MAPPING_FROM_BYTES = 4 * 2**20
# <malloc.h>'s M_MMAP_THRESHOLD; setting it also stops glibc raising the threshold as blocks are freed.
M_MMAP_THRESHOLD = -3
CATALOG_HINT = (
    "Build it from discover's output: each entry needs `stream` (name, json_schema, supported_sync_modes), "
    "`sync_mode` (full_refresh or incremental) and `destination_sync_mode`."
)


class BrightpearlEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint, checking the config against the spec with messages that name the
    field (`check_config_against_spec`) instead of the CDK's, which name only the value, and writing
    records without the CDK's intermediate copies of each (`airbyte_message_to_string`)."""

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        connector_config, _ = split_config(config)
        check_config_against_spec(connector_config, source_spec.connectionSpecification)

    @staticmethod
    def handle_record_counts(
        message: AirbyteMessage, stream_message_count: defaultdict[HashableStreamDescriptor, float]
    ) -> AirbyteMessage:
        """The CDK's count of each stream's records, which its next state message carries, kept under one key per
        stream: the CDK makes and hashes a new descriptor (a frozen dataclass) for each record, on the main thread."""
        record = message.record
        if message.type == Type.RECORD and record is not None:
            stream_message_count[_stream_key(record.stream, record.namespace)] += 1.0
            return message
        return CDK_HANDLE_RECORD_COUNTS(message, stream_message_count)

    @staticmethod
    def airbyte_message_to_string(airbyte_message: AirbyteMessage) -> str | bytes:
        """The line the CDK writes for a message; a plain record's as bytes, its newline included, which
        BrightpearlOutput takes as they are. The CDK turns each message into plain data with serpyco first,
        which copies every record's data on the main thread, where all records pass (a third of its time per
        record, bench/PROFILE.md); a plain record gives the same line from orjson alone. serpyco leaves out a
        record's top-level nulls (not nested ones): so does this."""
        record = airbyte_message.record
        if (
            airbyte_message.type == Type.RECORD
            and record.namespace is None
            and record.meta is None
            and record.file_reference is None
        ):
            data = record.data
            if None in data.values():
                data = {key: value for key, value in data.items() if value is not None}
            with suppress(TypeError):  # what orjson cannot write (an int beyond 64 bits): the CDK's way
                return orjson.dumps(
                    {
                        "type": "RECORD",
                        "record": {"stream": record.stream, "data": data, "emitted_at": record.emitted_at},
                    },
                    option=orjson.OPT_APPEND_NEWLINE,
                )
        return CDK_MESSAGE_TO_STRING(airbyte_message)


class BrightpearlOutput(PrintBuffer):
    """stdout as the CDK's print buffer makes it (`PRINT_BUFFER`: what the main thread writes and what any
    thread logs, in the order written, out every 0.1 s), that also takes a line as bytes (`write_line`), and
    holds at most OUTPUT_BUFFER_BYTES.

    The CDK's buffer takes text only, so each record's line, which orjson makes as bytes, was decoded, copied
    into its StringIO, copied out and encoded again: 2 us of the main thread's time per record, where every
    record passes (bench/PROFILE.md). Text is encoded as stdout encodes it.
    """

    def __init__(self) -> None:
        super().__init__(flush_interval=PRINT_BUFFER.flush_interval)
        self._pending = bytearray()

    def write(self, message: str) -> None:
        self.write_line(message.encode(sys.__stdout__.encoding, sys.__stdout__.errors))

    def write_line(self, line: bytes) -> None:
        with self.lock:
            self._pending += line
            now = time.monotonic()
            if now - self.last_flush_time >= self.flush_interval or len(self._pending) >= OUTPUT_BUFFER_BYTES:
                self.flush()
                self.last_flush_time = now

    def flush(self) -> None:
        with self.lock:
            sys.__stdout__.flush()  # what went to the text stream around this buffer first
            sys.__stdout__.buffer.write(self._pending)
            sys.__stdout__.buffer.flush()
            self._pending.clear()

    @contextmanager
    def in_place_of_print_buffer(self) -> Iterator[BrightpearlOutput]:
        """stdout, stderr and the CDK's log handler (whose stream is its print buffer) write here meanwhile."""
        handlers = [
            handler for handler in logging.getLogger().handlers if getattr(handler, "stream", None) is PRINT_BUFFER
        ]
        for handler in handlers:
            handler.setStream(self)
        try:
            with self:
                yield self
        finally:
            for handler in handlers:
                handler.setStream(PRINT_BUFFER)


# The CDK's `run` writes each command's messages through `AirbyteEntrypoint.airbyte_message_to_string` by
# name, not through the entrypoint it runs on; `_launch` puts this entrypoint's in its place.
CDK_MESSAGE_TO_STRING = AirbyteEntrypoint.airbyte_message_to_string
CDK_HANDLE_RECORD_COUNTS = AirbyteEntrypoint.handle_record_counts
_stream_key = functools.lru_cache(maxsize=None)(HashableStreamDescriptor)


class _StdoutSavingRotatedTokens:
    """stdout that also saves the tokens of CONNECTOR_CONFIG control messages into the --config file.

    The CDK prints a rotated refresh token only as a CONTROL message (one `write()` per message) and
    does not rewrite the config file; the Airbyte platform persists the message, but a command-line
    or cron run would otherwise start next time with a refresh token Brightpearl has retired.
    """

    def __init__(self, stream: TextIO, config_path: Path):
        self._stream = stream
        self._config_path = config_path

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if text.startswith(CONTROL_MESSAGE_START):
            message = orjson.loads(text)
            connector_config = (message["control"].get("connectorConfig") or {}).get("config")
            if connector_config:
                try:
                    oauth_cli.save_rotated_tokens(self._config_path, connector_config)
                except (OSError, ValueError) as error:
                    reason = error.strerror if isinstance(error, OSError) else "it no longer holds a JSON config"
                    print(
                        f"source-brightpearl: could not save the new OAuth tokens to {self._config_path}: "
                        f"{reason}; keep the CONTROL message's config instead.",
                        file=sys.stderr,
                    )
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run() -> None:
    args = sys.argv[1:]
    if args[:1] == ["oauth"]:
        sys.exit(oauth_cli.main(args[1:]))
    # Real bugs, from here on: a FATAL log with the traceback and a system_error TRACE message.
    init_uncaught_exception_handler(logging.getLogger("airbyte"))
    parsed_args = AirbyteEntrypoint.parse_args(args or ["--help"])
    try:
        config = _read_input(
            SourceBrightpearl.read_config,
            parsed_args,
            "config",
            "It must hold one JSON object, like the example config in the README.",
        )
        source = SourceBrightpearl(
            catalog=_read_input(SourceBrightpearl.read_catalog, parsed_args, "catalog", CATALOG_HINT),
            config=config,
            state=_read_input(
                SourceBrightpearl.read_state,
                parsed_args,
                "state",
                "Pass the STATE messages of the last read as a JSON list, or no --state for a full sync.",
            ),
            config_path=getattr(parsed_args, "config", None),
        )
        _collect_less_during_the_command()
        _give_parse_buffers_back()
        _launch(source, parsed_args, config)
    except AirbyteTracedException as error:
        if error.failure_type != FailureType.config_error:
            raise
        sys.exit(_report_config_error(parsed_args.command, error))
    except BrokenPipeError:
        sys.exit(_report_closed_output())


def _collect_less_during_the_command() -> None:
    """Python's garbage collector, tuned for a process that makes some 130,000 long-lived objects at start
    (the CDK's modules and models, the built source), then records by the million, which hold no cycles.
    With the defaults it took a sixth of a read's CPU (bench/PROFILE.md): it walked the young objects every
    700 dicts or lists made, so an ID-set body being parsed was walked again and again and moved to the
    oldest generation, and that generation's collections walked everything made at start too. What is made
    at start is frozen here (never walked again, nor freed: it lives to the exit anyway), and the young
    objects are walked less often."""
    gc.freeze()
    gc.set_threshold(OBJECTS_BETWEEN_YOUNG_COLLECTIONS, *gc.get_threshold()[1:])


def _give_parse_buffers_back() -> None:
    """glibc's malloc raises its mmap threshold to the largest block freed, so after the first ID-set body
    parsed, each later parse buffer is cut from the reading thread's heap, and the pages it touched stay
    resident, with the other blocks that heap holds around them: 10 MB of a read's peak at 100k orders, and
    more the longer the read (bench/PROFILE.md). A fixed threshold gives each buffer its own mapping, freed
    with it. Not glibc (musl, macOS): nothing to do."""
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return
    if glibc:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, OWN_MAPPING_FROM_BYTES)


def _read_input(reader: Callable[[str], Any], parsed_args: argparse.Namespace, kind: str, hint: str) -> Any:
    """The --config, --catalog or --state file, or a config error naming the file and what is wrong."""
    path = getattr(parsed_args, kind, None)
    if not path:
        return None
    try:
        return reader(path)
    except OSError as error:
        raise config_error(f"Cannot read the {kind} file {path}: {error.strerror}.") from None
    except ValueError as error:
        raise config_error(f"The {kind} file {path} is not valid: {_reason(error)}. {hint}") from None


def _reason(error: ValueError) -> str:
    """What is wrong with a file the CDK could not load, without the CDK's wording around it."""
    if isinstance(error.__context__, json.JSONDecodeError):
        decode_error = error.__context__
        return f"it is not JSON ({decode_error.msg} at line {decode_error.lineno}, column {decode_error.colno})"
    # serpyco's catalog and state errors list each problem with its place in the file.
    problems = [
        f"{problem.instance_path or '(top level)'}: {problem.message}" for problem in getattr(error, "errors", [])
    ]
    return "; ".join(problems) or "it holds JSON, but not a JSON object"


def _launch(source: SourceBrightpearl, parsed_args: argparse.Namespace, config: Mapping[str, Any] | None) -> None:
    """The CDK's `launch` with this connector's entrypoint and output; for OAuth configs stdout is wrapped
    inside the output (which replaces sys.stdout) to save rotated tokens."""
    entrypoint = BrightpearlEntrypoint(source)
    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(BrightpearlEntrypoint.airbyte_message_to_string)
    with BrightpearlOutput().in_place_of_print_buffer() as output:
        if _uses_oauth(config):
            sys.stdout = _StdoutSavingRotatedTokens(sys.stdout, Path(parsed_args.config))
        try:
            for message in entrypoint.run(parsed_args):
                if isinstance(message, bytes):  # a record's line: no CONTROL message to save tokens from
                    output.write_line(message)
                else:
                    # One write per message (`print` makes a second one, of its empty `end`, on the buffer's lock).
                    sys.stdout.write(f"{message}\n")
        finally:
            # Whatever ends the loop (a closed stdout, an error), the read's threads end with it: the exception's
            # traceback may keep the read's generator, and with it its own `finally`, alive past the exit.
            source.abandon_read()


def _report_closed_output() -> int:
    """stdout closed by the program reading it (`| head`, a destination that stopped): one line on stderr, which
    the CDK's print buffer had taken over, and exit 1. Anything still buffered for stdout goes to /dev/null,
    where Python's own flush at exit would fail the same way again."""
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
    print(
        "source-brightpearl: the program reading its output closed it, so the command stopped; "
        "what it read is not complete.",
        file=sys.stderr,
    )
    return 1


def _uses_oauth(config: Mapping[str, Any] | None) -> bool:
    credentials = (config or {}).get("credentials")
    return isinstance(credentials, Mapping) and credentials.get("auth_type") == "oauth"


def _report_config_error(command: str, error: AirbyteTracedException) -> int:
    """One message and the exit code Airbyte expects: `check` reports a FAILED status and exits 0;
    the other commands a config_error TRACE without a stack trace (nothing in the code to debug)
    and exit 1."""
    if command == "check":
        message = AirbyteMessage(
            type=Type.CONNECTION_STATUS,
            connectionStatus=AirbyteConnectionStatus(status=Status.FAILED, message=str(error)),
        )
        exit_code = 0
    else:
        message = error.as_airbyte_message()
        message.trace.error.stack_trace = None
        exit_code = 1
    print(filter_secrets(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode()))
    return exit_code
