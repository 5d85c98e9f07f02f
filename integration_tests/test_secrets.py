"""Every command, with recognisable secrets, at debug level and on error paths: no secret in stdout or stderr.

The Airbyte platform's logs are the connector's stdout and stderr, so these two are everything a log holds.
"""

from __future__ import annotations

import subprocess
from typing import Any, Dict, List

import pytest

from integration_tests.conftest import run_connector
from mock_server.testing import MockServer

ACCOUNT_TOKEN = "secret-account-token-9e4b7c1d2a6f8e3b5d0c"
STAFF_TOKEN = "secret-staff-token-1f8a3e6c9b2d7a4e0c5b"
SECRETS = [ACCOUNT_TOKEN, STAFF_TOKEN]
SMALL_STREAMS = ["order_statuses", "warehouses", "price_lists"]


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(orders=20, extra_args=["--account-token", ACCOUNT_TOKEN, "--staff-token", STAFF_TOKEN]) as server:
        yield server


def config(api_domain: str, auth: str = "account_token", token: str = ACCOUNT_TOKEN) -> Dict[str, Any]:
    return {"account_code": "acme", "api_domain": api_domain,
            "credentials": {"auth_type": auth, "app_ref": "acme-analytics", auth: token}}


def catalog(streams: List[str]) -> Dict[str, Any]:
    return {"streams": [{"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                         "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"} for name in streams]}


def leaked(result: subprocess.CompletedProcess, secrets: List[str] = SECRETS) -> List[str]:
    return [secret for secret in secrets if secret in result.stdout or secret in result.stderr]


def record_count(result: subprocess.CompletedProcess) -> int:
    return sum(1 for line in result.stdout.splitlines() if line.startswith('{"type":"RECORD"'))


CASES = {
    "spec": lambda mock: dict(args=("spec",)),
    "check, account token, debug": lambda mock: dict(args=("check", "--debug"), config=config(mock.base_url)),
    "check, staff token, debug": lambda mock: dict(
        args=("check", "--debug"), config=config(mock.base_url, "staff_token", STAFF_TOKEN)),
    "discover, debug": lambda mock: dict(args=("discover", "--debug"), config=config(mock.base_url)),
    "check, rejected token (401), debug": lambda mock: dict(
        args=("check", "--debug"), config=config(mock.base_url, token=ACCOUNT_TOKEN[::-1])),
    "read, rejected token (401), debug": lambda mock: dict(
        args=("read", "--debug"), config=config(mock.base_url, token=ACCOUNT_TOKEN[::-1]),
        catalog=catalog(SMALL_STREAMS[:1])),
    "check, unreachable host, debug": lambda mock: dict(
        args=("check", "--debug"), config=config("http://127.0.0.1:9")),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_given_recognisable_secrets_when_command_runs_then_no_secret_in_stdout_or_stderr(tmp_path, mock, case):
    spec = case(mock)
    result = run_connector(tmp_path, *spec.pop("args"), **spec)
    secrets = SECRETS + [ACCOUNT_TOKEN[::-1]]
    assert leaked(result, secrets) == []


def test_given_good_token_when_read_at_debug_then_records_arrive_and_no_secret_leaks(tmp_path, mock):
    result = run_connector(tmp_path, "read", "--debug", config=config(mock.base_url), catalog=catalog(SMALL_STREAMS))
    assert result.returncode == 0
    assert record_count(result) > 0
    assert leaked(result) == []
