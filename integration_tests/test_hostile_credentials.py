"""Credentials against a hostile world, over real sockets: pasted tokens with stray characters, API and
OAuth hosts that name one host and reach another, and an OAuth token endpoint (the hostile proxy in front
of the mock's, through `credentials.oauth_host`) that redirects, stalls or answers nonsense.

Each case is one `source-brightpearl` run (`connector_process.run_connector`) or one `source-brightpearl
oauth` process; its whole output is searched for every secret involved with `test_secrets`' helpers.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integration_tests.connector_process import ConnectorRun, run_connector
from integration_tests.hostile import HostileServer, RecordingServer, Rule, redirect, respond, rewrite_json, stall
from integration_tests.test_secrets import (
    CLIENT_SECRET,
    catalog,
    issued_tokens,
    leaked,
    oauth_config,
    run_oauth_helper,
    secrets_of,
)
from mock_server.testing import MockServer
from source_brightpearl.components import TOKEN_REQUEST_ATTEMPTS, TOKEN_REQUEST_TIMEOUT_SECONDS

pytestmark = pytest.mark.hostile

ACCOUNT_TOKEN = "hostile-account-token-5c1e9a7f3b2d8e4a"
TOKEN_PATH = "/token/acme"
STREAMS = ["order_statuses", "warehouses"]
BIN = Path(sys.executable).parent
# Far longer than a token request's read timeout: a run that waits for a stall to end fails its time bound.
STALL_SECONDS = 100
# Every attempt of a token request timing out, the backoff between them, and the run's own start-up.
GIVE_UP_SECONDS = TOKEN_REQUEST_ATTEMPTS * TOKEN_REQUEST_TIMEOUT_SECONDS[1] + 15


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(
        orders=5,
        extra_args=["--account-token", ACCOUNT_TOKEN, "--client-secret", CLIENT_SECRET, "--oauth-auto-approve"],
    ) as server:
        yield server


@pytest.fixture
def proxy(mock):
    with HostileServer(mock.base_url) as server:
        yield server


@pytest.fixture
def elsewhere():
    with RecordingServer() as server:
        yield server


def token_config(api_domain: str, token: str = ACCOUNT_TOKEN, **credentials: str) -> dict[str, Any]:
    return {
        "account_code": "acme",
        "api_domain": api_domain,
        "credentials": {
            "auth_type": "account_token",
            "app_ref": "acme-analytics",
            "account_token": token,
            **credentials,
        },
    }


def expired_oauth_config(mock: MockServer, proxy: HostileServer) -> dict[str, Any]:
    """Live tokens from the mock whose stored expiry has passed, refreshed through the proxy."""
    tokens = issued_tokens(mock)
    config = oauth_config(mock, tokens["access_token"], tokens["refresh_token"], expires_in=timedelta(hours=-1))
    config["credentials"]["oauth_host"] = proxy.base_url
    return config


def connector(work_dir: Path, command: str, config: dict[str, Any], config_path: Path | None = None) -> ConnectorRun:
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = config_path or work_dir / "config.json"
    if not config_path.exists():
        config_path.write_text(json.dumps(config))
    args = [command, "--config", str(config_path)]
    if command == "read":
        (work_dir / "catalog.json").write_text(json.dumps(catalog(STREAMS)))
        args += ["--catalog", str(work_dir / "catalog.json")]
    return run_connector(work_dir, *args)


def output_of(run: ConnectorRun) -> str:
    return "\n".join(run.lines) + run.stderr


def assert_no_secret_leaks(name: str, run: ConnectorRun, secrets: list[str]) -> None:
    """No secret outside a CONTROL message (which carries the config's tokens by design), nor any
    refreshed token a CONTROL message carries."""
    rotated = [
        value
        for control in run.of_type("CONTROL")
        for value in secrets_of(control["control"]["connectorConfig"]["config"])
    ]
    assert leaked(name, output_of(run), [*secrets, *rotated]) == []


def check_status(run: ConnectorRun) -> dict[str, Any]:
    statuses = run.of_type("CONNECTION_STATUS")
    assert len(statuses) == 1, output_of(run)[-2000:]
    return statuses[0]["connectionStatus"]


def assert_refused_as_config_error(run: ConnectorRun, *words: str) -> str:
    """A check that says FAILED with one message holding `words`, and no traceback anywhere."""
    status = check_status(run)
    assert run.exit_code == 0 and status["status"] == "FAILED"
    for word in words:
        assert word in status["message"], status["message"]
    assert "Traceback" not in output_of(run)
    return status["message"]


def test_given_an_account_token_pasted_with_a_trailing_newline_when_read_then_the_trimmed_token_is_sent(
    tmp_path, mock, proxy
):
    run = connector(tmp_path, "read", token_config(proxy.base_url, token=f"{ACCOUNT_TOKEN}\n"))

    assert run.exit_code == 0, output_of(run)[-2000:]
    assert run.of_type("RECORD")
    assert {seen.headers["brightpearl-account-token"] for seen in proxy.seen} == {ACCOUNT_TOKEN}
    assert_no_secret_leaks("hostile: token with a trailing newline", run, [ACCOUNT_TOKEN])


@pytest.mark.parametrize("command", ["check", "read"])
def test_given_a_token_with_a_line_break_inside_when_command_runs_then_a_config_error_names_the_field_only(
    tmp_path, proxy, command
):
    run = connector(tmp_path, command, token_config(proxy.base_url, token=f"{ACCOUNT_TOKEN}\nX-Injected: 1"))

    if command == "check":
        assert_refused_as_config_error(run, "credentials.account_token")
    else:
        assert run.exit_code == 1
        assert [error["failure_type"] for error in run.errors()] == ["config_error"]
        assert "credentials.account_token" in run.errors()[0]["message"]
        assert "Traceback" not in output_of(run)
    assert proxy.seen == []
    assert_no_secret_leaks(f"hostile: token with an inner newline ({command})", run, [ACCOUNT_TOKEN])


def test_given_an_api_domain_whose_backslash_hides_another_host_when_check_then_refused_and_no_request_is_sent(
    tmp_path, proxy, elsewhere
):
    """urllib.parse reads the loopback host after the '@'; requests sends to the host before the backslash."""
    trick = f"http://{elsewhere.base_url.removeprefix('http://')}\\@{proxy.base_url.removeprefix('http://')}"

    run = connector(tmp_path, "check", token_config(trick))

    assert_refused_as_config_error(run, "api_domain", "backslash")
    assert (elsewhere.seen, proxy.seen) == ([], [])
    assert_no_secret_leaks("hostile: backslash host trick", run, [ACCOUNT_TOKEN])


@pytest.mark.parametrize("field", ["api_domain", "credentials.oauth_host"])
def test_given_a_user_and_password_in_a_host_field_when_check_then_refused_without_quoting_the_password(
    tmp_path, proxy, field
):
    password = "hostile-host-password-8d3f1a6c"
    address = f"http://proxy-user:{password}@{proxy.base_url.removeprefix('http://')}"
    config = token_config(proxy.base_url)
    if field == "api_domain":
        config["api_domain"] = address
    else:
        config["credentials"] = {
            "auth_type": "oauth",
            "client_id": "acme-analytics",
            "dev_ref": "acme-dev",
            "refresh_token": "hostile-refresh-token-2b7e",
            "oauth_host": address,
        }

    run = connector(tmp_path, "check", config)

    assert_refused_as_config_error(run, field, "password")
    assert proxy.seen == []
    assert_no_secret_leaks(f"hostile: password in {field}", run, [ACCOUNT_TOKEN, password])


def test_given_the_token_endpoint_redirects_to_another_host_when_read_then_nothing_reaches_it_or_is_printed(
    tmp_path, mock, proxy, elsewhere
):
    config = expired_oauth_config(mock, proxy)
    proxy.add(
        Rule(path=TOKEN_PATH, method="POST", behaviour=redirect(307, f"{elsewhere.base_url}/token/acme"), count=None)
    )

    run = connector(tmp_path, "read", config)

    assert run.exit_code == 1
    assert elsewhere.seen == []
    assert {error["failure_type"] for error in run.errors()} == {"config_error"}
    assert "307" in run.errors()[0]["message"] and "127.0.0.2" in run.errors()[0]["message"]
    assert not run.of_type("RECORD")
    assert_no_secret_leaks("hostile: token endpoint redirect", run, secrets_of(config))


@pytest.mark.parametrize(
    "answer",
    [
        {"token_type": "Bearer", "expires_in": 604800},
        {"access_token": None},
        {"access_token": ""},
        "<html>Sign in to the Wi-Fi</html>",
    ],
)
def test_given_a_200_token_answer_without_an_access_token_when_read_then_the_config_file_is_unchanged(
    tmp_path, mock, proxy, answer
):
    config = expired_oauth_config(mock, proxy)
    (tmp_path / "config.json").write_text(json.dumps(config))
    saved_before = (tmp_path / "config.json").read_bytes()
    proxy.add(Rule(path=TOKEN_PATH, method="POST", behaviour=respond(200, answer), count=None))

    run = connector(tmp_path, "read", config)

    assert run.exit_code == 1
    assert (tmp_path / "config.json").read_bytes() == saved_before
    assert run.of_type("CONTROL") == []
    # The read's closing summary is typed by the CDK; each stream's own error says what happened.
    assert {error["failure_type"] for error in run.errors() if error.get("stream_descriptor")} == {"transient_error"}
    assert "without an access token" in run.errors()[0]["message"]
    assert_no_secret_leaks("hostile: token answer without access_token", run, secrets_of(config))


def read_with_rewritten_token_answer(
    tmp_path: Path, mock: MockServer, proxy: HostileServer, **fields: Any
) -> dict[str, Any]:
    """A read whose refresh gets the mock's answer with `fields` replaced; returns the run, the config
    before and the config file after."""
    config = expired_oauth_config(mock, proxy)
    proxy.add(Rule(path=TOKEN_PATH, method="POST", behaviour=rewrite_json(lambda body: {**body, **fields})))
    run = connector(tmp_path, "read", config)
    assert run.exit_code == 0, output_of(run)[-2000:]
    assert_no_secret_leaks(f"hostile: token answer with {sorted(fields)} rewritten", run, secrets_of(config))
    return {
        "run": run,
        "before": config["credentials"],
        "after": json.loads((tmp_path / "config.json").read_text())["credentials"],
    }


@pytest.mark.parametrize("refresh_token", ["", "   ", 42])
def test_given_a_token_answer_with_an_empty_refresh_token_when_read_then_the_stored_one_is_kept(
    tmp_path, mock, proxy, refresh_token
):
    sync = read_with_rewritten_token_answer(tmp_path, mock, proxy, refresh_token=refresh_token)

    assert sync["after"]["refresh_token"] == sync["before"]["refresh_token"]
    assert sync["after"]["access_token"] not in ("", None, sync["before"]["access_token"])
    control = sync["run"].of_type("CONTROL")[0]["control"]["connectorConfig"]["config"]["credentials"]
    assert control["refresh_token"] == sync["before"]["refresh_token"]


@pytest.mark.parametrize("expires_in", ["soon", -604800, 0, 1e300, True])
def test_given_a_token_answer_with_a_bad_expires_in_when_read_then_the_token_counts_as_valid_for_an_hour(
    tmp_path, mock, proxy, expires_in
):
    started = datetime.now(UTC)

    sync = read_with_rewritten_token_answer(tmp_path, mock, proxy, expires_in=expires_in)

    expiry = datetime.fromisoformat(sync["after"]["token_expiry_date"])
    assert started + timedelta(minutes=55) < expiry < datetime.now(UTC) + timedelta(minutes=65)


def test_given_the_token_endpoint_stalls_once_when_read_then_the_refresh_times_out_and_the_retry_succeeds(
    tmp_path, mock, proxy
):
    config = expired_oauth_config(mock, proxy)
    rule = Rule(path=TOKEN_PATH, method="POST", behaviour=stall(seconds=STALL_SECONDS))
    proxy.add(rule)
    started = time.monotonic()

    run = connector(tmp_path, "read", config)

    elapsed = time.monotonic() - started
    assert run.exit_code == 0, output_of(run)[-2000:]
    assert elapsed < STALL_SECONDS / 2
    assert proxy.fired(rule) == 1
    assert [seen.method for seen in proxy.seen if seen.path_qs == TOKEN_PATH] == ["POST", "POST"]
    assert_no_secret_leaks("hostile: token endpoint stalls once", run, secrets_of(config))


def test_given_the_token_endpoint_always_stalls_when_check_then_it_fails_transiently_in_bounded_time(
    tmp_path, mock, proxy
):
    config = expired_oauth_config(mock, proxy)
    proxy.add(Rule(path=TOKEN_PATH, method="POST", behaviour=stall(seconds=STALL_SECONDS), count=None))
    started = time.monotonic()

    run = connector(tmp_path, "check", config)

    assert time.monotonic() - started < GIVE_UP_SECONDS
    assert check_status(run)["status"] == "FAILED"
    assert "token endpoint" in check_status(run)["message"]
    assert_no_secret_leaks("hostile: token endpoint always stalls", run, secrets_of(config))


def test_given_a_symlinked_config_when_tokens_rotate_then_the_link_stays_and_its_target_gets_the_new_tokens(
    tmp_path, mock, proxy
):
    config = expired_oauth_config(mock, proxy)
    target = tmp_path / "secrets" / "config.json"
    target.parent.mkdir()
    target.write_text(json.dumps(config))
    link = tmp_path / "config.json"
    link.symlink_to(target)

    run = connector(tmp_path, "read", config, config_path=link)

    assert run.exit_code == 0, output_of(run)[-2000:]
    assert link.is_symlink() and link.resolve() == target.resolve()
    saved = json.loads(target.read_text())["credentials"]
    assert saved["refresh_token"] != config["credentials"]["refresh_token"]
    assert sorted(path.name for path in target.parent.iterdir()) == ["config.json"]
    assert_no_secret_leaks("hostile: symlinked config", run, secrets_of(config))


def test_given_the_token_endpoint_redirects_the_code_exchange_when_oauth_runs_then_nothing_reaches_the_other_host(
    tmp_path, mock, proxy, elsewhere
):
    proxy.add(Rule(path=TOKEN_PATH, method="POST", behaviour=redirect(302, f"{elsewhere.base_url}/token/acme")))

    helper = run_oauth_helper(mock, tmp_path / "config.json", CLIENT_SECRET, oauth_host=proxy.base_url)

    assert helper["exit_code"] == 1 and "302" in helper["output"]
    assert elsewhere.seen == []
    assert not (tmp_path / "config.json").exists()
    assert "Traceback" not in helper["output"]
    assert leaked("hostile: oauth command, exchange redirect", helper["output"], [helper["code"], CLIENT_SECRET]) == []


@pytest.mark.parametrize(
    "answer",
    [
        {"refresh_token": "hostile-refresh-5e2a", "expires_in": 604800},
        {"access_token": "hostile-access-7c1d", "expires_in": "a week"},
    ],
)
def test_given_a_code_exchange_answer_without_a_token_when_oauth_runs_then_no_config_is_written(
    tmp_path, mock, proxy, answer
):
    proxy.add(Rule(path=TOKEN_PATH, method="POST", behaviour=respond(200, answer)))

    helper = run_oauth_helper(mock, tmp_path / "config.json", CLIENT_SECRET, oauth_host=proxy.base_url)

    assert helper["exit_code"] == 1 and "token" in helper["output"]
    assert not (tmp_path / "config.json").exists()
    assert "Traceback" not in helper["output"]
    assert (
        leaked(
            "hostile: oauth command, answer without a token",
            helper["output"],
            [helper["code"], CLIENT_SECRET, *[value for value in answer.values() if isinstance(value, str)]],
        )
        == []
    )


def test_given_the_token_endpoint_stalls_the_code_exchange_when_oauth_runs_then_it_gives_up_in_bounded_time(
    tmp_path, mock, proxy
):
    proxy.add(Rule(path=TOKEN_PATH, method="POST", behaviour=stall(seconds=STALL_SECONDS)))
    started = time.monotonic()

    helper = run_oauth_helper(mock, tmp_path / "config.json", CLIENT_SECRET, oauth_host=proxy.base_url)

    assert time.monotonic() - started < STALL_SECONDS / 2
    assert helper["exit_code"] == 1 and "token endpoint" in helper["output"]
    assert not (tmp_path / "config.json").exists()
