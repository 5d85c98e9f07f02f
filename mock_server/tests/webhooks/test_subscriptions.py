"""Webhook subscriptions through the API: read back, delete, refusals, simulations, seeded hooks, restarts."""

from __future__ import annotations

import pytest
import requests

from mock_server.testing import MockServer

from .conftest import THIN_BODY, WEBHOOK, Hooks, change_orders


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
    change_orders(hooks_mock, order_ids[:1])

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
