"""spec / check / discover / read through the real `source-brightpearl` entry point, against the mock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest

from integration_tests.conftest import ACCOUNT_TOKEN, APP_REF, STAFF_TOKEN, MockBrightpearl

STREAMS = ["orders", "order_rows", "products", "contacts", "warehouses", "order_statuses"]
MOCK_COUNT_KEYS = {"orders": "order", "products": "product", "contacts": "contact",
                   "warehouses": "warehouse", "order_statuses": "order-status"}


def run_connector(tmp_path: Path, *args: str, config: Dict[str, Any] | None = None,
                  catalog: Dict[str, Any] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from source_brightpearl.run import run; run()", *args]
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
        command += ["--config", str(tmp_path / "config.json")]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        command += ["--catalog", str(tmp_path / "catalog.json")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def messages(result: subprocess.CompletedProcess, message_type: str) -> List[Dict[str, Any]]:
    parsed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [message for message in parsed if message["type"] == message_type]


@pytest.fixture(scope="module")
def full_read(mock_brightpearl: MockBrightpearl, tmp_path_factory) -> Dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("read")
    discovered = run_connector(tmp_path, "discover", config=mock_brightpearl.config())
    catalog = messages(discovered, "CATALOG")[0]["catalog"]
    configured = {"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                              for stream in catalog["streams"]]}
    mock_brightpearl.control("stats", method="DELETE")
    result = run_connector(tmp_path, "read", config=mock_brightpearl.config(), catalog=configured)
    stats = mock_brightpearl.control("stats")
    records: Dict[str, List[Dict[str, Any]]] = {name: [] for name in STREAMS}
    for message in messages(result, "RECORD"):
        records[message["record"]["stream"]].append(message["record"]["data"])
    return {"result": result, "catalog": catalog, "records": records, "stats": stats}


def test_when_spec_then_one_spec_message_and_exit_0(tmp_path):
    result = run_connector(tmp_path, "spec")
    assert result.returncode == 0
    assert messages(result, "SPEC")[0]["spec"]["connectionSpecification"]["required"] == ["account_code", "credentials"]


@pytest.mark.parametrize("credentials", [
    {"auth_type": "account_token", "app_ref": APP_REF, "account_token": ACCOUNT_TOKEN},
    {"auth_type": "staff_token", "app_ref": APP_REF, "staff_token": STAFF_TOKEN},
])
def test_given_valid_credentials_when_check_then_succeeded(mock_brightpearl, tmp_path, credentials):
    result = run_connector(tmp_path, "check", config=mock_brightpearl.config(credentials=credentials))
    assert result.returncode == 0
    assert messages(result, "CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize("overrides, expected", [
    ({"account_code": "nobody"}, "no account 'nobody'"),
    ({"credentials": {"auth_type": "account_token", "app_ref": APP_REF, "account_token": "wrong-token-123456"}},
     "rejected the credentials"),
])
def test_given_wrong_account_or_token_when_check_then_failed_with_actionable_message(
        mock_brightpearl, tmp_path, overrides, expected):
    result = run_connector(tmp_path, "check", config=mock_brightpearl.config(**overrides))
    status = messages(result, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert result.returncode == 0
    assert status["status"] == "FAILED" and expected in status["message"]
    assert "Traceback" not in status["message"]
    assert "wrong-token-123456" not in result.stdout + result.stderr


def test_given_unreachable_host_when_check_then_failed_quickly_naming_the_host(mock_brightpearl, tmp_path):
    config = mock_brightpearl.config(api_domain="http://127.0.0.1:9")
    result = run_connector(tmp_path, "check", config=config)
    status = messages(result, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert status["message"].startswith("Could not connect to http://127.0.0.1:9")


def test_given_http_to_non_loopback_host_when_discover_then_config_error_and_exit_1(mock_brightpearl, tmp_path):
    result = run_connector(tmp_path, "discover", config=mock_brightpearl.config(api_domain="http://example.com"))
    errors = messages(result, "TRACE")
    assert result.returncode == 1
    assert errors[-1]["trace"]["error"]["failure_type"] == "config_error"
    assert "api_domain" in errors[-1]["trace"]["error"]["message"]


def test_when_discover_then_every_stream_has_its_primary_key(full_read):
    keys = {stream["name"]: stream["source_defined_primary_key"] for stream in full_read["catalog"]["streams"]}
    assert keys == {"orders": [["id"]], "order_rows": [["orderId"], ["rowId"]], "products": [["id"]],
                    "contacts": [["contactId"]], "warehouses": [["id"]], "order_statuses": [["statusId"]]}


def test_when_read_then_exit_0_without_errors(full_read):
    assert full_read["result"].returncode == 0
    assert [m for m in messages(full_read["result"], "TRACE") if m["trace"]["type"] == "ERROR"] == []


@pytest.mark.parametrize("stream", sorted(MOCK_COUNT_KEYS))
def test_when_read_then_record_count_equals_what_the_mock_holds(mock_brightpearl, full_read, stream):
    expected = mock_brightpearl.control("health")["counts"][MOCK_COUNT_KEYS[stream]]
    records = full_read["records"][stream]
    assert len(records) == expected
    primary_key = full_read["catalog"]["streams"][STREAMS.index(stream)]["source_defined_primary_key"][0][0]
    assert len({record[primary_key] for record in records}) == expected


def test_when_read_then_order_rows_are_the_rows_of_every_order(full_read):
    rows_in_orders = {(order["id"], row["rowId"]) for order in full_read["records"]["orders"]
                      for row in order["orderRows"]}
    order_rows = [(row["orderId"], row["rowId"]) for row in full_read["records"]["order_rows"]]
    assert len(order_rows) == len(set(order_rows)) == len(rows_in_orders)
    assert set(order_rows) == rows_in_orders


@pytest.mark.parametrize("stream", STREAMS)
def test_when_read_then_every_record_validates_against_its_stream_schema(full_read, stream):
    schema = next(s["json_schema"] for s in full_read["catalog"]["streams"] if s["name"] == stream)
    validator = jsonschema.Draft7Validator(schema)
    for record in full_read["records"][stream]:
        validator.validate(record)


def test_when_read_then_orders_are_fetched_once_in_id_sets_of_at_most_200(mock_brightpearl, full_read):
    routes = full_read["stats"]["routes"]
    order_gets = sum(routes["GET order-service/order/{ids}"].values())
    expected_batches = -(-mock_brightpearl.control("health")["counts"]["order"] // 200)
    assert order_gets == expected_batches


def test_when_read_then_no_secret_appears_in_output(full_read):
    output = full_read["result"].stdout + full_read["result"].stderr
    assert ACCOUNT_TOKEN not in output
