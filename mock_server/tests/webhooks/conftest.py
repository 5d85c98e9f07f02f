"""Webhooks end to end: subscribe through the API, change data, and a real local receiver gets the calls.
Here: the receivers, a subscription client, and the mock the webhook tests share."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mock_server.testing import MockServer

WEBHOOK = "integration-service/webhook"
THIN_BODY = (
    '{"accountCode":"${account-code}","resourceType":"${resource-type}","id":"${resource-id}",'
    '"lifecycleEvent":"${lifecycle-event}","fullEvent":"${full-event}","raisedOn":"${raised-on}",'
    '"brightpearlVersion":"${brightpearl-version}"}'
)


class Receiver:
    """An HTTP endpoint on a free loopback port: records every call, answers the scripted statuses, then 200."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.statuses: deque[int] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.calls.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "body": body.decode(),
                        "content_type": self.headers.get("content-type"),
                    }
                )
                self.send_response(receiver.statuses.popleft() if receiver.statuses else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = _record

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def bodies(self) -> list[dict]:
        return [json.loads(call["body"]) for call in self.calls]


class StuckReceiver:
    """A receiver that takes the connection and then never answers (`hang`) or sends its status line a
    byte at a time forever (`trickle`)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closing = threading.Event()
        self._connections: list[socket.socket] = []

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._closing.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                continue
            self._connections.append(connection)
            if self.mode == "trickle":
                threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        for byte in itertools.cycle(b"HTTP/1.1 200 OK"):
            if self._closing.wait(0.3):
                return
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return

    def __enter__(self) -> StuckReceiver:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closing.set()
        for connection in self._connections:
            connection.close()
        self._listener.close()


class Hooks:
    """Webhook subscriptions through the real API; every one made is deleted after the test."""

    def __init__(self, mock: MockServer, receiver: Receiver):
        self.mock = mock
        self.receiver = receiver
        self.session = requests.Session()
        self.session.headers.update(mock.auth_headers())
        self.created: list[int] = []

    def post(self, body: dict) -> requests.Response:
        return self.session.post(self.mock.api_url(WEBHOOK), json=body, timeout=30)

    def subscribe(self, event: str, **fields) -> int:
        body = {
            "subscribeTo": event,
            "httpMethod": "POST",
            "uriTemplate": f"{self.receiver.base_url}/brightpearl",
            "bodyTemplate": THIN_BODY,
            "contentType": "application/json",
            "idSetAccepted": False,
            "qualityOfService": 1,
            **fields,
        }
        response = self.post(body)
        assert response.status_code == 200, response.text
        self.created.append(response.json()["response"])
        return self.created[-1]

    def delete(self, webhook_id: int) -> requests.Response:
        return self.session.delete(self.mock.api_url(f"{WEBHOOK}/{webhook_id}"), timeout=30)

    def attempts(self, webhook_id: int) -> list[dict]:
        """Every delivery attempt to `webhook_id`, once the queue has drained."""
        return [
            attempt for attempt in self.mock.webhook_deliveries(wait=15)["attempts"] if attempt["webhook"] == webhook_id
        ]

    def close(self) -> None:
        for webhook_id in self.created:
            self.delete(webhook_id)
        self.mock.webhook_deliveries(wait=15)
        self.mock.control("DELETE", "webhooks")
        self.session.close()


@pytest.fixture(scope="package")
def hooks_mock():
    with MockServer(orders=100, rate_limit=0, extra_args=["--webhook-retry-ms", "20"]) as mock:
        yield mock


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def hooks(hooks_mock, receiver):
    hooks = Hooks(hooks_mock, receiver)
    yield hooks
    hooks.close()


@pytest.fixture(scope="module")
def order_ids(hooks_mock):
    response = requests.get(
        hooks_mock.api_url("order-service/order-search"),
        headers=hooks_mock.auth_headers(),
        params={"pageSize": 5},
        timeout=30,
    )
    return [row[0] for row in response.json()["response"]["results"]]


def change_orders(mock: MockServer, ids: list[int]) -> None:
    """Change orders the way a user in Brightpearl's UI would: one `/_mock/mutations` call for them all."""
    mock.control(
        "POST",
        "mutations",
        [
            {"resource": "order", "action": "update", "id": order_id, "changes": {"reference": f"changed-{order_id}"}}
            for order_id in ids
        ],
    )
