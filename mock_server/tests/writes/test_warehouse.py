"""Stock writes: corrections, goods-out and goods-in notes, what they refuse, what availability shows."""

from __future__ import annotations

import pytest
import requests

from .conftest import (
    availability_of,
    error_of,
    new_sales_order,
    new_supplier,
    only_row_id,
    post_goods_out,
    product_body,
    stocked_product,
)


def test_given_a_stock_correction_when_posted_then_availability_and_the_movement_search_show_it(client):
    product_id = client.created("product-service/product", product_body())

    [note_id] = client.created(
        "warehouse-service/warehouse/2/stock-correction",
        {"corrections": [{"productId": product_id, "quantity": 7, "reason": "Found in count", "locationId": 205}]},
    )

    availability = availability_of(client, product_id)
    assert availability["warehouses"]["2"] == {"inStock": 7, "onHand": 7, "allocated": 0, "inTransit": 0}
    assert availability["breakDownByLocation"] == {"2": {"205": {"inStock": 7, "onHand": 7, "allocated": 0}}}
    movements = client.rows("warehouse-service/goods-movement-search", productId=product_id)
    assert [(m["goodsNoteId"], m["quantity"], m["goodsNoteTypeCode"]) for m in movements] == [(note_id, 7, "SC")]
    assert client.get_one(f"warehouse-service/warehouse/2/stock-correction/{note_id}")["reason"] == "Found in count"


def test_given_two_corrections_when_posted_then_the_answer_is_the_array_of_one_note_id_each(client):
    first, second = (client.created("product-service/product", product_body()) for _ in range(2))

    response = client.send(
        "POST",
        "warehouse-service/warehouse/1/stock-correction",
        {
            "corrections": [
                {"productId": first, "quantity": 3, "reason": "Opening stock"},
                {"productId": second, "quantity": 5, "reason": "Found in count"},
            ]
        },
    )

    note_ids = response.json()["response"]
    notes = [client.get_one(f"warehouse-service/warehouse/1/stock-correction/{note_id}") for note_id in note_ids]
    assert response.status_code == 200 and len(set(note_ids)) == 2 and all(type(i) is int for i in note_ids)
    assert [(note["reason"], [line["productId"] for line in note["goodsMoved"]]) for note in notes] == [
        ("Opening stock", [first]),
        ("Found in count", [second]),
    ]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"quantity": -11, "reason": "Damaged"}, "WHSC-108"),
        ({"quantity": 0, "reason": "Nothing"}, "WHSC-122"),
        ({"quantity": 1, "reason": ""}, "WHSC-123"),
        ({"quantity": 1, "reason": "Count", "locationId": 301}, "WHSC-113"),
        ({"quantity": 1, "reason": "Count", "cost": {"currency": "ZZZ", "value": "1.00"}}, "WHSC-124"),
    ],
)
def test_given_an_invalid_correction_when_posted_then_400_and_availability_is_unchanged(client, line, code):
    product_id = stocked_product(client, quantity=10)

    response = client.send(
        "POST", "warehouse-service/warehouse/1/stock-correction", {"corrections": [{"productId": product_id, **line}]}
    )

    assert error_of(response) == (400, code)
    assert availability_of(client, product_id)["total"]["inStock"] == 10


def test_given_a_product_not_stock_tracked_when_corrected_then_400_whsc_097(client):
    product_id = client.created("product-service/product", product_body(stock={"stockTracked": False}))

    response = client.send(
        "POST",
        "warehouse-service/warehouse/1/stock-correction",
        {"corrections": [{"productId": product_id, "quantity": 1, "reason": "Count"}]},
    )

    assert error_of(response) == (400, "WHSC-097")


def test_given_a_goods_out_note_when_posted_then_stock_moves_from_on_hand_to_allocated(client):
    product_id = stocked_product(client, quantity=10)
    order_id = new_sales_order(client, product_id, quantity=3)
    row_id = only_row_id(client.get_one(f"order-service/order/{order_id}"))

    response = post_goods_out(client, order_id, row_id, 3)

    note_id = response.json()["response"][0]
    assert availability_of(client, product_id)["warehouses"]["1"] == {
        "inStock": 10,
        "onHand": 7,
        "allocated": 3,
        "inTransit": 0,
    }
    note = client.send("GET", f"warehouse-service/order/{order_id}/goods-note/goods-out/{note_id}").json()
    assert note["response"][str(note_id)]["orderRows"][str(row_id)][0]["quantity"] == 3


def _allocated_note(client, product_id: int, quantity: int) -> tuple[int, int]:
    """A sales order of `quantity` of the product, allocated in one goods-out note: (order, note)."""
    order_id = new_sales_order(client, product_id, quantity=quantity)
    row_id = only_row_id(client.get_one(f"order-service/order/{order_id}"))
    return order_id, post_goods_out(client, order_id, row_id, quantity).json()["response"][0]


def test_given_an_allocated_note_when_shipped_then_its_stock_leaves_in_stock_and_allocated(client):
    product_id = stocked_product(client, quantity=10)
    order_id, note_id = _allocated_note(client, product_id, 3)

    response = client.send(
        "POST", f"warehouse-service/goods-note/goods-out/{note_id}/event", {"events": [{"eventCode": "SHW"}]}
    )

    assert response.status_code == 200, response.text
    assert availability_of(client, product_id)["warehouses"]["1"] == {
        "inStock": 7,
        "onHand": 7,
        "allocated": 0,
        "inTransit": 0,
    }
    movements = client.rows("warehouse-service/goods-movement-search", goodsNoteId=note_id)
    assert [(m["productId"], m["quantity"], m["goodsNoteTypeCode"]) for m in movements] == [(product_id, -3, "GO")]
    assert client.get_one(f"order-service/order/{order_id}")["shippingStatusCode"] == "ASS"


def test_given_a_shipped_note_when_shipped_again_then_400_and_no_second_movement(client):
    product_id = stocked_product(client, quantity=10)
    _, note_id = _allocated_note(client, product_id, 2)
    path = f"warehouse-service/goods-note/goods-out/{note_id}/event"
    client.send("POST", path, {"events": [{"eventCode": "SHW"}]})

    response = client.send("POST", path, {"events": [{"eventCode": "SHW"}]})

    assert error_of(response) == (400, "WHSC-115")
    assert len(client.rows("warehouse-service/goods-movement-search", goodsNoteId=note_id)) == 1


def test_given_a_goods_movement_changed_by_mutation_when_availability_is_read_then_it_follows(client, mock):
    product_id = stocked_product(client, quantity=10)
    [movement] = client.rows("warehouse-service/goods-movement-search", productId=product_id)

    mock.mutate(resource="goods-movement", action="update", id=movement["goodsMovementId"], changes={"quantity": 4})

    assert availability_of(client, product_id)["total"]["inStock"] == 4


def test_given_availability_when_mutated_directly_then_400_naming_what_it_is_derived_from(mock):
    with pytest.raises(requests.HTTPError) as refused:
        mock.mutate(resource="product-availability", action="update", id=1001, changes={"total": {}})

    assert refused.value.response.status_code == 400
    assert "derived from goods-movement" in refused.value.response.text


def test_given_all_or_part_of_an_order_allocated_when_read_then_its_stock_status_says_so(client):
    product_id = stocked_product(client, quantity=10)
    order_id = new_sales_order(client, product_id, quantity=3)
    row_id = only_row_id(client.get_one(f"order-service/order/{order_id}"))

    post_goods_out(client, order_id, row_id, 1)
    part = client.get_one(f"order-service/order/{order_id}")
    post_goods_out(client, order_id, row_id, 2)
    whole = client.get_one(f"order-service/order/{order_id}")

    assert (part["stockStatusCode"], part["allocationStatusCode"]) == ("SPA", "APA")
    assert (whole["stockStatusCode"], whole["allocationStatusCode"]) == ("SOA", "AAA")
    assert client.rows("order-service/order-search", orderId=order_id)[0]["orderStockStatusId"] == 4


@pytest.mark.parametrize(("quantity", "stock", "code"), [(4, 10, "WHSC-107"), (3, 2, "WHSC-108")])
def test_given_more_than_the_row_or_the_stock_when_allocating_then_400_and_nothing_moves(client, quantity, stock, code):
    product_id = stocked_product(client, quantity=stock)
    order_id = new_sales_order(client, product_id, quantity=3)
    row_id = only_row_id(client.get_one(f"order-service/order/{order_id}"))

    response = post_goods_out(client, order_id, row_id, quantity)

    assert error_of(response) == (400, code)
    assert availability_of(client, product_id)["total"]["allocated"] == 0


def test_given_a_purchase_order_when_a_goods_out_note_is_posted_then_400_whsc_101(client):
    product_id = stocked_product(client)
    order_id = client.created(
        "order-service/order",
        {
            "orderTypeCode": "PO",
            "parties": {"supplier": {"contactId": new_supplier(client)}},
            "rows": [{"productId": product_id}],
        },
    )
    row_id = only_row_id(client.get_one(f"order-service/order/{order_id}"))

    assert error_of(post_goods_out(client, order_id, row_id, 1)) == (400, "WHSC-101")


def _purchase_order(client, product_id: int, quantity: int) -> tuple[int, int]:
    order_id = client.created(
        "order-service/order",
        {
            "orderTypeCode": "PO",
            "parties": {"supplier": {"contactId": new_supplier(client)}},
            "rows": [{"productId": product_id, "quantity": {"magnitude": str(quantity)}}],
        },
    )
    return order_id, only_row_id(client.get_one(f"order-service/order/{order_id}"))


def test_given_a_purchase_order_received_in_full_when_posted_then_stock_rises_and_the_order_is_received(client):
    product_id = client.created("product-service/product", product_body())
    order_id, row_id = _purchase_order(client, product_id, 20)

    note_id = client.created(
        f"warehouse-service/order/{order_id}/goods-note/goods-in",
        {"goodsMoved": [{"purchaseOrderRowId": row_id, "quantity": 20}]},
    )

    assert availability_of(client, product_id)["total"]["inStock"] == 20
    assert client.get_one(f"order-service/order/{order_id}")["stockStatusCode"] == "POR"
    lines = client.rows("warehouse-service/goods-in-search", purchaseOrderId=order_id)
    assert [(line["batchId"], line["receivedQuantity"]) for line in lines] == [(note_id, 20)]


def test_given_a_part_receipt_when_posted_then_the_order_is_still_not_received(client):
    product_id = client.created("product-service/product", product_body())
    order_id, row_id = _purchase_order(client, product_id, 20)

    client.created(
        f"warehouse-service/order/{order_id}/goods-note/goods-in",
        {"goodsMoved": [{"purchaseOrderRowId": row_id, "quantity": 5}]},
    )

    assert client.get_one(f"order-service/order/{order_id}")["stockStatusCode"] == "PON"


def test_given_more_than_is_outstanding_when_receiving_then_400_whsc_112(client):
    product_id = client.created("product-service/product", product_body())
    order_id, row_id = _purchase_order(client, product_id, 5)

    response = client.send(
        "POST",
        f"warehouse-service/order/{order_id}/goods-note/goods-in",
        {"goodsMoved": [{"purchaseOrderRowId": row_id, "quantity": 6}]},
    )

    assert error_of(response) == (400, "WHSC-112")


def test_given_an_on_hand_subscription_when_stock_is_allocated_then_the_product_event_is_raised(client, events):
    product_id = stocked_product(client, quantity=5)
    order_id = new_sales_order(client, product_id, quantity=1)
    raised = events("product.modified.on-hand-modified")

    post_goods_out(client, order_id, only_row_id(client.get_one(f"order-service/order/{order_id}")), 1)

    assert raised() == [("product.modified.on-hand-modified", str(product_id))]
