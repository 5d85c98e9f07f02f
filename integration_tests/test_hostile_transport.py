"""The transport against a hostile server: no hang, no unbounded body, no redirect, no absurd wait.

Each test puts `HostileServer` between a real `source-brightpearl` process and the mock. Reads use a
2-second `request_timeout_seconds`, so that a stall or trickle is abandoned long before the proxy's own
misbehaviour (two minutes) would end; `check` uses the default, since it must fail within 30 s on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration_tests.connector_process import ConnectorRun, account_token_config, catalog, read, run_connector
from integration_tests.hostile import (
    MAX_MISBEHAVIOUR_SECONDS,
    Behaviour,
    Exchange,
    HostileServer,
    RecordingServer,
    Rule,
    gzip_bomb,
    redirect,
    respond,
    stall,
    stall_mid_body,
    trickle,
    with_headers,
)
from mock_server.testing import MockServer

pytestmark = pytest.mark.hostile

ORDER_SEARCH = "order-service/order-search"
ORDER_GET = "order-service/order/1"
# 73 contacts: one ID-set GET, so every request to it is the same request, sent again or not.
CONTACT_GET = "contact-service/contact/1"
WAREHOUSES = "warehouse-service/warehouse/"
ACCOUNT_CONFIGURATION = "integration-service/account-configuration"
READ_TIMEOUT_SECONDS = 2
THROTTLED = {"response": "You have sent too many requests. Please wait before sending another request"}
DAY_SECONDS = 24 * 3600
BOMB_BYTES = 1 << 30
# A signed Location, whose query must never be repeated.
LOCATION_SECRET = "sig=5f2b9c0e7a1d"


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(orders=250) as server:
        yield server


@pytest.fixture(scope="module")
def clean_records(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = read(tmp_path_factory.mktemp("clean"), account_token_config(mock))
    assert run.exit_code == 0
    return run.records()


@pytest.fixture
def proxy(mock: MockServer) -> HostileServer:
    with HostileServer(mock.base_url) as server:
        yield server


@pytest.fixture
def config(mock: MockServer, proxy: HostileServer) -> dict[str, Any]:
    return {**account_token_config(mock), "api_domain": proxy.base_url, "request_timeout_seconds": READ_TIMEOUT_SECONDS}


def watched(behaviour: Behaviour) -> tuple[Behaviour, dict[str, float]]:
    """`behaviour`, and how long each of its runs lasted (`durations`), once it ended."""
    durations: dict[str, float] = {}

    def behave(exchange: Exchange) -> None:
        started = time.monotonic()
        try:
            behaviour(exchange)
        finally:
            durations[exchange.seen.path_qs] = time.monotonic() - started

    return behave, durations


def check(work_dir: Path, config: dict[str, Any]) -> tuple[dict[str, Any], ConnectorRun]:
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "config.json").write_text(json.dumps(config))
    run = run_connector(work_dir, "check", "--config", str(work_dir / "config.json"))
    return next(message["connectionStatus"] for message in run.of_type("CONNECTION_STATUS")), run


def declarative_read(work_dir: Path, config: dict[str, Any]) -> ConnectorRun:
    """A read of the catalog's streams on Airbyte's declarative runtime: `source-declarative-manifest` given the
    manifest and components.py by path, without source.py."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "config.json").write_text(json.dumps(config))
    (work_dir / "catalog.json").write_text(json.dumps(catalog()))
    package = Path(__file__).resolve().parent.parent / "source_brightpearl"
    command = [
        str(Path(sys.executable).with_name("source-declarative-manifest")),
        "read",
        *("--manifest-path", str(package / "manifest.yaml"), "--components-path", str(package / "components.py")),
        *("--config", str(work_dir / "config.json"), "--catalog", str(work_dir / "catalog.json")),
    ]
    environment = {**os.environ, "AIRBYTE_ENABLE_UNSAFE_CODE": "true"}
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    return ConnectorRun(finished.stdout.splitlines(), finished.returncode, killed=False, stderr=finished.stderr)


def requests_to(proxy: HostileServer, path: str) -> int:
    return sum(path in seen.path_qs for seen in proxy.seen)


class ConnectorProcess:
    """`source-brightpearl read` as its own interpreter, stopped at the first line `stop_at` matches
    (if any), with its peak resident memory: the kernel's high-water mark of the process (VmHWM), read
    as each line arrives. (Not the rusage of wait4: Linux carries into it the memory of the test
    process that forked the child before its exec.)"""

    def __init__(self, work_dir: Path, config: dict[str, Any], stop_at: Callable[[str], bool] | None = None):
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "config.json").write_text(json.dumps(config))
        (work_dir / "catalog.json").write_text(json.dumps(catalog()))
        command = [
            sys.executable,
            "-c",
            "from source_brightpearl.run import run; run()",
            "read",
            "--config",
            str(work_dir / "config.json"),
            "--catalog",
            str(work_dir / "catalog.json"),
        ]
        with open(work_dir / "stderr.txt", "w") as stderr:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        watchdog = threading.Timer(180, process.kill)
        watchdog.start()
        self.lines: list[str] = []
        self.stopped = False
        self.peak_rss_bytes = 0
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))
            self.peak_rss_bytes = max(self.peak_rss_bytes, _memory_high_water_mark(process.pid))
            if stop_at and stop_at(line):
                self.stopped = process.poll() is None
                process.kill()
                break
        self.exit_code = process.wait()
        process.stdout.close()
        watchdog.cancel()
        self.messages = [json.loads(line) for line in self.lines if line.startswith("{")]

    def errors(self) -> list[dict[str, Any]]:
        return [
            message["trace"]["error"]
            for message in self.messages
            if message["type"] == "TRACE" and message["trace"]["type"] == "ERROR"
        ]

    def logs(self) -> list[str]:
        return [message["log"]["message"] for message in self.messages if message["type"] == "LOG"]


def _memory_high_water_mark(pid: int) -> int:
    """Bytes; 0 once the process has let go of its memory (exiting)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    kilobytes = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
    return int(kilobytes) * 1024


# ---------------------------------------------------------------- stalls and trickles


@pytest.mark.parametrize(
    "path, stalling",
    [(ORDER_SEARCH, stall), (ORDER_GET, stall_mid_body)],
    ids=["search never answers", "id-set GET stalls mid-body"],
)
def test_given_a_request_that_stalls_once_when_read_then_it_is_retried_and_every_record_arrives(
    tmp_path, proxy, config, clean_records, path, stalling
):
    behaviour, durations = watched(stalling(seconds=MAX_MISBEHAVIOUR_SECONDS))
    proxy.add(Rule(path=path, behaviour=behaviour))

    run = read(tmp_path, config)

    assert run.exit_code == 0
    assert run.records() == clean_records
    # The read ended while the stalled request was still held: it was given up, not waited out.
    assert durations == {}
    assert requests_to(proxy, path) >= 2


def test_given_a_host_that_never_answers_when_check_then_failed_within_30_s(tmp_path, proxy, config):
    proxy.add(Rule(path=ACCOUNT_CONFIGURATION, behaviour=stall(seconds=MAX_MISBEHAVIOUR_SECONDS), count=None))
    started = time.monotonic()

    status, _ = check(tmp_path, {key: value for key, value in config.items() if key != "request_timeout_seconds"})

    assert time.monotonic() - started < 30
    assert status["status"] == "FAILED"
    assert "did not answer within 15 s" in status["message"]


def test_given_an_id_set_get_trickling_a_byte_at_a_time_once_when_read_then_it_is_cut_retried_and_complete(
    tmp_path, proxy, config, clean_records
):
    # Each byte comes well within the read timeout: only a deadline for the whole body ends it.
    behaviour, durations = watched(trickle(seconds_per_byte=0.2, max_seconds=MAX_MISBEHAVIOUR_SECONDS))
    proxy.add(Rule(path=CONTACT_GET, behaviour=behaviour))

    run = read(tmp_path, config)

    assert run.exit_code == 0
    assert run.records() == clean_records
    # The connector hung up on the trickle, long before the proxy would have.
    [trickled_for] = durations.values()
    assert trickled_for < MAX_MISBEHAVIOUR_SECONDS / 4


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 307])
def test_given_a_search_redirected_to_another_host_when_read_then_the_stream_fails_and_nothing_reaches_it(
    tmp_path, proxy, config, mock, status
):
    with RecordingServer() as elsewhere:
        location = f"{elsewhere.base_url}/public-api/{mock.account}/{ORDER_SEARCH}?{LOCATION_SECRET}"
        proxy.add(Rule(path=ORDER_SEARCH, behaviour=redirect(status, location), count=None))

        run = read(tmp_path, config)

        assert elsewhere.seen == []
    assert run.exit_code == 1
    redirect_errors = [error for error in run.errors() if f"HTTP {status}, a redirect to 127.0.0.2" in error["message"]]
    assert redirect_errors and all(error["failure_type"] == "config_error" for error in redirect_errors)
    output = "\n".join(run.lines) + run.stderr
    assert LOCATION_SECRET not in output
    assert mock.account_token not in output
    # The streams that do not depend on the search still arrive.
    assert run.records()["warehouses"]


def test_given_a_search_redirected_to_another_host_when_read_on_the_declarative_runtime_then_nothing_reaches_it(
    tmp_path, proxy, config, mock
):
    with RecordingServer() as elsewhere:
        location = f"{elsewhere.base_url}/public-api/{mock.account}/{ORDER_SEARCH}?{LOCATION_SECRET}"
        proxy.add(Rule(path=ORDER_SEARCH, behaviour=redirect(302, location), count=None))

        run = declarative_read(tmp_path, config)

        assert elsewhere.seen == []
    redirect_errors = [error for error in run.errors() if "HTTP 302, a redirect to 127.0.0.2" in error["message"]]
    assert redirect_errors and all(error["failure_type"] == "config_error" for error in redirect_errors)
    assert mock.account_token not in "\n".join(run.lines) + run.stderr


def test_given_the_check_call_redirected_to_another_host_when_check_then_failed_naming_status_and_host(
    tmp_path, proxy, config, mock
):
    with RecordingServer() as elsewhere:
        location = f"{elsewhere.base_url}/public-api/{mock.account}/{ACCOUNT_CONFIGURATION}?{LOCATION_SECRET}"
        proxy.add(Rule(path=ACCOUNT_CONFIGURATION, behaviour=redirect(302, location), count=None))

        status, run = check(tmp_path, config)

        assert elsewhere.seen == []
    assert status["status"] == "FAILED"
    assert "HTTP 302, a redirect to 127.0.0.2" in status["message"]
    assert LOCATION_SECRET not in "\n".join(run.lines) + run.stderr


# ---------------------------------------------------------------- bodies


def test_given_a_gzip_bomb_when_read_then_the_stream_fails_once_without_inflating_it_in_memory(
    tmp_path, proxy, config, clean_records
):
    rule = Rule(path=CONTACT_GET, behaviour=gzip_bomb(expanded_bytes=BOMB_BYTES), count=None)
    proxy.add(rule)

    # Time enough to reach the size cap on a loaded machine: a body cut by its deadline first is retried.
    run = ConnectorProcess(tmp_path, {**config, "request_timeout_seconds": 60})

    assert run.exit_code == 1
    assert any(
        "larger than 64 MB" in error["message"] and error["failure_type"] == "system_error" for error in run.errors()
    )
    assert proxy.fired(rule) == 1  # failed, not retried
    assert run.peak_rss_bytes < BOMB_BYTES / 4


# ---------------------------------------------------------------- absurd waits


def _capped_wait_logged(line: str) -> bool:
    return f"asks for a wait of {DAY_SECONDS} s; waiting 600 s" in line


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            respond(
                503,
                THROTTLED,
                {"brightpearl-next-throttle-period": str(DAY_SECONDS * 1000), "brightpearl-requests-remaining": "0"},
            ),
            id="throttled-503",
        ),
        pytest.param(respond(429, {"response": "slow down"}, {"Retry-After": str(DAY_SECONDS)}), id="retry-after-429"),
        pytest.param(
            with_headers(
                {"brightpearl-next-throttle-period": str(DAY_SECONDS * 1000), "brightpearl-requests-remaining": "0"}
            ),
            id="budget-spent-200",
        ),
    ],
)
def test_given_a_day_long_wait_asked_once_when_read_then_the_wait_is_capped_at_10_minutes_and_logged(
    tmp_path, proxy, config, answer
):
    proxy.add(Rule(path=WAREHOUSES, behaviour=answer))

    run = ConnectorProcess(tmp_path, config, stop_at=_capped_wait_logged)

    # Still running (waiting), and saying for how long: 600 s, not the day asked for.
    assert run.stopped
    assert any(_capped_wait_logged(message) for message in run.logs())


# ---------------------------------------------------------------- answers that are not Brightpearl's


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(respond(200, "<html><body>Sign in to the hotel Wi-Fi</body></html>"), id="html-portal"),
        pytest.param(respond(200, {}), id="empty-object"),
    ],
)
def test_given_a_200_that_is_not_the_account_configuration_when_check_then_failed_saying_so(
    tmp_path, proxy, config, answer
):
    proxy.add(Rule(path=ACCOUNT_CONFIGURATION, behaviour=answer, count=None))

    status, _ = check(tmp_path, config)

    assert status["status"] == "FAILED"
    assert "does not answer like Brightpearl" in status["message"]
