"""Order writes: orders, their rows and statuses, what they refuse, what reads and webhooks see."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from .conftest import error_of, new_customer, new_sales_order, only_row_id, product_body


def test_given_a_sales_order_with_rows_when_posted_then_rows_are_priced_from_its_price_list_and_totalled(client):
    product_id = client.created("product-service/product", product_body())
    client.send("PUT", f"product-service/product-price/{product_id}/price-list/3", {"quantityPrice": {"1": "20.00"}})

    order_id = new_sales_order(client, product_id, quantity=3)

    order = client.get_one(f"order-service/order/{order_id}")
    row = order["orderRows"][str(only_row_id(order))]
    assert (order["orderTypeCode"], order["priceListId"], row["productId"]) == ("SO", 3, product_id)
    assert (row["productPrice"]["value"], row["rowValue"]["rowNet"]["value"], row["rowValue"]["rowTax"]["value"]) == (
        "20.0000",
        "60.0000",
        "4.95",
    )
    assert (order["totalValue"]["net"], order["totalValue"]["taxAmount"], order["totalValue"]["total"]) == (
        "60.00",
        "4.95",
        "64.95",
    )
    assert (order["stockStatusCode"], order["orderPaymentStatus"]) == ("SON", "UNPAID")


def test_given_a_posted_order_when_searching_then_the_search_and_the_sales_order_view_see_it(client):
    product_id = client.created("product-service/product", product_body())

    order_id = new_sales_order(client, product_id, reference="WEB-4242")

    rows = client.rows("order-service/order-search", customerRef="WEB-4242")
    assert [row["orderId"] for row in rows] == [order_id]
    assert client.get_one(f"order-service/sales-order/{order_id}")["ref"] == "WEB-4242"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"orderTypeCode": None}, "ORDC-005"),
        ({"orderTypeCode": "XX"}, "ORDC-006"),
        ({"parties": {"customer": {"contactId": 999999}}}, "ORDC-008"),
        ({"currency": {"orderCurrencyCode": "ZZZ"}}, "ORDC-010"),
        ({"orderStatus": {"orderStatusId": 7}}, "ORDC-012"),
        ({"warehouseId": 99}, "ORDC-013"),
        ({"rows": [{"productId": 999999}]}, "ORDC-020"),
        ({"rows": [{"name": "Gift wrap", "rowValue": {"taxCode": "NOPE"}}]}, "ORDC-023"),
    ],
)
def test_given_an_invalid_order_when_posted_then_400_with_the_code_and_no_order_is_made(client, mock, change, code):
    before = mock.counts()["order"]
    body = {"orderTypeCode": "SO", "parties": {"customer": {"contactId": 12}}, **change}

    response = client.send("POST", "order-service/order", {k: v for k, v in body.items() if v is not None})

    assert error_of(response) == (400, code)
    assert mock.counts()["order"] == before


def test_given_a_purchase_order_for_a_customer_when_posted_then_400_ordc_009(client):
    body = {"orderTypeCode": "PO", "parties": {"supplier": {"contactId": new_customer(client)}}}

    assert error_of(client.send("POST", "order-service/order", body)) == (400, "ORDC-009")


def test_given_an_order_when_a_row_is_posted_then_totals_grow_and_updated_on_moves(client, mock):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))
    before = client.get_one(f"order-service/order/{order_id}")
    mock.advance_clock(60)

    row_id = client.created(
        f"order-service/order/{order_id}/row",
        {
            "name": "Gift wrap",
            "quantity": {"magnitude": "1"},
            "rowValue": {"taxCode": "T0", "rowNet": {"value": "2.50"}},
        },
    )

    after = client.get_one(f"order-service/order/{order_id}")
    assert after["orderRows"][str(row_id)]["productName"] == "Gift wrap"
    assert Decimal(after["totalValue"]["net"]) == Decimal(before["totalValue"]["net"]) + Decimal("2.50")
    assert datetime.fromisoformat(after["updatedOn"]) > datetime.fromisoformat(before["updatedOn"])


def test_given_a_row_when_its_quantity_is_patched_then_net_tax_and_totals_follow(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()), quantity=1)
    order = client.get_one(f"order-service/order/{order_id}")
    row_id = only_row_id(order)
    unit = Decimal(order["orderRows"][str(row_id)]["productPrice"]["value"])

    response = client.send(
        "PATCH",
        f"order-service/order/{order_id}/row/{row_id}",
        [{"op": "replace", "path": "/quantity/magnitude", "value": "4"}],
    )

    row = client.get_one(f"order-service/order/{order_id}")["orderRows"][str(row_id)]
    after = client.get_one(f"order-service/order/{order_id}")
    assert response.status_code == 200
    assert Decimal(row["rowValue"]["rowNet"]["value"]) == unit * 4
    assert Decimal(after["totalValue"]["net"]) == (unit * 4).quantize(Decimal("0.01"))


def test_given_a_row_when_patched_then_the_answer_is_the_patched_row_as_recorded(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()), quantity=1)
    row_id = only_row_id(client.get_one(f"order-service/order/{order_id}"))

    response = client.send(
        "PATCH",
        f"order-service/order/{order_id}/row/{row_id}",
        [{"op": "replace", "path": "/quantity/magnitude", "value": "3"}],
    )

    row = client.get_one(f"order-service/order/{order_id}")["orderRows"][str(row_id)]
    assert response.json() == {"response": row} and row["quantity"]["magnitude"] == "3.0000"
    assert response.headers["message-type"] == "patch-order-row"


def test_given_an_unknown_row_when_patched_then_404(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))

    response = client.send(
        "PATCH", f"order-service/order/{order_id}/row/1", [{"op": "replace", "path": "/x", "value": 1}]
    )

    assert error_of(response) == (404, "CMNC-404")


def test_given_a_status_with_a_note_when_put_then_the_status_changes_and_the_note_is_searchable(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))

    response = client.send(
        "PUT",
        f"order-service/order/{order_id}/status",
        {"orderStatusId": 4, "orderNote": {"text": "Paid by phone", "isPublic": False}},
    )

    assert (response.status_code, response.json()) == (200, {})
    assert client.get_one(f"order-service/order/{order_id}")["orderStatus"] == {
        "orderStatusId": 4,
        "name": "Ready to ship",
    }
    notes = client.rows("order-service/order-note-search", orderId=order_id)
    assert [(note["noteText"], note["orderStatusId"]) for note in notes] == [("Paid by phone", 4)]


def test_given_a_purchase_status_when_put_on_a_sales_order_then_400_ordc_012(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))

    response = client.send("PUT", f"order-service/order/{order_id}/status", {"orderStatusId": 9})

    assert error_of(response) == (400, "ORDC-012")


def test_given_an_order_header_when_put_then_the_reference_changes_in_get_and_search(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))

    response = client.send(
        "PUT", f"order-service/order/{order_id}", {"reference": "WEB-RENAMED", "delivery": {"shippingMethodId": 3}}
    )

    order = client.get_one(f"order-service/order/{order_id}")
    assert response.status_code == 200
    assert (order["reference"], order["delivery"]["shippingMethodId"]) == ("WEB-RENAMED", 3)
    assert client.rows("order-service/order-search", customerRef="WEB-RENAMED")[0]["orderId"] == order_id


def test_given_rows_or_totals_in_an_order_put_when_sent_then_400_ordc_026(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))

    response = client.send("PUT", f"order-service/order/{order_id}", {"totalValue": {"total": "0.00"}})

    assert error_of(response) == (400, "ORDC-026")


def test_given_a_status_subscription_when_the_status_is_put_then_order_status_event_is_raised(client, events):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))
    raised = events("order.modified.order-status")

    client.send("PUT", f"order-service/order/{order_id}/status", {"orderStatusId": 3})

    assert raised() == [("order.modified.order-status", str(order_id))]
