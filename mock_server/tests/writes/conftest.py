"""Writes over real sockets: one mock the write tests share, a client that sends JSON bodies, and the
records most tests start from (a customer, a product, a sales order, stock)."""

from __future__ import annotations

import uuid

import pytest
import requests

from mock_server.testing import MockServer, free_port

from ..conftest import Api, returned_clean


@pytest.fixture(scope="package")
def writable_mock():
    """A mock of its own: writes change the account, and other modules' mocks must not see that."""
    with MockServer(orders=60, rate_limit=0) as mock:
        yield mock


@pytest.fixture
def mock(writable_mock):
    yield from returned_clean(writable_mock)


class Client(Api):
    """What an integrator's app sends besides GETs: JSON bodies with the same private-app credentials."""

    def send(self, method: str, path: str, body=None, **kwargs) -> requests.Response:
        return self.session.request(method, self.mock.api_url(path), json=body, timeout=30, **kwargs)

    def created(self, path: str, body) -> int:
        response = self.send("POST", path, body)
        assert response.status_code == 200, response.text
        return response.json()["response"]

    def get_one(self, path: str) -> dict:
        response = self.send("GET", path)
        assert response.status_code == 200, response.text
        return response.json()["response"][0]


@pytest.fixture
def client(mock):
    return Client(mock)


def error_of(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errors"][0]["code"]


CUSTOMER = {
    "salutation": "Ms",
    "firstName": "Ada",
    "lastName": "Byron",
    "communication": {"emails": {"PRI": {"email": "ada@example.org"}}, "telephones": {"PRI": "+1 555 0100"}},
    "financialDetails": {"priceListId": 3, "currencyId": 1},
}


def product_body(name: str = "Waxed Tote", **changes) -> dict:
    body = {
        "brandId": 1,
        "productTypeId": 1,
        "identity": {"sku": f"SKU-{uuid.uuid4().hex[:10]}"},
        "financialDetails": {"taxCode": {"id": 3}},
        "stock": {"stockTracked": True},
        "salesChannels": [{"productName": name, "categories": [{"categoryCode": "610"}]}],
    }
    body.update(changes)
    return body


def stocked_product(client, quantity: int = 10, warehouse_id: int = 1) -> int:
    product_id = client.created("product-service/product", product_body())
    client.created(
        f"warehouse-service/warehouse/{warehouse_id}/stock-correction",
        {"corrections": [{"productId": product_id, "quantity": quantity, "reason": "Opening stock"}]},
    )
    return product_id


def availability_of(client, product_id: int) -> dict:
    return client.send(
        "GET", f"warehouse-service/product-availability/{product_id}", params={"includeOptional": "breakDownByLocation"}
    ).json()["response"][str(product_id)]


def new_customer(client) -> int:
    return client.created("contact-service/contact", CUSTOMER)


def new_supplier(client) -> int:
    return client.created(
        "contact-service/contact",
        {"firstName": "Sam", "lastName": "Supplier", "relationshipToAccount": {"isSupplier": True}},
    )


def new_sales_order(client, product_id: int, quantity: int = 2, **changes) -> int:
    body = {
        "orderTypeCode": "SO",
        "parties": {"customer": {"contactId": new_customer(client)}},
        "rows": [{"productId": product_id, "quantity": {"magnitude": str(quantity)}}],
    }
    body.update(changes)
    return client.created("order-service/order", body)


def only_row_id(order: dict) -> int:
    return int(next(iter(order["orderRows"])))


def post_goods_out(client, order_id: int, row_id: int, quantity: int, warehouse_id: int = 1) -> requests.Response:
    return client.send(
        "POST",
        f"warehouse-service/order/{order_id}/goods-note/goods-out",
        {
            "warehouses": [
                {"warehouseId": warehouse_id, "products": [{"salesOrderRowId": row_id, "quantity": quantity}]}
            ]
        },
    )


@pytest.fixture
def events(client, mock):
    """Subscribe to an event pattern (at a closed port: the delivery log is what is read); unsubscribed after."""
    subscribed = []

    def subscribe(pattern: str):
        webhook_id = client.created(
            "integration-service/webhook",
            {
                "subscribeTo": pattern,
                "httpMethod": "GET",
                "idSetAccepted": True,
                "qualityOfService": 0,
                "uriTemplate": f"http://127.0.0.1:{free_port()}/hook/${{resource-id}}",
            },
        )
        subscribed.append(webhook_id)

        def raised() -> list[tuple[str, str]]:
            deliveries = mock.webhook_deliveries()["deliveries"]
            return [(d["event"], d["ids"]) for d in deliveries if d["webhook"] == webhook_id]

        return raised

    yield subscribe
    for webhook_id in subscribed:
        client.send("DELETE", f"integration-service/webhook/{webhook_id}")
