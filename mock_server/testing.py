"""Run the mock as a real process on a free loopback port, for tests and benchmarks.

    with MockServer(orders=300, rate_limit=0) as mock:
        requests.get(mock.api_url("order-service/order-search"), headers=mock.auth_headers())
        mock.add_fault(kind="429", count=2)
        config = mock.connector_config(lookback_minutes=0)  # a source-brightpearl config for this mock

`MockServer(tls=True)` serves https; `mock.ca_file` is the CA its certificate comes from, which the
mock's own `session` already trusts.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from .state import DEFAULT_ACCOUNT, DEFAULT_ACCOUNT_TOKEN, DEFAULT_APP_REF, DEFAULT_DEV_REF, DEFAULT_STAFF_TOKEN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MockServer:
    """`brightpearl-mock` in a subprocess with the default credentials, and clients for its API and control API."""

    def __init__(
        self,
        orders: int = 300,
        rate_limit: int = 0,
        seed: int = 1,
        account: str = DEFAULT_ACCOUNT,
        extra_args: list[str] | None = None,
        startup_timeout: float = 60.0,
        tls: bool = False,
    ):
        self.port = free_port()
        self.account = account
        self._tls_dir = Path(tempfile.mkdtemp(prefix="brightpearl-mock-ca-")) if tls else None
        self.ca_file = self._tls_dir / "ca.pem" if self._tls_dir else None
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.app_ref, self.account_token = DEFAULT_APP_REF, DEFAULT_ACCOUNT_TOKEN
        self.staff_token, self.dev_ref = DEFAULT_STAFF_TOKEN, DEFAULT_DEV_REF
        self._command = [
            sys.executable,
            "-m",
            "mock_server",
            "--port",
            str(self.port),
            "--orders",
            str(orders),
            "--rate-limit",
            str(rate_limit),
            "--seed",
            str(seed),
            "--account",
            account,
            *(["--tls", "--tls-ca-file", str(self.ca_file)] if tls else []),
            *(extra_args or []),
        ]
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen | None = None
        self.output = ""  # what the process printed, once it has stopped
        self.session = requests.Session()
        # loopback only: no proxy, and a REQUESTS_CA_BUNDLE in the environment must not override `verify`
        self.session.trust_env = False
        if self.ca_file:
            self.session.verify = str(self.ca_file)

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._process = subprocess.Popen(self._command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"brightpearl-mock exited at start-up:\n{self._process.stdout.read()}")
            try:
                if self.session.get(f"{self.base_url}/_mock/health", timeout=1).ok:
                    return
            except OSError:  # not listening yet, or (with tls) its CA file not written yet
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"brightpearl-mock did not answer within {self._startup_timeout}s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._process and self._process.stdout and not self._process.stdout.closed:
            # what is left: a caller may be draining the pipe as it comes (bench/read_calls.py does)
            self.output = self._process.stdout.read()
        self.session.close()
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)

    # the API ---------------------------------------------------------------------------------
    def api_url(self, path: str) -> str:
        return f"{self.base_url}/public-api/{self.account}/{path}"

    def auth_headers(self) -> dict[str, str]:
        return {"brightpearl-app-ref": self.app_ref, "brightpearl-account-token": self.account_token}

    def connector_config(self, **overrides: Any) -> dict[str, Any]:
        """A source-brightpearl config that reads this mock with its account token; `overrides` replace keys."""
        return {
            "account_code": self.account,
            "api_domain": self.base_url,
            "credentials": {"auth_type": "account_token", "app_ref": self.app_ref, "account_token": self.account_token},
            **overrides,
        }

    def authorization_code_grant(self, **form: str) -> tuple[str, dict[str, Any]]:
        """The code an auto-approved authorization (`--oauth-auto-approve`) redirects with, and the token
        endpoint's answer to it; `form` adds to the token request's fields (a `client_secret`). The
        redirect URI is only read from the redirect, never called."""
        redirect_uri = "http://127.0.0.1:9/callback"
        approval = self.session.get(
            f"{self.base_url}/authorize/{self.account}",
            allow_redirects=False,
            timeout=10,
            params={"response_type": "code", "client_id": self.app_ref, "redirect_uri": redirect_uri, "state": "s"},
        )
        code = parse_qs(urlsplit(approval.headers["location"]).query)["code"][0]
        answer = self.session.post(
            f"{self.base_url}/token/{self.account}",
            timeout=10,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.app_ref,
                "redirect_uri": redirect_uri,
                **form,
            },
        )
        answer.raise_for_status()
        return code, answer.json()

    # the control API ---------------------------------------------------------------------------
    def control(self, method: str, path: str, payload: Any = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/_mock/{path}", json=payload, timeout=30)
        response.raise_for_status()
        return response.json()

    def health(self) -> dict:
        return self.control("GET", "health")

    def counts(self) -> dict[str, int]:
        return self.health()["counts"]

    def stats(self) -> dict:
        return self.control("GET", "stats")

    def reset_stats(self) -> None:
        self.control("DELETE", "stats")

    def add_fault(self, **fault: Any) -> None:
        self.control("POST", "faults", fault)

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def mutate(self, **change: Any) -> dict:
        return self.control("POST", "mutations", change)["results"][0]

    def advance_clock(self, seconds: float) -> None:
        self.control("POST", "clock", {"advance_seconds": seconds})

    def set_rate_limit(self, limit: int, reset: bool = True) -> None:
        self.control("POST", "rate-limit", {"limit": limit, "reset": reset})

    def webhook_deliveries(self, wait: float = 10.0) -> dict:
        """The webhook delivery log once no delivery is pending; TimeoutError if some still are after `wait` s."""
        log = self.control("GET", f"webhooks/deliveries?wait={wait}")
        if not log["drained"]:
            raise TimeoutError(f"{log['pending']} webhook deliveries still pending after {wait}s")
        return log
