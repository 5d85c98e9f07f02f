"""Bad configs and catalogs through the real entry point: one actionable message, the exit code
Airbyte expects, and no traceback outside the TRACE message's `stack_trace`.

Each case runs `source_brightpearl.run.run()` with its argv in a forked child (fds 1 and 2 to files,
the interpreter's uncaught-exception path replayed through `sys.excepthook`), so it is the command-line
program without paying the CDK's two-second import per case.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from mock_server.testing import MockServer
from source_brightpearl.run import run

LOOPBACK_DOWN = "http://127.0.0.1:9"
ACCOUNT_TOKEN = "bad-input-account-token-3c8e1f0a9b7d"


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> List[Dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def of_type(self, message_type: str) -> List[Dict[str, Any]]:
        return [message for message in self.messages if message["type"] == message_type]

    @property
    def error_traces(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]


def run_entry_point(tmp_path: Path, command: str, config: Any = None, catalog: Any = None,
                    config_text: Optional[str] = None, catalog_text: Optional[str] = None) -> Outcome:
    argv = [command]
    if config is not None or config_text is not None:
        (tmp_path / "config.json").write_text(config_text if config_text is not None else json.dumps(config))
        argv += ["--config", str(tmp_path / "config.json")]
    if catalog is not None or catalog_text is not None:
        (tmp_path / "catalog.json").write_text(catalog_text if catalog_text is not None else json.dumps(catalog))
        argv += ["--catalog", str(tmp_path / "catalog.json")]
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    pid = os.fork()
    if pid == 0:  # the child: behave like `source-brightpearl <argv>`
        code = 1
        try:
            with open(out_path, "w") as out, open(err_path, "w") as err:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.argv = ["source-brightpearl", *argv]
            try:
                run()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except BaseException:
                sys.excepthook(*sys.exc_info())
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return Outcome(os.waitstatus_to_exitcode(status), out_path.read_text(), err_path.read_text())


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(orders=20) as server:
        yield server


def good_config(mock: Optional[MockServer] = None) -> Dict[str, Any]:
    return {
        "account_code": "acme",
        "api_domain": mock.base_url if mock else LOOPBACK_DOWN,
        "credentials": {"auth_type": "account_token", "app_ref": "acme-analytics",
                        "account_token": mock.account_token if mock else ACCOUNT_TOKEN},
    }


def with_fields(**fields: Any) -> Dict[str, Any]:
    config = good_config()
    config.update(fields)
    return config


def with_credentials(**credentials: Any) -> Dict[str, Any]:
    return with_fields(credentials=credentials)


def without(field: str) -> Dict[str, Any]:
    config = good_config()
    del config[field]
    return config


# (config, words the one message must contain: the field or value it names)
BAD_CONFIGS = {
    "account_code missing": (without("account_code"), ["account_code"]),
    "credentials missing": (without("credentials"), ["credentials"]),
    "account_code empty": (with_fields(account_code=""), ["account_code"]),
    "account_code not a string": (with_fields(account_code=42), ["account_code"]),
    "account_code with a slash": (with_fields(account_code="acme/x"), ["account_code"]),
    "unknown datacenter": (with_fields(datacenter="eu.example.com"), ["eu.example.com"]),
    "non-loopback http api_domain": (with_fields(api_domain="http://evil.example.com"), ["api_domain", "https"]),
    "api_domain with a path": (with_fields(api_domain="https://proxy.example.com/x/y"), ["api_domain"]),
    "api_domain ftp scheme": (with_fields(api_domain="ftp://proxy.example.com"), ["api_domain"]),
    "start_date not a date": (with_fields(start_date="yesterday"), ["yesterday"]),
    "start_date 30 February": (with_fields(start_date="2024-02-30T00:00:00Z"), ["start_date"]),
    "start_date year 0001": (with_fields(start_date="0001-01-01T00:00:00Z"), ["start_date"]),
    "start_date year 9999": (with_fields(start_date="9999-12-31T23:59:59Z"), ["start_date"]),
    "start_date a number": (with_fields(start_date=20240101), ["start_date"]),
    "lookback_minutes negative": (with_fields(lookback_minutes=-5), ["lookback_minutes"]),
    "lookback_minutes above a week": (with_fields(lookback_minutes=100000), ["lookback_minutes"]),
    "lookback_minutes a string": (with_fields(lookback_minutes="sixty"), ["lookback_minutes"]),
    "rate_limit_reserve negative": (with_fields(rate_limit_reserve=-1), ["rate_limit_reserve"]),
    "rate_limit_reserve above the limit": (with_fields(rate_limit_reserve=500), ["rate_limit_reserve"]),
    "rate_limit_reserve a string": (with_fields(rate_limit_reserve="lots"), ["rate_limit_reserve"]),
    "credentials not an object": (with_fields(credentials="token"), ["credentials"]),
    "unknown auth_type": (with_credentials(auth_type="password", app_ref="a", password="p"), ["auth_type"]),
    "account token missing": (with_credentials(auth_type="account_token", app_ref="acme-analytics"),
                              ["account_token"]),
    "staff token missing": (with_credentials(auth_type="staff_token", app_ref="acme-analytics"), ["staff_token"]),
    "oauth refresh token missing": (with_credentials(auth_type="oauth", client_id="c", dev_ref="d"),
                                    ["refresh_token"]),
    "app_ref missing": (with_credentials(auth_type="account_token", account_token=ACCOUNT_TOKEN), ["app_ref"]),
}


# Cases the connector does not handle as this file asks yet (found by this file; see CHANGELOG).
UNNAMED_FIELD = "the CDK's JSON-schema message names the value, not the field"
GAPS = {
    "account_code empty": UNNAMED_FIELD,
    "account_code not a string": UNNAMED_FIELD,
    "account_code with a slash": UNNAMED_FIELD,
    "start_date a number": UNNAMED_FIELD,
    "lookback_minutes negative": UNNAMED_FIELD,
    "lookback_minutes above a week": UNNAMED_FIELD,
    "lookback_minutes a string": UNNAMED_FIELD,
    "rate_limit_reserve negative": UNNAMED_FIELD,
    "rate_limit_reserve above the limit": UNNAMED_FIELD,
    "oauth refresh token missing": "oneOf failure: the message names no missing field",
    "app_ref missing": "oneOf failure: the message names no missing field",
    "start_date year 0001": "start_date has no plausible-range check",
    "start_date year 9999": "start_date has no plausible-range check",
    "credentials not an object": "the source's constructor fails before validation (exit 1, system_error)",
    "rate_limit_reserve a string": "the source's constructor calls int() before validation (exit 1, system_error)",
}


def cases() -> List[Any]:
    return [pytest.param(config, words, id=name,
                         marks=[pytest.mark.xfail(reason=GAPS[name])] if name in GAPS else [])
            for name, (config, words) in BAD_CONFIGS.items()]


def assert_no_traceback_outside_traces(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.stderr
    for line in outcome.stdout.splitlines():
        assert line.startswith("{"), f"not an Airbyte message: {line[:200]}"
    for message in outcome.messages:
        if message["type"] == "TRACE":
            continue
        assert "Traceback" not in json.dumps(message), f"traceback in a {message['type']} message"


def assert_one_message_naming(message: str, words: List[str]) -> None:
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize("config, words", cases())
def test_given_bad_config_when_check_then_exit_0_with_one_failed_status_naming_the_field(tmp_path, config, words):
    outcome = run_entry_point(tmp_path, "check", config)
    statuses = outcome.of_type("CONNECTION_STATUS")
    assert outcome.exit_code == 0
    assert len(statuses) == 1 and statuses[0]["connectionStatus"]["status"] == "FAILED"
    assert_one_message_naming(statuses[0]["connectionStatus"]["message"], words)
    assert_no_traceback_outside_traces(outcome)


@pytest.mark.parametrize("config, words", cases())
def test_given_bad_config_when_discover_then_one_config_error_trace_naming_the_field(tmp_path, config, words):
    outcome = run_entry_point(tmp_path, "discover", config)
    assert outcome.exit_code != 0
    assert len(outcome.error_traces) == 1
    error = outcome.error_traces[0]
    assert error["failure_type"] == "config_error"
    assert_one_message_naming(error["message"], words)
    assert "Traceback" not in outcome.stderr
    assert not outcome.of_type("CATALOG")


def test_given_malformed_json_config_file_when_check_then_one_error_naming_the_file(tmp_path):
    outcome = run_entry_point(tmp_path, "check", config_text='{"account_code": "acme",')
    assert outcome.exit_code != 0
    assert len(outcome.error_traces) == 1
    assert "config.json" in outcome.error_traces[0]["message"]
    assert "Traceback" not in outcome.stderr


def catalog_of(*streams: str, sync_mode: str = "full_refresh") -> Dict[str, Any]:
    return {"streams": [{"stream": {"name": name, "json_schema": {}, "supported_sync_modes": [sync_mode]},
                         "sync_mode": sync_mode, "destination_sync_mode": "overwrite"} for name in streams]}


BAD_CATALOGS = {
    "not JSON": dict(catalog_text="streams: [orders]", words=["catalog"]),
    "streams missing": dict(catalog={"stream": []}, words=["streams"]),
    "unknown stream": dict(catalog=catalog_of("order_statuses", "no_such_stream"), words=["no_such_stream"]),
}
CATALOG_GAPS = {"unknown stream": "the CDK skips a stream the source lacks and the read exits 0"}


@pytest.mark.parametrize("case", [
    pytest.param(case, id=name, marks=[pytest.mark.xfail(reason=CATALOG_GAPS[name])] if name in CATALOG_GAPS else [])
    for name, case in BAD_CATALOGS.items()])
def test_given_bad_catalog_when_read_then_one_error_naming_the_problem_and_non_zero_exit(tmp_path, mock, case):
    case = dict(case)
    words = case.pop("words")
    outcome = run_entry_point(tmp_path, "read", good_config(mock), **case)
    assert outcome.exit_code != 0
    assert len(outcome.error_traces) == 1
    assert_one_message_naming(outcome.error_traces[0]["message"], words)
    assert "Traceback" not in outcome.stderr


@pytest.mark.xfail(reason="the CDK's excepthook also logs the traceback in a FATAL LOG message")
def test_given_config_error_when_discover_then_no_traceback_outside_the_trace(tmp_path):
    outcome = run_entry_point(tmp_path, "discover", with_fields(datacenter="nowhere"))
    assert_no_traceback_outside_traces(outcome)
