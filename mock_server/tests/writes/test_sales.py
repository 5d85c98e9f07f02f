"""The flat sales-order POST: the order it makes, its view, and the event it raises."""

from __future__ import annotations

from .conftest import new_customer, product_body


def test_given_the_flat_sales_order_shape_when_posted_then_the_order_and_its_view_agree(client):
    product_id = client.created("product-service/product", product_body())

    order_id = client.created(
        "order-service/sales-order",
        {
            "customer": {"id": new_customer(client)},
            "ref": "SHOP-77",
            "channelId": 2,
            "rows": [{"productId": product_id, "quantity": "2", "net": "30.00", "tax": "2.48", "taxCode": "T8"}],
        },
    )

    order = client.get_one(f"order-service/order/{order_id}")
    view = client.get_one(f"order-service/sales-order/{order_id}")
    assert (order["reference"], order["assignment"]["current"]["channelId"]) == ("SHOP-77", 2)
    assert (view["total"]["net"], view["total"]["tax"], view["rows"][0]["productId"]) == ("30.00", "2.48", product_id)


def test_given_a_sales_order_subscription_when_one_is_posted_then_sales_order_created_is_raised(client, events):
    raised = events("sales-order")

    order_id = client.created("order-service/sales-order", {"customer": {"id": new_customer(client)}, "rows": []})

    assert raised() == [("sales-order.created", str(order_id))]
