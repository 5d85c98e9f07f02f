"""PyAirbyte runs the connector offline, against the mock Brightpearl server, as the README's "Run it in Airbyte"
section shows: the installed `source-brightpearl` script (`get_source(..., local_executable=...)`), and the
manifest on the declarative runtime (`get_source(..., source_manifest=...)`, which injects the components.py
beside it; custom code needs `AIRBYTE_ENABLE_UNSAFE_CODE=true` there)."""

from __future__ import annotations

import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server.testing import MockServer

MOCK_ORDERS = 60
MANIFEST_PATH = Path(__file__).resolve().parent.parent / "source_brightpearl" / "manifest.yaml"


@pytest.fixture(scope="module")
def airbyte(monkeypatch_module):
    """PyAirbyte, imported only when these tests run (the import alone takes seconds)."""
    monkeypatch_module.setenv("AIRBYTE_OFFLINE_MODE", "1")  # no registry look-up, no telemetry
    monkeypatch_module.setenv("DO_NOT_TRACK", "1")
    monkeypatch_module.setenv("AIRBYTE_ENABLE_UNSAFE_CODE", "true")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return pytest.importorskip("airbyte", reason="PyAirbyte supports Python < 3.13 only")


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _connector_executable() -> str:
    beside = Path(sys.executable).with_name("source-brightpearl")
    found = str(beside) if beside.exists() else shutil.which("source-brightpearl")
    assert found, "source-brightpearl is not installed: pip install -e '.[dev]'"
    return found


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(orders=MOCK_ORDERS, rate_limit=0) as server:
        yield server


@pytest.fixture(scope="module")
def source(airbyte, mock: MockServer):
    return airbyte.get_source(
        "source-brightpearl", config=mock.connector_config(), local_executable=_connector_executable()
    )


def test_given_a_local_executable_when_pyairbyte_checks_then_the_connection_succeeds(source):
    source.check()  # raises on a failed connection status


def test_given_a_local_executable_when_pyairbyte_reads_orders_then_the_cache_holds_every_mock_order(
    airbyte, source, mock, tmp_path
):
    source.select_streams(["orders"])
    cache = airbyte.caches.DuckDBCache(db_path=tmp_path / "brightpearl.duckdb")
    result = source.read(cache=cache, force_full_refresh=True)

    assert len(result["orders"]) == mock.counts()["order"]


@pytest.fixture(scope="module")
def manifest_source(airbyte, mock: MockServer):
    return airbyte.get_source("source-brightpearl", config=mock.connector_config(), source_manifest=MANIFEST_PATH)


def test_given_the_manifest_when_pyairbyte_reads_orders_into_duckdb_then_the_cache_holds_every_mock_order(
    airbyte, manifest_source, mock, tmp_path
):
    manifest_source.select_streams(["orders"])
    cache = airbyte.caches.DuckDBCache(db_path=tmp_path / "brightpearl.duckdb")
    result = manifest_source.read(cache=cache, force_full_refresh=True)

    ids = [record["id"] for record in result["orders"]]
    assert len(ids) == len(set(ids)) == mock.counts()["order"]
