"""The manifest and components.py, unchanged, on Airbyte's declarative runtime, against the mock Brightpearl server.

Each runtime runs as Airbyte runs it, in a subprocess: `source-declarative-manifest` with the files given by path
(the local layout) or inside the config (injected, as the Connector Builder and Cloud send them), and the
Connector Builder's backend (`python -m airbyte_cdk.connector_builder.main`). Custom code on the runtime needs
`AIRBYTE_ENABLE_UNSAFE_CODE=true`, as on a self-managed Airbyte that allows it.
"""

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration_tests.conftest import messages, run_connector
from mock_server.testing import MockServer

# The fewest orders with which every stream has records (a goods-in note needs about 30).
MOCK_ORDERS = 30
PACKAGE_DIR = Path(__file__).resolve().parent.parent / "source_brightpearl"
MANIFEST_PATH = PACKAGE_DIR / "manifest.yaml"
COMPONENTS_PATH = PACKAGE_DIR / "components.py"
RUNTIME_ENV = {**os.environ, "AIRBYTE_ENABLE_UNSAFE_CODE": "true"}
BUILDER_STREAM = "orders"
# Fields a stream stamps with the time of the read (`now_utc()` in the manifest): two reads differ there.
READ_TIME_FIELDS = {"product_availability_changes": "readOn"}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(orders=MOCK_ORDERS, rate_limit=0) as server:
        yield server


@pytest.fixture(scope="module")
def package_read(mock: MockServer, tmp_path_factory) -> dict[str, Any]:
    """The package's discover and full read of every stream, which each runtime's answers are compared with."""
    tmp_path = tmp_path_factory.mktemp("package")
    discovered = run_connector(tmp_path, "discover", config=mock.connector_config())
    streams = messages(discovered, "CATALOG")[0]["catalog"]["streams"]
    catalog = {
        "streams": [
            {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for stream in streams
        ]
    }
    result = run_connector(tmp_path, "read", config=mock.connector_config(), catalog=catalog)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"catalog": catalog, "records": _records_by_stream(result)}


def _records_by_stream(result: subprocess.CompletedProcess) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {}
    for message in messages(result, "RECORD"):
        records.setdefault(message["record"]["stream"], []).append(message["record"]["data"])
    return records


def _run_runtime(tmp_path: Path, command: list[str], config: dict[str, Any], catalog: dict[str, Any]) -> Any:
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    files = ["--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")]
    # From an empty directory: nothing there can stand in for the files passed.
    return subprocess.run(
        [*command, *files], capture_output=True, text=True, timeout=300, env=RUNTIME_ENV, cwd=tmp_path
    )


def _runtime_read(tmp_path: Path, config: dict[str, Any], catalog: dict[str, Any], *args: str) -> Any:
    result = _run_runtime(
        tmp_path, [str(_beside_python("source-declarative-manifest")), "read", *args], config, catalog
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _beside_python(script: str) -> Path:
    path = Path(sys.executable).with_name(script)
    assert path.exists(), f"{script} is not installed: pip install -e '.[dev]'"
    return path


def _injected(config: dict[str, Any]) -> dict[str, Any]:
    """`config` carrying the manifest and components.py the way the Connector Builder and Cloud send them."""
    components = COMPONENTS_PATH.read_text()
    return {
        **config,
        "__injected_declarative_manifest": yaml.safe_load(MANIFEST_PATH.read_text()),
        "__injected_components_py": components,
        "__injected_components_py_checksums": {"md5": hashlib.md5(components.encode()).hexdigest()},
    }


def _by_primary_key(
    records: list[dict[str, Any]], primary_key: list[list[str]], read_time_field: str | None
) -> dict[tuple, dict[str, Any]]:
    keyed: dict[tuple, dict[str, Any]] = {}
    for record in records:
        key = tuple(_at(record, path) for path in primary_key)
        assert key not in keyed, f"primary key {key} delivered twice"
        keyed[key] = {field: value for field, value in record.items() if field != read_time_field}
    return keyed


def _at(record: dict[str, Any], path: list[str]) -> Any:
    for field in path:
        record = record[field]
    return record


def _assert_same_records(
    package: dict[str, Any], runtime_records: dict[str, list[dict[str, Any]]], mode: str, report_line
):
    lines = [f"records per stream, package vs declarative runtime ({mode}):"]
    for configured in package["catalog"]["streams"]:
        name, primary_key = configured["stream"]["name"], configured["stream"]["source_defined_primary_key"]
        package_records, runtime_stream = package["records"].get(name, []), runtime_records.get(name, [])
        lines.append(f"  {name}: {len(package_records)} vs {len(runtime_stream)}")
        assert package_records, f"{name}: the mock has no records for it, so the comparison would prove nothing"
        read_time_field = READ_TIME_FIELDS.get(name)
        assert _by_primary_key(runtime_stream, primary_key, read_time_field) == _by_primary_key(
            package_records, primary_key, read_time_field
        ), name
    report_line("\n".join(lines))


def test_given_the_local_layout_when_the_runtime_reads_every_stream_then_its_records_equal_the_packages(
    mock, package_read, tmp_path, report_line
):
    result = _runtime_read(
        tmp_path,
        mock.connector_config(),
        package_read["catalog"],
        "--manifest-path",
        str(MANIFEST_PATH),
        "--components-path",
        str(COMPONENTS_PATH),
    )

    _assert_same_records(package_read, _records_by_stream(result), "local layout", report_line)


def test_given_the_manifest_and_components_injected_when_the_runtime_reads_every_stream_then_its_records_equal_the_packages(
    mock, package_read, tmp_path, report_line
):
    result = _runtime_read(tmp_path, _injected(mock.connector_config()), package_read["catalog"])

    _assert_same_records(package_read, _records_by_stream(result), "injected", report_line)


def _builder_request(tmp_path: Path, command: str, config: dict[str, Any], catalog: dict[str, Any]) -> dict[str, Any]:
    result = _run_runtime(
        tmp_path,
        [sys.executable, "-m", "airbyte_cdk.connector_builder.main", "read"],
        {**_injected(config), "__command": command},
        catalog,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (answer,) = messages(result, "RECORD")
    return answer["record"]["data"]


def test_given_the_builder_backend_when_it_resolves_the_manifest_then_it_lists_every_stream_the_package_discovers(
    mock, package_read, tmp_path
):
    answer = _builder_request(tmp_path, "resolve_manifest", mock.connector_config(), package_read["catalog"])

    resolved = {stream["name"] for stream in answer["manifest"]["streams"]}
    assert resolved == {configured["stream"]["name"] for configured in package_read["catalog"]["streams"]}


def test_given_the_builder_backend_when_it_test_reads_orders_then_it_answers_with_the_mock_orders(
    mock, package_read, tmp_path
):
    catalog = {
        "streams": [
            configured
            for configured in package_read["catalog"]["streams"]
            if configured["stream"]["name"] == BUILDER_STREAM
        ]
    }

    answer = _builder_request(tmp_path, "test_read", mock.connector_config(), catalog)

    records = [record for page_slice in answer["slices"] for page in page_slice["pages"] for record in page["records"]]
    assert not answer["logs"] or all(log["level"] != "ERROR" for log in answer["logs"]), answer["logs"]
    assert sorted(record["id"] for record in records) == sorted(
        record["id"] for record in package_read["records"][BUILDER_STREAM]
    )
