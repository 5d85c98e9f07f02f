"""Syncs of a few streams against the mock by a real `source-brightpearl read` process that can be
SIGKILLed after any line it prints, and what the Airbyte platform would keep of each.

Importing the connector (the CDK, pydantic, requests) takes about 2.5 s of the ~4 s a
`source-brightpearl` process needs before its first request, and the fault matrix and
kill-and-resume tests start some forty of them. So each process is forked from a server that has
imported `source_brightpearl.run` once (multiprocessing's `forkserver`: a single-threaded process
that has run no connector code, so every fork starts clean) and then runs the console entry point
`run()` with the given arguments, its file descriptor 1 being a pipe read here line by line.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_server.testing import MockServer

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["source_brightpearl.run"])
TIMEOUT_SECONDS = 180

# The synced streams and their primary keys: a search -> ID-set GET stream with child rows read out
# of it (orders, order_rows), another ID-set GET service (contacts), rows read from a search alone
# (order_notes), rows of a full-refresh child (product_prices) and a single GET (warehouses).
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("id",),
    "order_rows": ("orderId", "rowId"),
    "contacts": ("contactId",),
    "order_notes": ("noteId",),
    "product_prices": ("productId", "priceListId"),
    "warehouses": ("id",),
}
INCREMENTAL = {"orders", "order_rows", "contacts", "order_notes"}
Keys = dict[str, set[tuple[Any, ...]]]


def catalog() -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "incremental" if name in INCREMENTAL else "full_refresh",
                "destination_sync_mode": "append_dedup" if name in INCREMENTAL else "overwrite",
                "primary_key": [[key] for key in keys],
            }
            for name, keys in PRIMARY_KEYS.items()
        ]
    }


def account_token_config(mock: MockServer) -> dict[str, Any]:
    # No lookback: a resumed sync must not lean on re-reading the last hour to find what it missed.
    return mock.connector_config(lookback_minutes=0)


def no_keys() -> Keys:
    return {name: set() for name in PRIMARY_KEYS}


@dataclass
class ConnectorRun:
    """What a run printed (every line up to the kill, if it was killed) and how it ended."""

    lines: list[str]
    exit_code: int | None
    killed: bool
    stderr: str
    messages: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.messages = [json.loads(line) for line in self.lines if line.startswith("{")]

    def of_type(self, message_type: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message["type"] == message_type]

    def errors(self) -> list[dict[str, Any]]:
        return [message["trace"]["error"] for message in self.of_type("TRACE") if message["trace"]["type"] == "ERROR"]

    def records(self) -> Keys:
        """The primary keys of every record printed, per stream."""
        keys = no_keys()
        for message in self.of_type("RECORD"):
            _add_key(keys, message["record"])
        return keys

    def committed_records(self) -> Keys:
        """The primary keys of the records a destination keeps: those followed by a state of their
        stream. A destination commits on state messages; anything after a stream's last one may be
        lost with the attempt."""
        committed, pending = no_keys(), no_keys()
        for message in self.messages:
            if message["type"] == "RECORD":
                _add_key(pending, message["record"])
            elif message["type"] == "STATE":
                name = message["state"]["stream"]["stream_descriptor"]["name"]
                committed[name] |= pending[name]
                pending[name] = set()
        return committed

    def carry_states(self, states: dict[str, Any]) -> dict[str, Any]:
        """`states` (per stream) updated with each stream's last state in this run, as the platform
        carries them into the next attempt."""
        carried = dict(states)
        for message in self.of_type("STATE"):
            stream = message["state"]["stream"]
            carried[stream["stream_descriptor"]["name"]] = stream["stream_state"]
        return carried


def _add_key(keys: Keys, record: Mapping[str, Any]) -> None:
    keys[record["stream"]].add(tuple(record["data"][key] for key in PRIMARY_KEYS[record["stream"]]))


def add_keys(into: Keys, more: Keys) -> None:
    for name, keys in more.items():
        into[name] |= keys


def missing_and_extra(clean: Keys, synced: Keys) -> dict[str, tuple[int, int]]:
    """Per stream whose keys differ from the clean sync's: (records missing, records not in it)."""
    return {
        name: (len(clean[name] - synced[name]), len(synced[name] - clean[name]))
        for name in PRIMARY_KEYS
        if clean[name] != synced[name]
    }


def read(
    work_dir: Path, config: Mapping[str, Any], states: dict[str, Any] | None = None, kill_after_lines: int | None = None
) -> ConnectorRun:
    """`source-brightpearl read` of the streams above, from per-stream `states` if given."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "config.json").write_text(json.dumps(config))
    (work_dir / "catalog.json").write_text(json.dumps(catalog()))
    args = ["read", "--config", str(work_dir / "config.json"), "--catalog", str(work_dir / "catalog.json")]
    if states:
        state_messages = [
            {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": state}}
            for name, state in states.items()
        ]
        (work_dir / "state.json").write_text(json.dumps(state_messages))
        args += ["--state", str(work_dir / "state.json")]
    return run_connector(work_dir, *args, kill_after_lines=kill_after_lines)


def _child(argv: list[str], stdout: Any, stderr_path: str) -> None:
    os.dup2(stdout.fileno(), 1)
    stdout.close()
    with open(stderr_path, "w") as stderr:
        os.dup2(stderr.fileno(), 2)
    sys.stdout = os.fdopen(1, "w", closefd=False)
    sys.stderr = os.fdopen(2, "w", closefd=False)
    sys.argv = ["source-brightpearl", *argv]
    from source_brightpearl.run import run

    run()


def run_connector(work_dir: Path, *args: str, kill_after_lines: int | None = None) -> ConnectorRun:
    """Runs `source-brightpearl ARGS` to its end, or SIGKILLs it once it has printed
    `kill_after_lines` lines (if it is still running); what it printed after those is never read,
    as if lost with it."""
    reader, writer = _CONTEXT.Pipe(duplex=False)
    stderr_path = work_dir / f"stderr-{os.urandom(4).hex()}.txt"
    process = _CONTEXT.Process(target=_child, args=(list(args), writer, str(stderr_path)), daemon=True)
    process.start()
    writer.close()
    lines: list[str] = []
    killed = False
    # A hung run ends the read loop below by closing the pipe.
    watchdog = threading.Timer(TIMEOUT_SECONDS, process.kill)
    watchdog.start()
    with os.fdopen(os.dup(reader.fileno()), "r", encoding="utf-8") as output:
        reader.close()
        for line in output:
            lines.append(line.rstrip("\n"))
            # A run that already ended printed all it had: nothing to kill, so it is read to its end.
            if kill_after_lines is not None and len(lines) >= kill_after_lines and process.is_alive():
                process.kill()
                killed = True
                break
    process.join()
    timed_out = not watchdog.is_alive()
    watchdog.cancel()
    if timed_out and not killed:
        raise TimeoutError(f"source-brightpearl {' '.join(args)} did not finish in {TIMEOUT_SECONDS} s")
    stderr = stderr_path.read_text() if stderr_path.exists() else ""
    return ConnectorRun(lines=lines, exit_code=process.exitcode, killed=killed, stderr=stderr)
