"""Starts the mock Brightpearl server as a real subprocess, once per test session."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MOCK_ORDERS = 300
APP_REF = "acme-analytics"
ACCOUNT_TOKEN = "acme-account-token-7f3a9c2e"
STAFF_TOKEN = "acme-staff-token-5b21d4f0"


@dataclass
class MockBrightpearl:
    base_url: str

    def control(self, path: str, method: str = "GET") -> Dict[str, Any]:
        request = urllib.request.Request(f"{self.base_url}/_mock/{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def config(self, **overrides: Any) -> Dict[str, Any]:
        config = {
            "account_code": "acme",
            "api_domain": self.base_url,
            "credentials": {"auth_type": "account_token", "app_ref": APP_REF, "account_token": ACCOUNT_TOKEN},
        }
        config.update(overrides)
        return config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(base_url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mock server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/_mock/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("mock server did not become healthy in time")


@pytest.fixture(scope="session")
def mock_brightpearl() -> Iterator[MockBrightpearl]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "--port", str(port), "--orders", str(MOCK_ORDERS), "--rate-limit", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(base_url, process)
        yield MockBrightpearl(base_url=base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def run_connector(tmp_path: Path, *args: str, config: Dict[str, Any] | None = None,
                  catalog: Dict[str, Any] | None = None,
                  state: List[Any] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from source_brightpearl.run import run; run()", *args]
    for name, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            (tmp_path / f"{name}.json").write_text(json.dumps(value))
            command += [f"--{name}", str(tmp_path / f"{name}.json")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def messages(result: subprocess.CompletedProcess, message_type: str) -> List[Dict[str, Any]]:
    parsed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [message for message in parsed if message["type"] == message_type]


@pytest.fixture(scope="session")
def full_read(mock_brightpearl: MockBrightpearl, tmp_path_factory) -> Dict[str, Any]:
    """One discover and one read of every stream, shared by every test that inspects them."""
    tmp_path = tmp_path_factory.mktemp("read")
    discovered = run_connector(tmp_path, "discover", config=mock_brightpearl.config())
    catalog = messages(discovered, "CATALOG")[0]["catalog"]
    configured = {"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                              for stream in catalog["streams"]]}
    mock_brightpearl.control("stats", method="DELETE")
    result = run_connector(tmp_path, "read", config=mock_brightpearl.config(), catalog=configured)
    stats = mock_brightpearl.control("stats")
    records: Dict[str, List[Dict[str, Any]]] = {stream["name"]: [] for stream in catalog["streams"]}
    for message in messages(result, "RECORD"):
        records[message["record"]["stream"]].append(message["record"]["data"])
    return {"result": result, "catalog": catalog, "records": records, "stats": stats}


class _HostileCaseCount:
    """Counts the tests marked `hostile` (one case of integration_tests/hostile.py each) and prints
    `hostile cases held / tried` at the end of the run, like the fault matrix's survived count."""

    def __init__(self) -> None:
        self.tried: set[str] = set()
        self.failed: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if "hostile" not in report.keywords or report.skipped:
            return
        self.tried.add(report.nodeid)
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.tried:
            terminalreporter.write_line(
                f"hostile cases held / tried: {len(self.tried - self.failed)} / {len(self.tried)}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_HostileCaseCount(), "hostile-case-count")
