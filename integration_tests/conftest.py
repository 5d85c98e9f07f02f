"""The session's mock Brightpearl (a real `brightpearl-mock` process), the connector as a subprocess, and
a count of the hostile-server cases."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mock_server.testing import MockServer

MOCK_ORDERS = 300


@dataclass
class MockBrightpearl:
    """The session's mock as the tests here call it: `control(path, method)` and `config(**overrides)`.

    `server` is the `MockServer` underneath, for everything else (URLs, auth headers, faults).
    """

    server: MockServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def control(self, path: str, method: str = "GET") -> dict[str, Any]:
        return self.server.control(method, path)

    def config(self, **overrides: Any) -> dict[str, Any]:
        return self.server.connector_config(**overrides)


@pytest.fixture(scope="session")
def mock_brightpearl() -> Iterator[MockBrightpearl]:
    with MockServer(orders=MOCK_ORDERS, rate_limit=0) as server:
        yield MockBrightpearl(server)


def run_connector(
    tmp_path: Path,
    *args: str,
    config: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    state: list[Any] | None = None,
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from source_brightpearl.run import run; run()", *args]
    for name, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            (tmp_path / f"{name}.json").write_text(json.dumps(value))
            command += [f"--{name}", str(tmp_path / f"{name}.json")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def messages(result: subprocess.CompletedProcess, message_type: str) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [message for message in parsed if message["type"] == message_type]


@pytest.fixture(scope="session")
def full_read(mock_brightpearl: MockBrightpearl, tmp_path_factory) -> dict[str, Any]:
    """One discover and one read of every stream, shared by every test that inspects them."""
    tmp_path = tmp_path_factory.mktemp("read")
    discovered = run_connector(tmp_path, "discover", config=mock_brightpearl.config())
    catalog = messages(discovered, "CATALOG")[0]["catalog"]
    configured = {
        "streams": [
            {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for stream in catalog["streams"]
        ]
    }
    mock_brightpearl.control("stats", method="DELETE")
    result = run_connector(tmp_path, "read", config=mock_brightpearl.config(), catalog=configured)
    stats = mock_brightpearl.control("stats")
    records: dict[str, list[dict[str, Any]]] = {stream["name"]: [] for stream in catalog["streams"]}
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
                f"hostile cases held / tried: {len(self.tried - self.failed)} / {len(self.tried)}"
            )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_HostileCaseCount(), "hostile-case-count")
