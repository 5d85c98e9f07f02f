"""A read whose consumer stops reading its output (`source-brightpearl read ... | head`, a destination that
dies) ends: the process exits 1 with one line saying why, instead of waiting for ever on the threads still
reading.

The CDK's reading threads hand records to the main thread through a bounded queue, and the thread making ID
sets waits while the bound on ID sets in flight is reached: once the main thread has left the read, nothing
empties the queue or takes an ID set, and the interpreter's exit waits for those threads
(`PartitionsInFlight.abandon`). A real `read` process against the mock, its stdout a pipe closed early.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder

from mock_server.testing import MockServer

# Orders and their rows: ten ID sets bringing 10,000 records, ten times what the queue holds.
ORDERS = 2000
STREAMS = ("orders", "order_rows")
RECORDS_READ_BEFORE_CLOSING = 5
# A request to the mock takes milliseconds: a thread under way ends within seconds.
EXIT_SECONDS = 30


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(orders=ORDERS, rate_limit=0) as server:
        yield server


def _read_command(mock: MockServer, tmp_path: Path) -> list[str]:
    catalog = CatalogBuilder()
    for name in STREAMS:
        catalog.with_stream(name, SyncMode.full_refresh)
    (tmp_path / "config.json").write_text(json.dumps(mock.connector_config()))
    (tmp_path / "catalog.json").write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog.build())))
    return [
        sys.executable,
        "-c",
        "from source_brightpearl.run import run; run()",
        "read",
        "--config",
        str(tmp_path / "config.json"),
        "--catalog",
        str(tmp_path / "catalog.json"),
    ]


def test_given_a_consumer_that_closes_the_output_early_when_read_then_the_process_exits_with_an_error(
    mock: MockServer, tmp_path: Path
):
    process = subprocess.Popen(_read_command(mock, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        records = 0
        for line in process.stdout:
            records += line.startswith(b'{"type":"RECORD"')
            if records == RECORDS_READ_BEFORE_CLOSING:
                break
        process.stdout.close()

        exit_code = process.wait(timeout=EXIT_SECONDS)
        errors = process.stderr.read().decode()
    finally:
        process.kill()

    assert records == RECORDS_READ_BEFORE_CLOSING
    assert exit_code == 1
    assert "the program reading its output closed it" in errors
    assert "Traceback" not in errors
