"""Webhook delivery: what a receiver gets after a change (payloads, retries, quality of service, ID sets,
prefixes), made through the control API or through API writes."""

from __future__ import annotations

import json
import time

import pytest
import requests

from mock_server.idsets import parse_id_set
from mock_server.testing import MockServer
from mock_server.webhooks import ANSWER_SECONDS, MAX_LOGGED

from .conftest import StuckReceiver, change_orders


def test_given_an_order_subscription_when_an_order_changes_then_the_receiver_gets_a_thin_payload(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe("order.modified")

    change_orders(hooks_mock, order_ids[:1])
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

    change_orders(hooks_mock, order_ids[:1])

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

    change_orders(hooks_mock, order_ids[:1])

    assert [(a["status"], a["outcome"]) for a in hooks.attempts(webhook_id)] == attempts


def test_given_a_receiver_that_always_fails_when_an_order_changes_then_delivery_stops_after_the_last_attempt(
    hooks, hooks_mock, receiver, order_ids
):
    webhook_id = hooks.subscribe("order.modified", qualityOfService=1)
    max_attempts = hooks_mock.control("GET", "webhooks")["max_attempts"]
    receiver.statuses.extend([500] * max_attempts)

    change_orders(hooks_mock, order_ids[:1])

    outcomes = [a["outcome"] for a in hooks.attempts(webhook_id)]
    assert outcomes == ["retrying"] * (max_attempts - 1) + ["failed"]


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_given_a_stuck_receiver_beside_a_healthy_one_when_orders_change_then_the_healthy_one_is_not_held_up(
    hooks, hooks_mock, receiver, order_ids, mode
):
    with StuckReceiver(mode) as stuck:
        hooks.subscribe("order.modified", qualityOfService=0)
        stuck_id = hooks.subscribe("order.modified", qualityOfService=0, uriTemplate=f"{stuck.base_url}/hook")
        change_orders(hooks_mock, order_ids[:1])
        change_orders(hooks_mock, order_ids[1:2])
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

    change_orders(hooks_mock, every_order)

    log = hooks_mock.webhook_deliveries(wait=15)
    assert subscriptions * len(every_order) > MAX_LOGGED
    assert len(log["attempts"]) == len(log["deliveries"]) == MAX_LOGGED
    assert log["attempts"][-1]["url"] == f"https://hook-{subscriptions - 1}.example/{max(every_order)}"


def test_given_id_sets_accepted_when_three_orders_change_at_once_then_one_call_carries_all_three_ids(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe("order.modified", idSetAccepted=True)

    change_orders(hooks_mock, order_ids[:3])
    hooks_mock.webhook_deliveries(wait=15)

    [payload] = receiver.bodies()
    assert parse_id_set(payload["id"]) == sorted(order_ids[:3])


def test_given_id_sets_not_accepted_when_three_orders_change_at_once_then_one_call_per_order(
    hooks, hooks_mock, receiver, order_ids
):
    hooks.subscribe("order.modified", idSetAccepted=False)

    change_orders(hooks_mock, order_ids[:3])
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

    change_orders(hooks_mock, order_ids[:1])
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

    change_orders(hooks_mock, order_ids[:1])

    assert hooks.attempts(webhook_id) == []
    assert receiver.calls == []


def test_given_a_deleted_subscription_when_an_order_changes_then_nothing_is_delivered(
    hooks, hooks_mock, receiver, order_ids
):
    webhook_id = hooks.subscribe("order.modified")

    deleted = hooks.delete(webhook_id)
    change_orders(hooks_mock, order_ids[:1])
    hooks_mock.webhook_deliveries(wait=15)

    assert (deleted.status_code, deleted.json()) == (200, {})
    assert receiver.calls == []


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
