"""Bad configs, catalogs and state files through the real entry point: one actionable message, the
exit code Airbyte expects (check: a FAILED status and exit 0; discover and read: one config_error
TRACE and a non-zero exit), and no traceback anywhere.

Each run is the console entry point in a forked child (`unit_tests.builders.start_entry_point`), so
it is the command-line program without paying the CDK's import per run; a config's check and discover
run side by side, and the bundled manifest is resolved and validated once, in the parent (see
`manifest_resolved_once_per_content` in unit_tests/conftest.py).
No mock server: every input here must be refused before the first request (the API domain is a
loopback port where nothing listens), except a token Brightpearl rejects, whose one call `responses`
answers. The module prints "bad inputs handled / tried" at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import responses

from unit_tests.builders import finish_entry_point, start_entry_point

LOOPBACK_DOWN = "http://127.0.0.1:9"
ACCOUNT_TOKEN = "bad-input-account-token-3c8e1f0a9b7d"
NUMERIC_TOKEN = 918273645546372819


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def of_type(self, message_type: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message["type"] == message_type]

    @property
    def error_traces(self) -> list[dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]


@dataclass(frozen=True)
class BadInput:
    files: tuple[tuple[str, str | None], ...]  # (--config/--catalog/--state, text); None: no such file
    words: tuple[str, ...]  # what the one message must name: the field, value or file


def start_with_files(directory: Path, command: str, files: tuple[tuple[str, str | None], ...]) -> int:
    """Starts `source-brightpearl <command> --config ...` on the given file texts; returns the child's pid."""
    directory.mkdir(parents=True, exist_ok=True)
    argv = [command]
    for kind, text in files:
        path = directory / f"{kind}.json"
        if text is not None:
            path.write_text(text)
        argv += [f"--{kind}", str(path)]
    return start_entry_point(directory, argv)


def outcome_of(directory: Path, pid: int) -> Outcome:
    finished = finish_entry_point(directory, pid)
    return Outcome(finished.returncode, finished.stdout, finished.stderr)


def good_config() -> dict[str, Any]:
    return {
        "account_code": "acme",
        "api_domain": LOOPBACK_DOWN,
        "credentials": {"auth_type": "account_token", "app_ref": "acme-analytics", "account_token": ACCOUNT_TOKEN},
    }


def config_input(config: Any, *words: str) -> BadInput:
    return BadInput(files=(("config", json.dumps(config)),), words=words)


def with_fields(**fields: Any) -> dict[str, Any]:
    return {**good_config(), **fields}


def with_credentials(**credentials: Any) -> dict[str, Any]:
    return with_fields(credentials=credentials)


def without(field: str) -> dict[str, Any]:
    config = good_config()
    del config[field]
    return config


BAD_CONFIGS = {
    "config file missing": BadInput(files=(("config", None),), words=("config.json", "No such file")),
    "config file not JSON": BadInput(
        files=(("config", '{"account_code": "acme",'),), words=("config.json", "not JSON")
    ),
    "config file a JSON list": BadInput(files=(("config", "[]"),), words=("config.json", "not a JSON object")),
    "account_code missing": config_input(without("account_code"), "'account_code'", "missing"),
    "credentials missing": config_input(without("credentials"), "'credentials'", "missing"),
    "account_code empty": config_input(with_fields(account_code=""), "'account_code'", "empty"),
    "account_code not a string": config_input(with_fields(account_code=42), "'account_code'", "a string", "42"),
    "account_code with a slash": config_input(with_fields(account_code="acme/x"), "'account_code'", "acme/x"),
    "unknown datacenter": config_input(
        with_fields(datacenter="eu.example.com"), "'datacenter'", "eu.example.com", "euw1.brightpearlconnect.com"
    ),
    "non-loopback http api_domain": config_input(
        with_fields(api_domain="http://evil.example.com"), "api_domain", "https"
    ),
    "api_domain with a path": config_input(with_fields(api_domain="https://proxy.example.com/x/y"), "api_domain"),
    "api_domain ftp scheme": config_input(with_fields(api_domain="ftp://proxy.example.com"), "api_domain"),
    "api_domain a number": config_input(with_fields(api_domain=8787), "'api_domain'", "a string"),
    "api_domain with a backslash before the loopback host": config_input(
        with_fields(api_domain="http://attacker.example.com\\@127.0.0.1"), "api_domain", "backslash"
    ),
    "api_domain with a user and password": config_input(
        with_fields(api_domain=f"https://proxy-user:{ACCOUNT_TOKEN}@proxy.example.com"),
        "api_domain",
        "password",
        "'https://***@proxy.example.com'",
    ),
    "api_domain with a %-escaped host": config_input(
        with_fields(api_domain="https://ex%61mple.com"), "api_domain", "plainly"
    ),
    "api_domain with a query": config_input(
        with_fields(api_domain="https://proxy.example.com?to=elsewhere"), "api_domain", "query"
    ),
    "start_date not a date": config_input(with_fields(start_date="yesterday"), "'start_date'", "yesterday"),
    "start_date without a time": config_input(
        with_fields(start_date="2024-01-01"), "'start_date'", "YYYY-MM-DDTHH:mm:ssZ"
    ),
    "start_date 30 February": config_input(with_fields(start_date="2024-02-30T00:00:00Z"), "start_date"),
    "start_date year 0001": config_input(
        with_fields(start_date="0001-01-01T00:00:00Z"), "start_date", "accepted range", "2000-01-01"
    ),
    "start_date year 9999": config_input(
        with_fields(start_date="9999-12-31T23:59:59Z"), "start_date", "accepted range", "now"
    ),
    "start_date a number": config_input(with_fields(start_date=20240101), "'start_date'", "a string"),
    "lookback_minutes negative": config_input(
        with_fields(lookback_minutes=-5), "'lookback_minutes'", "at least 0", "-5"
    ),
    "lookback_minutes above a week": config_input(
        with_fields(lookback_minutes=100000), "'lookback_minutes'", "at most 10080"
    ),
    "lookback_minutes a string": config_input(
        with_fields(lookback_minutes="sixty"), "'lookback_minutes'", "whole number", "sixty"
    ),
    "lookback_minutes a fraction": config_input(
        with_fields(lookback_minutes=1.5), "'lookback_minutes'", "whole number"
    ),
    "rate_limit_reserve negative": config_input(
        with_fields(rate_limit_reserve=-1), "'rate_limit_reserve'", "at least 0"
    ),
    "rate_limit_reserve above the limit": config_input(
        with_fields(rate_limit_reserve=500), "'rate_limit_reserve'", "at most 190"
    ),
    "rate_limit_reserve a string": config_input(
        with_fields(rate_limit_reserve="lots"), "'rate_limit_reserve'", "whole number"
    ),
    "credentials not an object": config_input(with_fields(credentials=ACCOUNT_TOKEN), "'credentials'", "an object"),
    "auth_type missing": config_input(
        with_credentials(app_ref="acme-analytics", account_token=ACCOUNT_TOKEN),
        "'credentials.auth_type'",
        "account_token",
        "oauth",
    ),
    "unknown auth_type": config_input(
        with_credentials(auth_type="password", app_ref="a", password="p"),
        "'credentials.auth_type'",
        "password",
        "staff_token",
    ),
    "account token missing": config_input(
        with_credentials(auth_type="account_token", app_ref="acme-analytics"), "'credentials.account_token'", "missing"
    ),
    "account token empty": config_input(
        with_credentials(auth_type="account_token", app_ref="acme-analytics", account_token=""),
        "'credentials.account_token'",
        "empty",
    ),
    "account token of spaces and a newline only": config_input(
        with_credentials(auth_type="account_token", app_ref="acme-analytics", account_token="  \n "),
        "'credentials.account_token'",
        "empty",
    ),
    "account token with a line break inside": config_input(
        with_credentials(
            auth_type="account_token", app_ref="acme-analytics", account_token=f"{ACCOUNT_TOKEN}\nX-Injected: 1"
        ),
        "'credentials.account_token'",
        "line break",
    ),
    "staff token outside latin-1": config_input(
        with_credentials(auth_type="staff_token", app_ref="acme-analytics", staff_token=f"{ACCOUNT_TOKEN}\u2713"),
        "'credentials.staff_token'",
        "latin-1",
    ),
    "app_ref with a control character": config_input(
        with_credentials(auth_type="account_token", app_ref="acme\x00analytics", account_token=ACCOUNT_TOKEN),
        "'credentials.app_ref'",
        "control character",
    ),
    "account token a number": config_input(
        with_credentials(auth_type="account_token", app_ref="acme-analytics", account_token=NUMERIC_TOKEN),
        "'credentials.account_token'",
        "a string",
    ),
    "staff token missing": config_input(
        with_credentials(auth_type="staff_token", app_ref="acme-analytics"), "'credentials.staff_token'", "missing"
    ),
    "app_ref missing": config_input(
        with_credentials(auth_type="account_token", account_token=ACCOUNT_TOKEN), "'credentials.app_ref'", "missing"
    ),
    "oauth refresh token missing": config_input(
        with_credentials(auth_type="oauth", client_id="c", dev_ref="d"), "'credentials.refresh_token'", "missing"
    ),
    "oauth host plain http": config_input(
        with_credentials(
            auth_type="oauth",
            client_id="c",
            dev_ref="d",
            refresh_token="bad-input-refresh-token-77e0c4",
            oauth_host="http://oauth.example.com",
        ),
        "credentials.oauth_host",
        "https",
    ),
    "oauth host with a backslash before the loopback host": config_input(
        with_credentials(
            auth_type="oauth",
            client_id="c",
            dev_ref="d",
            refresh_token="bad-input-refresh-token-77e0c4",
            oauth_host="http://attacker.example.com\\@127.0.0.1:8787",
        ),
        "credentials.oauth_host",
        "backslash",
    ),
    "oauth host with a user and password": config_input(
        with_credentials(
            auth_type="oauth",
            client_id="c",
            dev_ref="d",
            refresh_token="bad-input-refresh-token-77e0c4",
            oauth_host=f"https://oauth-user:{ACCOUNT_TOKEN}@oauth.example.com",
        ),
        "credentials.oauth_host",
        "password",
    ),
    "oauth refresh token with a line break inside": config_input(
        with_credentials(auth_type="oauth", client_id="c", dev_ref="d", refresh_token=f"{ACCOUNT_TOKEN}\r\nx"),
        "'credentials.refresh_token'",
        "line break",
    ),
}


def catalog_text(*streams: str, sync_mode: str = "full_refresh") -> str:
    return json.dumps(
        {
            "streams": [
                {
                    "stream": {
                        "name": name,
                        "json_schema": {},
                        "supported_sync_modes": ["full_refresh", "incremental"],
                    },
                    "sync_mode": sync_mode,
                    "destination_sync_mode": "overwrite",
                }
                for name in streams
            ]
        }
    )


def read_input(*words: str, catalog: str | None = catalog_text("order_statuses"), state: str | None = None) -> BadInput:
    files = [("config", json.dumps(good_config())), ("catalog", catalog)]
    if state is not None:
        files.append(("state", state))
    return BadInput(files=tuple(files), words=words)


BAD_READ_INPUTS = {
    "catalog file missing": read_input("catalog.json", "No such file", catalog=None),
    "catalog not JSON": read_input("catalog.json", "not JSON", catalog="streams: [orders]"),
    "catalog without streams": read_input("catalog.json", "streams", catalog=json.dumps({"stream": []})),
    "catalog with no stream selected": read_input("no streams", catalog=json.dumps({"streams": []})),
    "unknown stream": read_input("'orderz'", "did you mean 'orders'", catalog=catalog_text("order_statuses", "orderz")),
    "unknown sync mode": read_input("sync_mode", "sideways", catalog=catalog_text("orders", sync_mode="sideways")),
    "state file not JSON": read_input("state.json", "not JSON", state="{"),
    "state not a list of state messages": read_input(
        "state.json", "STATE messages", state=json.dumps({"orders": {"updatedOn": "2024-01-01"}})
    ),
}


TRIED: dict[str, int] = {}
HANDLED: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def handled_over_tried(report_line):
    """Prints how many bad inputs got their one message and exit code on every command tried."""
    yield
    names = [name for name in TRIED]
    handled = sum(1 for name in names if HANDLED.get(name, 0) == TRIED[name])
    if names:
        report_line(
            f"\nbad inputs handled / tried: {handled} / {len(names)} "
            f"(configs through check and discover, catalogs and state files through read)"
        )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[tuple[str, str], Outcome]:
    """(input, command) -> Outcome, run on demand; a config's check and discover run side by side."""
    root = tmp_path_factory.mktemp("bad_input")

    class Runs(dict):
        def __missing__(self, key: tuple[str, str]) -> Outcome:
            name, _ = key
            commands = ["check", "discover"] if name in BAD_CONFIGS else ["read"]
            bad_input = BAD_CONFIGS.get(name) or BAD_READ_INPUTS[name]
            directories = {command: root / f"{len(self)}-{command}" for command in commands}
            pids = {command: start_with_files(directories[command], command, bad_input.files) for command in commands}
            for command in commands:
                self[(name, command)] = outcome_of(directories[command], pids[command])
            return self[key]

    return Runs()


def assert_one_message_naming(message: str, words: tuple[str, ...]) -> None:
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def assert_no_traceback_and_no_secret(outcome: Outcome) -> None:
    everything = outcome.stdout + outcome.stderr
    assert "Traceback" not in everything
    assert outcome.stderr.strip() == ""
    for line in outcome.stdout.splitlines():
        assert line.startswith("{"), f"not an Airbyte message: {line[:200]}"
    assert not [m for m in outcome.of_type("LOG") if m["log"]["level"] == "FATAL"]
    assert ACCOUNT_TOKEN not in everything and str(NUMERIC_TOKEN) not in everything


def tally(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


def handled(name: str) -> None:
    HANDLED[name] = HANDLED.get(name, 0) + 1


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_given_bad_config_when_check_then_exit_0_with_one_failed_status_naming_the_problem(outcomes, name):
    tally(name)
    outcome = outcomes[(name, "check")]
    statuses = outcome.of_type("CONNECTION_STATUS")
    assert outcome.exit_code == 0
    assert len(statuses) == 1 and statuses[0]["connectionStatus"]["status"] == "FAILED"
    assert outcome.error_traces == []
    assert_one_message_naming(statuses[0]["connectionStatus"]["message"], BAD_CONFIGS[name].words)
    assert_no_traceback_and_no_secret(outcome)
    handled(name)


def assert_exit_1_with_one_config_error_naming(outcome, words) -> None:
    """discover and read refuse bad input the same way: exit 1 and one config_error TRACE, no stack trace."""
    assert outcome.exit_code == 1
    assert len(outcome.error_traces) == 1
    error = outcome.error_traces[0]
    assert error["failure_type"] == "config_error"
    assert not error.get("stack_trace")
    assert_one_message_naming(error["message"], words)
    assert_no_traceback_and_no_secret(outcome)


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_given_bad_config_when_discover_then_exit_1_with_one_config_error_naming_the_problem(outcomes, name):
    tally(name)
    outcome = outcomes[(name, "discover")]
    assert_exit_1_with_one_config_error_naming(outcome, BAD_CONFIGS[name].words)
    assert not outcome.of_type("CATALOG")
    handled(name)


@pytest.mark.parametrize("name", BAD_READ_INPUTS)
def test_given_bad_catalog_or_state_when_read_then_exit_1_with_one_config_error_naming_the_problem(outcomes, name):
    tally(name)
    outcome = outcomes[(name, "read")]
    assert_exit_1_with_one_config_error_naming(outcome, BAD_READ_INPUTS[name].words)
    assert not outcome.of_type("RECORD")
    handled(name)


def test_given_a_bug_when_discover_then_system_error_with_its_traceback(tmp_path, monkeypatch):
    """Tracebacks are kept for what is not the user's fault: the code a maintainer must debug."""

    def broken_discover(self, logger, config):
        raise KeyError("a bug")

    monkeypatch.setattr("source_brightpearl.source.SourceBrightpearl.discover", broken_discover)
    pid = start_with_files(tmp_path, "discover", (("config", json.dumps(good_config())),))
    outcome = outcome_of(tmp_path, pid)
    assert outcome.exit_code == 1
    assert [error["failure_type"] for error in outcome.error_traces] == ["system_error"]
    assert "KeyError" in outcome.error_traces[0]["stack_trace"]


def test_given_a_token_brightpearl_rejects_when_read_then_config_errors_without_any_traceback(tmp_path):
    """A wrong token passes the spec and fails on the first call (401): the stream's error and the
    read's closing error are config errors that say what to fix, with no stack trace or traceback."""
    name = "account token Brightpearl rejects (read)"
    tally(name)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:  # the forked child calls it
        api.get(
            f"{LOOPBACK_DOWN}/public-api/acme/order-service/order-status",
            status=401,
            json={"response": "Not authenticated. You must provide a valid authentication token."},
        )
        pid = start_with_files(
            tmp_path, "read", (("config", json.dumps(good_config())), ("catalog", catalog_text("order_statuses")))
        )
        outcome = outcome_of(tmp_path, pid)
    assert outcome.exit_code == 1
    assert [error["failure_type"] for error in outcome.error_traces] == ["config_error", "config_error"]
    assert all("rejected the credentials" in error["message"] for error in outcome.error_traces)
    assert not any(error.get("stack_trace") for error in outcome.error_traces)
    assert_no_traceback_and_no_secret(outcome)
    handled(name)
