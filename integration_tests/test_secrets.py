"""Every command, with recognisable secrets, at debug level and on error paths: no secret in stdout or stderr.

The Airbyte platform's logs are the connector's stdout and stderr, so these two are everything a log holds.
The connector runs as the console entry point in a forked child (`unit_tests.builders.run_entry_point`, the
program without the CDK's import per run); the `oauth` helper as its own process.
A secret counts as leaked if it appears as is or URL-encoded (OAuth tokens hold `+ / =`) anywhere but in a
CONTROL message: that message is the config the platform saves after a token refresh, and carries the new
tokens by design. OAuth runs use tokens the mock issued through the real authorization-code flow, a
confidential app's client secret, and made-up tokens for the failure paths. The module prints the leak
count at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest

from mock_server.testing import MockServer, free_port
from unit_tests.builders import run_entry_point as run_connector

ACCOUNT_TOKEN = "secret-account-token-9e4b7c1d2a6f8e3b5d0c"
STAFF_TOKEN = "secret-staff-token-1f8a3e6c9b2d7a4e0c5b"
CLIENT_SECRET = "secret-oauth-client-secret-6d2a9f4e1c8b"
WRONG_CLIENT_SECRET = "secret-wrong-client-secret-3b7e0a5d9c1f"
DEAD_REFRESH_TOKEN = "secret+dead/refresh=token-8c1e4a7b2f9d"
UNKNOWN_ACCESS_TOKEN = "secret+unknown/access=token-2e9b6d0a4c7f"
SMALL_STREAMS = ["order_statuses", "warehouses", "price_lists"]
CONTROL_MESSAGE_START = '{"type":"CONTROL"'
BIN = Path(sys.executable).parent

RUNS: list[str] = []
LEAKS: list[str] = []


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(
        orders=20,
        extra_args=[
            "--account-token",
            ACCOUNT_TOKEN,
            "--staff-token",
            STAFF_TOKEN,
            "--client-secret",
            CLIENT_SECRET,
            "--oauth-auto-approve",
        ],
    ) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def leak_count(report_line):
    """Prints the secret leaks found over every run of this module (the assertions fail on the first)."""
    yield
    if RUNS:
        report_line(
            f"\nsecret leaks found: {len(LEAKS)} in {len(RUNS)} runs "
            "(stdout and stderr of every command, at debug level and on errors)"
        )


def config(api_domain: str, auth: str = "account_token", token: str = ACCOUNT_TOKEN) -> dict[str, Any]:
    return {
        "account_code": "acme",
        "api_domain": api_domain,
        "credentials": {"auth_type": auth, "app_ref": "acme-analytics", auth: token},
    }


def catalog(streams: list[str]) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            }
            for name in streams
        ]
    }


def issued_tokens(mock: MockServer) -> dict[str, str]:
    """An access and refresh token pair from the mock's authorization-code flow, and the code itself."""
    code, tokens = mock.authorization_code_grant(client_secret=CLIENT_SECRET)
    return {"code": code, "access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]}


def oauth_config(mock: MockServer, access_token: str, refresh_token: str, expires_in: timedelta) -> dict[str, Any]:
    expiry = (datetime.now(UTC) + expires_in).isoformat()
    return {
        "account_code": mock.account,
        "credentials": {
            "auth_type": "oauth",
            "client_id": mock.app_ref,
            "dev_ref": mock.dev_ref,
            "client_secret": CLIENT_SECRET,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "token_expiry_date": expiry,
            "api_domain": mock.base_url,
            "oauth_host": mock.base_url,
        },
    }


def fresh_oauth_config(mock: MockServer, expires_in: timedelta = timedelta(days=7)) -> dict[str, Any]:
    tokens = issued_tokens(mock)
    return oauth_config(mock, tokens["access_token"], tokens["refresh_token"], expires_in)


def secrets_of(config_: dict[str, Any]) -> list[str]:
    credentials = config_["credentials"]
    return [
        credentials[name]
        for name in ("account_token", "staff_token", "client_secret", "access_token", "refresh_token")
        if credentials.get(name)
    ]


def rotated_secrets(result: subprocess.CompletedProcess) -> list[str]:
    """The tokens a refresh produced, which only the CONTROL message may carry."""
    controls = [json.loads(line) for line in result.stdout.splitlines() if line.startswith(CONTROL_MESSAGE_START)]
    return [value for control in controls for value in secrets_of(control["control"]["connectorConfig"]["config"])]


def leaked(name: str, output: str, secrets: Iterable[str]) -> list[str]:
    """The secrets found in `output` outside CONTROL messages, as is or URL-encoded; counted for the summary."""
    logged = "\n".join(line for line in output.splitlines() if not line.startswith(CONTROL_MESSAGE_START))
    found = [
        secret
        for secret in set(secrets)
        if any(form in logged for form in {secret, quote(secret, safe=""), quote_plus(secret)})
    ]
    RUNS.append(name)
    LEAKS.extend(f"{name}: {secret[:12]}..." for secret in found)
    return found


def connector_leaks(name: str, result: subprocess.CompletedProcess, secrets: Iterable[str]) -> list[str]:
    return leaked(name, result.stdout + result.stderr, [*secrets, *rotated_secrets(result)])


def record_count(result: subprocess.CompletedProcess) -> int:
    return sum(1 for line in result.stdout.splitlines() if line.startswith('{"type":"RECORD"'))


def error_traces(result: subprocess.CompletedProcess) -> list[dict[str, Any]]:
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"type":"TRACE"')]
    return [message["trace"]["error"] for message in messages if message["trace"]["type"] == "ERROR"]


def connection_status(result: subprocess.CompletedProcess) -> str:
    return next(
        json.loads(line)["connectionStatus"]["status"]
        for line in result.stdout.splitlines()
        if line.startswith('{"type":"CONNECTION_STATUS"')
    )


PRIVATE_APP_CASES = {
    "spec": lambda mock: dict(args=("spec",)),
    "check, account token, debug": lambda mock: dict(args=("check", "--debug"), config=config(mock.base_url)),
    "check, staff token, debug": lambda mock: dict(
        args=("check", "--debug"), config=config(mock.base_url, "staff_token", STAFF_TOKEN)
    ),
    "discover, debug": lambda mock: dict(args=("discover", "--debug"), config=config(mock.base_url)),
    "check, rejected token (401), debug": lambda mock: dict(
        args=("check", "--debug"), config=config(mock.base_url, token=ACCOUNT_TOKEN[::-1])
    ),
    "read, rejected token (401), debug": lambda mock: dict(
        args=("read", "--debug"),
        config=config(mock.base_url, token=ACCOUNT_TOKEN[::-1]),
        catalog=catalog(SMALL_STREAMS[:1]),
    ),
    "check, unreachable host, debug": lambda mock: dict(args=("check", "--debug"), config=config("http://127.0.0.1:9")),
}


@pytest.mark.parametrize("name", PRIVATE_APP_CASES)
def test_given_private_app_secrets_when_command_runs_then_no_secret_in_stdout_or_stderr(tmp_path, mock, name):
    spec = PRIVATE_APP_CASES[name](mock)
    result = run_connector(tmp_path, *spec.pop("args"), **spec)
    assert connector_leaks(name, result, [ACCOUNT_TOKEN, STAFF_TOKEN, ACCOUNT_TOKEN[::-1]]) == []


def test_given_good_token_when_read_at_debug_then_records_arrive_and_no_secret_leaks(tmp_path, mock):
    result = run_connector(tmp_path, "read", "--debug", config=config(mock.base_url), catalog=catalog(SMALL_STREAMS))
    assert result.returncode == 0
    assert record_count(result) > 0
    assert connector_leaks("read, account token, debug", result, [ACCOUNT_TOKEN, STAFF_TOKEN]) == []


def oauth_helper_command(mock: MockServer, config_path: Path, oauth_host: str | None = None) -> list[str]:
    """`source-brightpearl oauth` for the mock's app, writing `config_path`, its token exchange through
    `oauth_host` (the mock itself by default) and its listener on a free loopback port."""
    return [
        str(BIN / "source-brightpearl"),
        "oauth",
        "--account-code",
        mock.account,
        "--client-id",
        mock.app_ref,
        "--dev-ref",
        mock.dev_ref,
        "--config",
        str(config_path),
        "--oauth-host",
        oauth_host or mock.base_url,
        "--redirect-uri",
        f"http://127.0.0.1:{free_port()}/callback",
        "--no-browser",
        "--timeout",
        "60",
    ]


def run_oauth_helper(
    mock: MockServer, config_path: Path, client_secret: str, oauth_host: str | None = None
) -> dict[str, Any]:
    """`oauth_helper_command` for a confidential app; the approval's redirect is followed by hand so the
    authorization code is known. Returns the helper's output, exit code and that code (empty if it
    printed no authorize URL)."""
    helper = subprocess.Popen(
        oauth_helper_command(mock, config_path, oauth_host),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BRIGHTPEARL_CLIENT_SECRET": client_secret},
    )
    code = ""
    try:
        first_lines = [helper.stdout.readline(), helper.stdout.readline()]
        if first_lines[1].strip().startswith("http"):
            location = mock.session.get(first_lines[1].strip(), allow_redirects=False).headers["location"]
            code = parse_qs(urlsplit(location).query)["code"][0]
            mock.session.get(location, timeout=30)
        rest, _ = helper.communicate(timeout=120)
    finally:
        if helper.poll() is None:
            helper.kill()
    return {"output": "".join(first_lines) + rest, "exit_code": helper.returncode, "code": code}


def test_given_a_confidential_app_when_the_oauth_helper_connects_then_no_code_token_or_secret_is_printed(
    tmp_path, mock
):
    config_path = tmp_path / "config.json"
    helper = run_oauth_helper(mock, config_path, CLIENT_SECRET)
    assert helper["exit_code"] == 0, helper["output"]
    written = json.loads(config_path.read_text())
    assert leaked("oauth helper", helper["output"], [helper["code"], *secrets_of(written)]) == []


def test_given_a_wrong_client_secret_when_the_oauth_helper_exchanges_the_code_then_neither_is_printed(tmp_path, mock):
    helper = run_oauth_helper(mock, tmp_path / "config.json", WRONG_CLIENT_SECRET)
    assert helper["exit_code"] == 1 and "invalid_client" in helper["output"]
    assert leaked("oauth helper, refused secret", helper["output"], [helper["code"], WRONG_CLIENT_SECRET]) == []


@pytest.mark.parametrize("command", ["check", "discover"])
def test_given_oauth_tokens_when_check_or_discover_at_debug_then_no_token_or_secret_leaks(tmp_path, mock, command):
    oauth = fresh_oauth_config(mock)
    result = run_connector(tmp_path, command, "--debug", config=oauth)
    assert result.returncode == 0 and error_traces(result) == []
    assert connector_leaks(f"{command}, oauth, debug", result, secrets_of(oauth)) == []


def test_given_the_stored_expiry_passed_when_read_at_debug_then_the_refresh_leaks_no_old_or_new_token(tmp_path, mock):
    oauth = fresh_oauth_config(mock, expires_in=timedelta(hours=-1))
    result = run_connector(tmp_path, "read", "--debug", config=oauth, catalog=catalog(SMALL_STREAMS))
    assert result.returncode == 0 and record_count(result) > 0
    assert rotated_secrets(result), "no refresh happened"
    assert connector_leaks("read, oauth refresh on expiry, debug", result, secrets_of(oauth)) == []


def test_given_a_401_token_expired_mid_sync_when_read_at_debug_then_the_refresh_leaks_no_token(tmp_path, mock):
    oauth = fresh_oauth_config(mock)
    mock.add_fault(kind="token_expired", count=1, after=1)
    try:
        result = run_connector(tmp_path, "read", "--debug", config=oauth, catalog=catalog(SMALL_STREAMS))
    finally:
        mock.clear_faults()
    assert result.returncode == 0 and record_count(result) > 0
    assert rotated_secrets(result), "no refresh happened"
    assert connector_leaks("read, oauth 401 expired then refresh, debug", result, secrets_of(oauth)) == []


@pytest.mark.parametrize("command", ["check", "read"])
def test_given_a_refused_refresh_token_when_command_runs_at_debug_then_the_config_error_leaks_no_token(
    tmp_path, mock, command
):
    oauth = oauth_config(mock, UNKNOWN_ACCESS_TOKEN, DEAD_REFRESH_TOKEN, expires_in=timedelta(hours=-1))
    extra = dict(catalog=catalog(SMALL_STREAMS[:1])) if command == "read" else {}
    result = run_connector(tmp_path, command, "--debug", config=oauth, **extra)
    if command == "check":
        assert connection_status(result) == "FAILED"
    else:
        assert [error["failure_type"] for error in error_traces(result)][-1:] == ["config_error"]
    assert "Re-authenticate" in result.stdout
    assert connector_leaks(f"{command}, oauth refresh refused, debug", result, secrets_of(oauth)) == []


@pytest.mark.parametrize("command", ["check", "read"])
def test_given_an_access_token_the_api_quotes_in_its_401_when_command_runs_at_debug_then_it_does_not_leak(
    tmp_path, mock, command
):
    """The API answers 401 "Invalid instance token: <the token sent>"; the connector must not repeat it."""
    oauth = oauth_config(mock, UNKNOWN_ACCESS_TOKEN, DEAD_REFRESH_TOKEN, expires_in=timedelta(days=7))
    extra = dict(catalog=catalog(SMALL_STREAMS[:1])) if command == "read" else {}
    result = run_connector(tmp_path, command, "--debug", config=oauth, **extra)
    assert result.returncode == (0 if command == "check" else 1)
    assert "rejected the OAuth access token" in result.stdout
    assert connector_leaks(f"{command}, oauth 401 quoting the token, debug", result, secrets_of(oauth)) == []
