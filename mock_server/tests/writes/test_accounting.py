"""Customer payment writes: the order's payment status, the journal posted, what they refuse."""

from __future__ import annotations

import pytest

from .conftest import error_of, new_sales_order, product_body


def _payment(order_id: int, amount: str, **changes) -> dict:
    return {
        "orderId": order_id,
        "paymentMethodCode": "BANK",
        "paymentType": "RECEIPT",
        "currencyIsoCode": "USD",
        "amountPaid": amount,
        "transactionRef": "BT-1",
        **changes,
    }


def test_given_a_receipt_for_the_whole_total_when_posted_then_the_order_is_paid_and_the_journal_posted(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))
    total = client.get_one(f"order-service/order/{order_id}")["totalValue"]["total"]

    payment_id = client.created("accounting-service/customer-payment", _payment(order_id, total))

    assert client.get_one(f"order-service/order/{order_id}")["orderPaymentStatus"] == "PAID"
    payment = client.rows("accounting-service/customer-payment-search", paymentId=payment_id)[0]
    lines = client.rows("accounting-service/journal-search", journalId=payment["journalId"])
    assert (payment["orderId"], payment["amountPaid"], payment["paymentType"]) == (order_id, total, "RECEIPT")
    assert [(line["nominalCode"], line["journalDebit"], line["journalCredit"]) for line in lines] == [
        ("1200", total, None),
        ("1100", None, total),
    ]


def test_given_a_receipt_for_part_of_the_total_when_posted_then_the_order_is_partially_paid(client):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))

    client.created("accounting-service/customer-payment", _payment(order_id, "1.00"))

    assert client.get_one(f"order-service/order/{order_id}")["orderPaymentStatus"] == "PARTIALLY_PAID"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"orderId": 999999}, "ACCC-001"),
        ({"paymentMethodCode": "CASH"}, "ACCC-003"),
        ({"paymentType": "GIFT"}, "ACCC-004"),
        ({"currencyIsoCode": "ZZZ"}, "ACCC-005"),
        ({"currencyIsoCode": "EUR"}, "ACCC-006"),
        ({"amountPaid": "-5"}, "ACCC-007"),
    ],
)
def test_given_an_invalid_payment_when_posted_then_400_with_the_code(client, change, code):
    order_id = new_sales_order(client, client.created("product-service/product", product_body()))

    response = client.send("POST", "accounting-service/customer-payment", _payment(order_id, "1.00", **change))

    assert error_of(response) == (400, code)
