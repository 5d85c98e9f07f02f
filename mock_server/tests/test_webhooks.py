"""Webhooks end to end: subscribe through the API, change data, and a real local receiver gets the calls."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mock_server.idsets import parse_id_set
from mock_server.testing import MockServer
from mock_server.webhooks import ANSWER_SECONDS, MAX_LOGGED

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


@pytest.fixture(scope="module")
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


def _change_orders(mock: MockServer, ids: list[int]) -> None:
    """Change orders the way a user in Brightpearl's UI would: one `/_mock/mutations` call for them all."""
    mock.control(
        "POST",
        "mutations",
        [
            {"resource": "order", "action": "update", "id": order_id, "changes": {"reference": f"changed-{order_id}"}}
            for order_id in ids
        ],
    )


def test_given_an_order_subscription_when_an_order_changes_then_the_receiver_gets_a_thin_payload(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe("order.modified")

    _change_orders(hooks_mock, order_ids[:1])
    hooks_mock.webhook_deliveries(wait=15)

    [call] = receiver.calls
    assert (call["method"], call["path"], call["content_type"]) == ("POST", "/brightpearl", "application/json")
    payload = json.loads(call["body"])
    assert payload.pop("raisedOn").endswith("Z")
    assert payload.pop("brightpearlVersion")
    assert payload == {
        "accountCode": "acme",
        "resourceType": "order",
        "id": str(order_ids[0]),
        "lifecycleEvent": "modified",
        "fullEvent": "order.modified",
    }


def test_given_a_receiver_that_fails_once_when_an_order_changes_then_the_delivery_is_retried_and_succeeds(
    hooks, hooks_mock, receiver, order_ids
):
    webhook_id = hooks.subscribe("order.modified", qualityOfService=1)
    receiver.statuses.append(500)

    _change_orders(hooks_mock, order_ids[:1])

    attempts = hooks.attempts(webhook_id)
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 500, "retrying"),
        (2, 200, "delivered"),
    ]
    assert [body["id"] for body in receiver.bodies()] == [str(order_ids[0])] * 2


@pytest.mark.parametrize(
    "quality, status, attempts",
    [
        (0, 500, [(500, "failed")]),
        (0, 503, [(503, "retrying"), (200, "delivered")]),
        (1, 400, [(400, "failed")]),
    ],
    ids=["at-most-once-500-not-retried", "at-most-once-503-retried", "at-least-once-400-not-retried"],
)
def test_given_a_quality_of_service_when_the_receiver_fails_once_then_only_the_retryable_failure_is_retried(
    hooks, hooks_mock, receiver, order_ids, quality, status, attempts
):
    webhook_id = hooks.subscribe("order.modified", qualityOfService=quality)
    receiver.statuses.append(status)

    _change_orders(hooks_mock, order_ids[:1])

    assert [(a["status"], a["outcome"]) for a in hooks.attempts(webhook_id)] == attempts


def test_given_a_receiver_that_always_fails_when_an_order_changes_then_delivery_stops_after_the_last_attempt(
    hooks, hooks_mock, receiver, order_ids
):
    webhook_id = hooks.subscribe("order.modified", qualityOfService=1)
    max_attempts = hooks_mock.control("GET", "webhooks")["max_attempts"]
    receiver.statuses.extend([500] * max_attempts)

    _change_orders(hooks_mock, order_ids[:1])

    outcomes = [a["outcome"] for a in hooks.attempts(webhook_id)]
    assert outcomes == ["retrying"] * (max_attempts - 1) + ["failed"]


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_given_a_stuck_receiver_beside_a_healthy_one_when_orders_change_then_the_healthy_one_is_not_held_up(
    hooks, hooks_mock, receiver, order_ids, mode
):
    with StuckReceiver(mode) as stuck:
        hooks.subscribe("order.modified", qualityOfService=0)
        stuck_id = hooks.subscribe("order.modified", qualityOfService=0, uriTemplate=f"{stuck.base_url}/hook")
        _change_orders(hooks_mock, order_ids[:1])
        _change_orders(hooks_mock, order_ids[1:2])
        deadline = time.monotonic() + ANSWER_SECONDS
        while len(receiver.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        stuck_while_healthy_served = [
            d["outcome"] for d in hooks_mock.control("GET", "webhooks")["deliveries"] if d["webhook"] == stuck_id
        ]
        stuck_attempts = hooks.attempts(stuck_id)

    assert [body["id"] for body in receiver.bodies()] == [str(order_ids[0]), str(order_ids[1])]
    assert stuck_while_healthy_served == ["pending", "pending"]
    assert [(a["status"], a["outcome"]) for a in stuck_attempts] == [(None, "failed"), (None, "failed")]
    assert all(
        a["error"].startswith("TimeoutError") and a["elapsed_ms"] < (ANSWER_SECONDS + 1) * 1000 for a in stuck_attempts
    )


def test_given_more_deliveries_than_the_log_keeps_when_they_finish_then_only_the_latest_are_logged(hooks, hooks_mock):
    every_order = [
        row[0]
        for row in requests.get(
            hooks_mock.api_url("order-service/order-search"), timeout=30, headers=hooks_mock.auth_headers()
        ).json()["response"]["results"]
    ]
    subscriptions = MAX_LOGGED // len(every_order) + 1
    for number in range(subscriptions):  # reserved hosts: logged at once, never sent
        hooks.subscribe("order.modified", uriTemplate=f"https://hook-{number}.example/${{resource-id}}")

    _change_orders(hooks_mock, every_order)

    log = hooks_mock.webhook_deliveries(wait=15)
    assert subscriptions * len(every_order) > MAX_LOGGED
    assert len(log["attempts"]) == len(log["deliveries"]) == MAX_LOGGED
    assert log["attempts"][-1]["url"] == f"https://hook-{subscriptions - 1}.example/{max(every_order)}"


def test_given_id_sets_accepted_when_three_orders_change_at_once_then_one_call_carries_all_three_ids(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe("order.modified", idSetAccepted=True)

    _change_orders(hooks_mock, order_ids[:3])
    hooks_mock.webhook_deliveries(wait=15)

    [payload] = receiver.bodies()
    assert parse_id_set(payload["id"]) == sorted(order_ids[:3])


def test_given_id_sets_not_accepted_when_three_orders_change_at_once_then_one_call_per_order(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe("order.modified", idSetAccepted=False)

    _change_orders(hooks_mock, order_ids[:3])
    hooks_mock.webhook_deliveries(wait=15)

    assert sorted(body["id"] for body in receiver.bodies()) == sorted(str(order_id) for order_id in order_ids[:3])


def test_given_a_get_subscription_when_an_order_changes_then_the_id_is_filled_into_the_url(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe(
        "order.modified",
        httpMethod="GET",
        uriTemplate=f"{receiver.base_url}/${{account-code}}/${{resource-type}}/${{resource-id}}",
    )

    _change_orders(hooks_mock, order_ids[:1])
    hooks_mock.webhook_deliveries(wait=15)

    assert [(call["method"], call["path"], call["body"]) for call in receiver.calls] == [
        ("GET", f"/acme/order/{order_ids[0]}", "")
    ]


def test_given_a_prefix_subscription_when_products_are_created_and_changed_then_it_receives_both_events(
    hooks, hooks_mock, receiver
):
    hooks.subscribe("product")
    created = hooks_mock.mutate(resource="product", action="create")

    hooks_mock.mutate(resource="product", action="update", id=created["id"], changes={"identity": {"sku": "SKU-2"}})
    hooks_mock.webhook_deliveries(wait=15)

    assert [(body["fullEvent"], body["id"]) for body in receiver.bodies()] == [
        ("product.created", str(created["id"])),
        ("product.modified", str(created["id"])),
    ]


def test_given_a_subscription_to_another_resource_when_an_order_changes_then_nothing_is_delivered(
    hooks, hooks_mock, receiver, order_ids
):
    webhook_id = hooks.subscribe("goods-out-note")

    _change_orders(hooks_mock, order_ids[:1])

    assert hooks.attempts(webhook_id) == []
    assert receiver.calls == []


def test_given_a_deleted_subscription_when_an_order_changes_then_nothing_is_delivered(
    hooks, hooks_mock, receiver, order_ids
):
    webhook_id = hooks.subscribe("order.modified")

    deleted = hooks.delete(webhook_id)
    _change_orders(hooks_mock, order_ids[:1])
    hooks_mock.webhook_deliveries(wait=15)

    assert (deleted.status_code, deleted.json()) == (200, {})
    assert receiver.calls == []


def test_given_a_subscription_when_read_back_by_id_then_it_is_as_posted(hooks, hooks_mock, receiver):
    webhook_id = hooks.subscribe("goods-out-note.modified.shipped", idSetAccepted=True)

    response = hooks.session.get(hooks_mock.api_url(f"{WEBHOOK}/{webhook_id}"), timeout=30)

    [stored] = response.json()["response"]
    assert stored == {
        "id": webhook_id,
        "subscribeTo": "goods-out-note.modified.shipped",
        "httpMethod": "POST",
        "uriTemplate": f"{receiver.base_url}/brightpearl",
        "idSetAccepted": True,
        "qualityOfService": 1,
        "bodyTemplate": THIN_BODY,
        "contentType": "application/json",
    }


def test_given_an_unknown_webhook_when_deleted_then_404(hooks):
    response = hooks.delete(99999)

    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "CMNC-404", "message": "Cannot find webhook: 99999"}]}


def test_given_an_event_that_cannot_be_subscribed_to_when_subscribing_then_400_intc_064(hooks, receiver):
    response = hooks.post({"subscribeTo": "invalid-resource", "httpMethod": "GET", "uriTemplate": receiver.base_url})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INTC-064"


@pytest.mark.parametrize("missing", ["bodyTemplate", "contentType"])
def test_given_a_post_subscription_without_a_body_template_or_content_type_when_subscribing_then_400(
    hooks, receiver, missing
):
    body = {
        "subscribeTo": "order.modified",
        "httpMethod": "POST",
        "uriTemplate": receiver.base_url,
        "bodyTemplate": THIN_BODY,
        "contentType": "application/json",
    }
    del body[missing]

    response = hooks.post(body)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "CMNC-400" and missing in error["message"]


@pytest.mark.parametrize(
    "field, value",
    [("httpMethod", "PATCH"), ("uriTemplate", "not a url"), ("qualityOfService", 2), ("idSetAccepted", "yes")],
)
def test_given_an_invalid_field_when_subscribing_then_400_naming_it(hooks, receiver, field, value):
    body = {"subscribeTo": "order.modified", "httpMethod": "GET", "uriTemplate": receiver.base_url, field: value}

    response = hooks.post(body)

    assert response.status_code == 400
    assert field in response.json()["errors"][0]["message"]


def test_given_a_subscription_when_simulated_then_the_receiver_gets_the_test_ids(hooks, hooks_mock, receiver):
    webhook_id = hooks.subscribe(
        "order.modified.order-status",
        idSetAccepted=True,
        bodyTemplate='{"id":"${resource-id}","specifier":"${resource-specifier}"}',
    )

    response = hooks.session.post(
        hooks_mock.api_url(f"{WEBHOOK}/{webhook_id}/simulate"), json={"testData": {"${resource-id}": "1-5"}}, timeout=30
    )
    hooks_mock.webhook_deliveries(wait=15)

    assert response.status_code == 200
    assert receiver.bodies() == [{"id": "1-5", "specifier": "order-status"}]


def test_given_a_simulation_with_more_than_ten_ids_when_simulated_then_400(hooks, hooks_mock):
    webhook_id = hooks.subscribe("order.modified")

    response = hooks.session.post(
        hooks_mock.api_url(f"{WEBHOOK}/{webhook_id}/simulate"),
        json={"testData": {"${resource-id}": "1-11"}},
        timeout=30,
    )

    assert response.status_code == 400


def test_given_the_seeded_subscriptions_to_reserved_hosts_when_an_order_changes_then_they_are_logged_not_sent(
    hooks, hooks_mock, order_ids
):
    _change_orders(hooks_mock, order_ids[:1])

    log = hooks_mock.webhook_deliveries(wait=15)

    seeded = [a for a in log["attempts"] if a["url"].startswith("https://hooks.acme-analytics.example/")]
    assert [(a["event"], a["status"], a["outcome"]) for a in seeded] == [("order.modified", None, "undeliverable")]


def test_given_a_data_file_when_the_mock_restarts_then_subscriptions_are_kept_and_simulations_not_resent(
    tmp_path, receiver
):
    journal = ["--data-file", str(tmp_path / "journal.jsonl"), "--webhook-retry-ms", "20"]
    with MockServer(orders=50, rate_limit=0, extra_args=journal) as mock:
        hooks = Hooks(mock, receiver)
        webhook_id = hooks.subscribe("order.modified")
        hooks.session.post(mock.api_url(f"{WEBHOOK}/{webhook_id}/simulate"), json={"testData": {}}, timeout=30)
        mock.webhook_deliveries(wait=15)

    with MockServer(orders=50, rate_limit=0, extra_args=journal) as restarted:
        listed = requests.get(
            restarted.api_url(f"{WEBHOOK}/{webhook_id}"), headers=restarted.auth_headers(), timeout=30
        )
        log = restarted.webhook_deliveries(wait=15)

    assert [stored["subscribeTo"] for stored in listed.json()["response"]] == ["order.modified"]
    assert [attempt for attempt in log["attempts"] if attempt["webhook"] == webhook_id] == []
    assert len(receiver.calls) == 1


def _api_write(mock: MockServer, method: str, path: str, body: dict) -> dict:
    response = requests.request(method, mock.api_url(path), json=body, headers=mock.auth_headers(), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _a_customer(mock: MockServer) -> int:
    response = requests.get(
        mock.api_url("order-service/order-search"),
        headers=mock.auth_headers(),
        params={"orderTypeId": 1, "columns": "contactId", "pageSize": 1},
        timeout=30,
    )
    return response.json()["response"]["results"][0][0]


def test_given_an_order_subscription_when_an_order_is_posted_through_the_api_then_its_id_is_delivered(
    hooks, hooks_mock, receiver
):
    hooks.subscribe("order.modified", idSetAccepted=True)

    order_id = _api_write(
        hooks_mock,
        "POST",
        "order-service/order",
        {"orderTypeCode": "SO", "reference": "SHOP-1", "parties": {"customer": {"contactId": _a_customer(hooks_mock)}}},
    )
    hooks_mock.webhook_deliveries(wait=15)

    assert [(body["fullEvent"], body["id"]) for body in receiver.bodies()] == [
        ("order.modified", str(order_id["response"]))
    ]


def test_given_an_order_status_subscription_when_the_status_is_put_through_the_api_then_it_is_delivered(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe("order.modified.order-status")

    _api_write(hooks_mock, "PUT", f"order-service/order/{order_ids[4]}/status", {"orderStatusId": 2})
    hooks_mock.webhook_deliveries(wait=15)

    assert [(body["fullEvent"], body["lifecycleEvent"], body["id"]) for body in receiver.bodies()] == [
        ("order.modified.order-status", "modified", str(order_ids[4]))
    ]
