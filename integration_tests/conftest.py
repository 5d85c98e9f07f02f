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
from typing import Any, Dict, Iterator

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
