"""Writes through the pipeline every call takes: body decoding, budget, auth, stats, hostile bodies."""

from __future__ import annotations

import json
import random
import re

import pytest
import requests

from mock_server.errors import TOO_MANY_REQUESTS
from mock_server.testing import MockServer
from mock_server.writes import WRITES

from .conftest import CUSTOMER, Client, error_of


def test_given_a_body_that_is_not_json_when_posted_then_400_saying_so(client):
    response = client.send("POST", "contact-service/contact", data=b"{firstName: Ada")

    assert error_of(response) == (400, "CMNC-400")
    assert "not valid JSON" in response.json()["errors"][0]["message"]


def test_given_the_budget_is_spent_when_writing_then_503_and_nothing_is_written(client, mock):
    mock.set_rate_limit(1)
    client.send("GET", "contact-service/contact-search")
    before = mock.counts()["contact"]

    response = client.send("POST", "contact-service/contact", CUSTOMER)

    assert (response.status_code, response.json()) == (503, {"response": TOO_MANY_REQUESTS})
    assert mock.counts()["contact"] == before


def test_given_no_credentials_when_writing_then_401_and_nothing_is_written(mock):
    before = mock.counts()["contact"]

    response = requests.post(mock.api_url("contact-service/contact"), json=CUSTOMER, timeout=10)

    assert response.status_code == 401
    assert mock.counts()["contact"] == before


def test_given_a_write_when_counted_then_stats_name_the_write_route(client, mock):
    mock.reset_stats()

    client.created("contact-service/contact", CUSTOMER)

    assert mock.stats()["routes"]["POST contact-service/contact"] == {"200": 1}


@pytest.fixture(scope="module")
def untouched_mock():
    """A mock no other test writes to, so what hostile bodies change reaches no other test's records."""
    with MockServer(orders=60, rate_limit=0) as mock:
        yield mock


HOSTILE_VALUES = [None, [], {}, "x", 1, True, -1, 1.5, "1", [None], [[]], {"x": {}}, 100001, 1001, "SO", "USD"]
BODY_KEYS = [
    "orderTypeCode",
    "parties",
    "customer",
    "rows",
    "orderStatusId",
    "orderStatus",
    "warehouseId",
    "priceListId",
    "currency",
    "delivery",
    "productId",
    "quantity",
    "rowValue",
    "name",
    "brandId",
    "identity",
    "salesChannels",
    "financialDetails",
    "stock",
    "quantityPrice",
    "firstName",
    "communication",
    "relationshipToAccount",
    "organisation",
    "warehouses",
    "products",
    "purchaseOrderId",
    "goodsMoved",
    "corrections",
    "orderId",
    "paymentMethodCode",
    "currencyIsoCode",
    "amountPaid",
    "placedOn",
]


def _hostile(rng: random.Random, depth: int = 0):
    draw = rng.random()
    if depth < 2 and draw < 0.3:
        return {rng.choice(BODY_KEYS): _hostile(rng, depth + 1) for _ in range(rng.randint(1, 4))}
    if depth < 2 and draw < 0.4:
        return [_hostile(rng, depth + 1) for _ in range(rng.randint(1, 2))]
    return rng.choice(HOSTILE_VALUES)


def test_given_300_hostile_write_bodies_when_sent_then_no_unrequested_5xx_comes_back(untouched_mock):
    client = Client(untouched_mock)
    rng = random.Random(20261123)
    unexpected = []

    for _ in range(300):
        write = rng.choice(WRITES)
        path = re.sub(r"\{\w+\}", lambda _: str(rng.choice([1, 2, 1001, 100001, 500001, 999999])), write.path)
        body = (
            _hostile(rng)
            if rng.random() < 0.5
            else {key: _hostile(rng, 1) for key in rng.sample(BODY_KEYS, rng.randint(1, 6))}
        )
        response = client.send(write.method, path, data=json.dumps(body), headers={"content-type": "application/json"})
        if response.status_code >= 500 and response.json()["errors"][0]["code"] != "CMNC-044":
            unexpected.append((write.method, path, body, response.status_code, response.text[:200]))

    assert unexpected == []
