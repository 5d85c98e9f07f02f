"""The flat sales-order POST (`order-service/sales-order`), served as the order POST it stands for."""

from __future__ import annotations

from .. import errors
from ..builders.reference import BASE_CURRENCY
from ..resources import Record
from .framework import WriteCall, json_object
from .orders import post_order


def post_sales_order(call: WriteCall) -> int:
    """The newer flat sales-order shape, turned into the order POST it stands for."""
    body = json_object(call.body, "The sales order")
    customer = json_object(body.get("customer", {}), "customer")
    currency = json_object(body.get("currency", {}), "currency")
    delivery = json_object(body.get("delivery", {}), "delivery")
    order_body: Record = {
        "orderTypeCode": "SO",
        "parties": {"customer": {"contactId": customer.get("id")}},
        "currency": {"orderCurrencyCode": currency.get("code", BASE_CURRENCY)},
    }
    if "exchangeRate" in currency:
        order_body["currency"]["exchangeRate"] = currency["exchangeRate"]
    for flat, key in (
        ("ref", "reference"),
        ("externalRef", "externalRef"),
        ("placedOn", "placedOn"),
        ("warehouseId", "warehouseId"),
        ("priceListId", "priceListId"),
    ):
        if flat in body:
            order_body[key] = body[flat]
    if "statusId" in body:
        order_body["orderStatus"] = {"orderStatusId": body["statusId"]}
    order_body["assignment"] = {
        "current": {
            key: body[flat]
            for flat, key in (
                ("channelId", "channelId"),
                ("staffOwnerId", "staffOwnerContactId"),
                ("leadSourceId", "leadSourceId"),
            )
            if flat in body
        }
    }
    order_body["delivery"] = {
        key: delivery[flat]
        for flat, key in (("date", "deliveryDate"), ("shippingMethodId", "shippingMethodId"))
        if flat in delivery
    }
    rows = body.get("rows", [])
    if not isinstance(rows, list):
        raise errors.bad_request("rows must be a list of sales-order rows")
    order_body["rows"] = [_order_row_body(json_object(row, "A sales-order row")) for row in rows]
    order_id = post_order(WriteCall(call.state, call.ids, order_body, call.now, events=call.events))
    call.publish("sales-order.created", [order_id])
    return order_id


def _order_row_body(row: Record) -> Record:
    body: Record = {"quantity": {"magnitude": row.get("quantity", "1")}, "rowValue": {}}
    for key in ("productId", "name", "nominalCode"):
        if key in row:
            body[key] = row[key]
    for flat, key in (("taxCode", "taxCode"), ("net", "rowNet"), ("tax", "rowTax")):
        if flat in row:
            body["rowValue"][key] = row[flat] if flat == "taxCode" else {"value": row[flat]}
    return body
