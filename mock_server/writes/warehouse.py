"""Stock writes: goods-out notes allocate a sales order's rows; goods-in notes and corrections move stock."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from .. import errors
from ..builders.catalogue import cost_price
from ..builders.reference import BASE_CURRENCY, LOCATIONS_PER_WAREHOUSE, stock_location
from ..builders.warehouse import correction_movements, goods_in_movements
from ..resources import Record
from ..store import Dataset
from ..world import World
from .framework import (
    WriteCall,
    invalid,
    json_object,
    local_stamp,
    new_id,
    parse_decimal,
    parse_moment,
    text_field,
    true_or_false,
)
from .orders import find_order, moved_quantities, save_order, stock_tracked

GOODS_NOTES = ("goods-out-note", "goods-in-note", "stock-correction")


def _new_goods_note_id(dataset: Dataset) -> int:
    """Goods-out, goods-in notes and stock corrections share one ID sequence, as in the seeded account."""
    return dataset.next_id("goods-note", lambda: max(max(dataset[name].ids(), default=0) for name in GOODS_NOTES))


def empty_availability(product_id: int) -> Record:
    return {"productId": product_id, "total": _figures(), "warehouses": {}, "breakDownByLocation": {}}


def _figures() -> Record:
    return {"inStock": 0, "onHand": 0, "allocated": 0, "inTransit": 0}


class _Stock:
    """Availability records being changed by one write, stored together once every line has passed."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.changed: dict[int, Record] = {}

    def availability(self, product_id: int) -> Record:
        if product_id not in self.changed:
            table = self.dataset["product-availability"]
            self.changed[product_id] = (
                table.record(product_id) if product_id in table else empty_availability(product_id)
            )
        return self.changed[product_id]

    def on_hand(self, product_id: int, warehouse_id: int) -> int:
        return self.availability(product_id)["warehouses"].get(str(warehouse_id), _figures())["onHand"]

    def move(self, product_id: int, warehouse_id: int, location_id: int, in_stock: int = 0, allocated: int = 0) -> None:
        """Add to a location's stock and allocation; on hand is what is in stock and not allocated."""
        record = self.availability(product_id)
        location = (
            record["breakDownByLocation"]
            .setdefault(str(warehouse_id), {})
            .setdefault(str(location_id), {"inStock": 0, "onHand": 0, "allocated": 0})
        )
        for figures in (location, record["warehouses"].setdefault(str(warehouse_id), _figures()), record["total"]):
            figures["inStock"] += in_stock
            figures["allocated"] += allocated
            figures["onHand"] += in_stock - allocated

    def save(self, call: WriteCall) -> None:
        for record in self.changed.values():
            self.dataset["product-availability"].put(record)
        call.publish("product.modified.on-hand-modified", sorted(self.changed))


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise invalid("WHSC-106", f"{name} must be a whole number above 0, not {value!r}")
    return value


def _warehouse(dataset: Dataset, warehouse_id: Any) -> int:
    if warehouse_id not in dataset["warehouse"]:
        raise invalid("WHSC-103", f"Warehouse {warehouse_id!r} does not exist")
    return warehouse_id


def _location(warehouse_id: int, product_id: int, location_id: Any) -> int:
    if location_id is None:
        return stock_location(warehouse_id, product_id)
    if not (
        isinstance(location_id, int)
        and location_id // 100 == warehouse_id
        and 1 <= location_id % 100 <= LOCATIONS_PER_WAREHOUSE
    ):
        raise invalid("WHSC-113", f"Location {location_id!r} is not in warehouse {warehouse_id}")
    return location_id


def _tracked_product(dataset: Dataset, product_id: Any) -> int:
    if product_id not in dataset["product"]:
        raise invalid("WHSC-121", f"Product {product_id!r} does not exist")
    if not stock_tracked(dataset, product_id):
        raise invalid("WHSC-097", "These are non stock tracked products.")
    return product_id


def _lines(body: Any, key: str, what: str) -> list[dict]:
    lines = json_object(body, what).get(key)
    if not isinstance(lines, list) or not lines:
        raise invalid("WHSC-102", f"{key} must list at least one line")
    return [json_object(line, f"A line of {key}") for line in lines]


def post_goods_out_note(call: WriteCall) -> list[int]:
    """Allocate a sales order's rows: one note per warehouse entry; stock moves from on hand to allocated."""
    dataset = call.dataset
    order = find_order(dataset, call.ids["orderId"])
    if order["orderTypeCode"] != "SO":
        raise invalid(
            "WHSC-101", f"Order {order['id']} is a {order['orderTypeCode']}; goods-out notes are for sales orders"
        )
    body = json_object(call.body, "The goods-out note")
    entries = _lines(body, "warehouses", "The goods-out note")
    allocated = moved_quantities(dataset, "goods-out-note", order["id"])
    stock = _Stock(dataset)
    notes = []
    for entry in entries:
        warehouse_id = _warehouse(dataset, entry.get("warehouseId"))
        note_rows: dict[str, list[dict]] = defaultdict(list)
        for line in _lines(entry, "products", "A warehouse entry"):
            row_id = line.get("salesOrderRowId")
            row = order["orderRows"].get(str(row_id)) if isinstance(row_id, int) else None
            if row is None:
                raise invalid("WHSC-104", f"Row {row_id!r} is not a row of order {order['id']}")
            product_id = line.get("productId", row.get("productId"))
            if product_id != row.get("productId"):
                raise invalid("WHSC-105", f"Row {row_id} is for product {row.get('productId')}, not {product_id!r}")
            _tracked_product(dataset, product_id)
            quantity = _whole(line.get("quantity"), "quantity")
            open_quantity = int(Decimal(row["quantity"]["magnitude"])) - allocated[row_id]
            if quantity > open_quantity:
                raise invalid("WHSC-107", f"Row {row_id} has {open_quantity} left to allocate, not {quantity}")
            if quantity > stock.on_hand(product_id, warehouse_id):
                raise invalid(
                    "WHSC-108",
                    f"Product {product_id} has {stock.on_hand(product_id, warehouse_id)} "
                    f"on hand in warehouse {warehouse_id}, not {quantity}",
                )
            location_id = stock_location(warehouse_id, product_id)
            stock.move(product_id, warehouse_id, location_id, allocated=quantity)
            allocated[row_id] += quantity
            note_rows[str(row_id)].append({"productId": product_id, "quantity": quantity, "locationId": location_id})
        release = entry.get("releaseDate")
        if release is not None and parse_moment(release) is None:
            raise invalid("WHSC-109", f"releaseDate must be an ISO 8601 date-time, not {release!r}")
        notes.append(
            {
                "orderId": order["id"],
                "warehouseId": warehouse_id,
                "transfer": False,
                "priority": true_or_false(body.get("priority", False), "priority"),
                "status": {"printed": False, "picked": False, "packed": False, "shipped": False},
                "shipping": {"shippingMethodId": body.get("shippingMethodId", order["delivery"]["shippingMethodId"])},
                "releaseDate": local_stamp(dataset, release) if release else call.now,
                "createdOn": call.now,
                "createdBy": 1,
                "channelId": order["assignment"]["current"]["channelId"],
                "orderRows": dict(note_rows),
                "sequence": 1,
                "events": [],
                "lastEventVersion": 0,
            }
        )
    if notes[0]["shipping"]["shippingMethodId"] not in dataset["shipping-method"]:
        raise invalid("WHSC-110", f"Shipping method {notes[0]['shipping']['shippingMethodId']!r} does not exist")
    for note in notes:
        note["goodsOutNoteId"] = _new_goods_note_id(dataset)
        dataset["goods-out-note"].put(note)
    stock.save(call)
    save_order(call, order)
    call.publish("goods-out-note.created", [note["goodsOutNoteId"] for note in notes])
    call.publish("order.modified", [order["id"]])
    return [note["goodsOutNoteId"] for note in notes]


def post_goods_in_note(call: WriteCall) -> int:
    """Receive a purchase order's rows into a warehouse: stock rises, and the order is received when all is in.

    The purchase order is the path's (`order/{id}/goods-note/goods-in`, as documented); the answer is
    the new note's ID."""
    dataset = call.dataset
    body = json_object(call.body, "The goods-in note")
    order_id = call.ids["orderId"]
    if order_id not in dataset["order"]:
        raise invalid("WHSC-111", f"Purchase order {order_id!r} does not exist")
    order = dataset["order"].record(order_id)
    if order["orderTypeCode"] != "PO":
        raise invalid("WHSC-111", f"Order {order_id} is a {order['orderTypeCode']}, not a purchase order")
    warehouse_id = _warehouse(dataset, body.get("warehouseId", order["warehouseId"]))
    received = moved_quantities(dataset, "goods-in-note", order_id)
    received_on = body.get("receivedOn")
    if received_on is not None and parse_moment(received_on) is None:
        raise invalid("WHSC-109", f"receivedOn must be an ISO 8601 date-time, not {received_on!r}")
    stock = _Stock(dataset)
    note_id = _new_goods_note_id(dataset)
    moved = []
    for line in _lines(body, "goodsMoved", "The goods-in note"):
        row_id = line.get("purchaseOrderRowId")
        row = order["orderRows"].get(str(row_id)) if isinstance(row_id, int) else None
        if row is None:
            raise invalid("WHSC-104", f"Row {row_id!r} is not a row of purchase order {order_id}")
        product_id = _tracked_product(dataset, row.get("productId"))
        quantity = _whole(line.get("quantity"), "quantity")
        outstanding = int(Decimal(row["quantity"]["magnitude"])) - received[row_id]
        if quantity > outstanding:
            raise invalid("WHSC-112", f"Row {row_id} has {outstanding} left to receive, not {quantity}")
        received[row_id] += quantity
        location_id = _location(warehouse_id, product_id, line.get("destinationLocationId"))
        stock.move(product_id, warehouse_id, location_id, in_stock=quantity)
        moved.append(
            {
                "productId": product_id,
                "purchaseOrderRowId": row_id,
                "quantity": quantity,
                "warehouseId": warehouse_id,
                "destinationLocationId": location_id,
                "goodsNoteId": note_id,
                "batchGoodsNoteId": note_id,
                "productValue": {"currency": order["currency"]["orderCurrencyCode"], "value": row["itemCost"]["value"]},
                "cleared": True,
                "valueConfirmed": True,
            }
        )
    note = {
        "batchId": note_id,
        "goodsNoteId": note_id,
        "orderId": order_id,
        "transfer": False,
        "goodsNoteStatus": "CLOSED",
        "userBatchReference": text_field(body, "userBatchReference", default=f"GRN-{order_id}"),
        "createdOn": call.now,
        "receivedOn": local_stamp(dataset, received_on) if received_on else call.now,
        "createdBy": 1,
        "goodsMoved": moved,
    }
    dataset["goods-in-note"].put(note)
    _record_movements(call, goods_in_movements(note))
    stock.save(call)
    save_order(call, order)
    call.publish("goods-in-note.created", [note_id])
    call.publish("order.modified", [order_id])
    return note_id


def _record_movements(call: WriteCall, movements: list[Record]) -> None:
    for movement in movements:
        movement_id = new_id(call.dataset, "goods-movement")
        call.dataset["goods-movement"].put({"goodsMovementId": movement_id, **movement, "updatedOn": call.now})


def post_stock_correction(call: WriteCall) -> list[int]:
    """`{"corrections": [{"productId", "quantity" (+/-), "reason", "locationId"?, "cost"?}]}` in one warehouse.

    Each correction is a note of its own, and the answer is "the array of created stock correction
    note IDs" (documented); every line is checked before any is stored."""
    dataset = call.dataset
    warehouse_id = call.ids["warehouseId"]
    if warehouse_id not in dataset["warehouse"]:
        raise errors.not_found(f"Warehouse {warehouse_id} not found")
    currencies = {record["code"] for record in dataset["currency"].records()}
    stock = _Stock(dataset)
    corrections = []
    for line in _lines(call.body, "corrections", "The stock correction"):
        product_id = _tracked_product(dataset, line.get("productId"))
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity == 0:
            raise invalid("WHSC-122", f"quantity must be a whole number other than 0, not {quantity!r}")
        reason = text_field(line, "reason")
        if not reason.strip():
            raise invalid("WHSC-123", "Each correction needs a reason")
        location_id = _location(warehouse_id, product_id, line.get("locationId"))
        if -quantity > stock.on_hand(product_id, warehouse_id):
            raise invalid(
                "WHSC-108",
                f"Product {product_id} has {stock.on_hand(product_id, warehouse_id)} on hand "
                f"in warehouse {warehouse_id}; it cannot lose {-quantity}",
            )
        cost = json_object(line.get("cost", {}), "cost")
        currency = cost.get("currency", BASE_CURRENCY)
        if currency not in currencies:
            raise invalid("WHSC-124", f"Currency code {currency!r} is not valid")
        value = parse_decimal(cost.get("value", cost_price(product_id)), minimum=Decimal(0))
        if value is None:
            raise invalid("WHSC-125", "cost.value must be a decimal of 0 or more")
        stock.move(product_id, warehouse_id, location_id, in_stock=quantity)
        corrections.append(
            (
                reason,
                {
                    "productId": product_id,
                    "quantity": quantity,
                    "locationId": location_id,
                    "productValue": {"currency": currency, "value": World.money(value)},
                },
            )
        )
    note_ids = []
    for reason, line in corrections:
        note_id = _new_goods_note_id(dataset)
        correction = {
            "goodsNoteId": note_id,
            "warehouseId": warehouse_id,
            "reason": reason,
            "createdOn": call.now,
            "createdById": 1,
            "goodsMoved": [line],
        }
        dataset["stock-correction"].put(correction)
        _record_movements(call, correction_movements(correction))
        note_ids.append(note_id)
    stock.save(call)
    return note_ids
