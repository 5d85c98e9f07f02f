"""Order writes: POST and PUT of orders, their rows (POST, JSON-Patch PATCH) and statuses (PUT).

Every change goes through `save_order`, which keeps totals, stock codes, `updatedOn` and the
sales-order/sales-credit views in step; the goods-note and payment writes use it too.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from .. import errors
from ..builders.catalogue import cost_price, retail_price
from ..builders.orders import TAX_RATE, order_address, order_row, order_totals, row_money
from ..builders.reference import BASE_CURRENCY, CHANNELS, ORDER_STATUSES
from ..builders.sales import flat_order
from ..resources import Record
from ..store import Dataset, deep_merge, patched
from ..world import World
from .framework import (
    WriteCall,
    existing,
    invalid,
    json_object,
    local_stamp,
    new_id,
    parse_decimal,
    parse_moment,
    text_field,
    true_or_false,
)

PARTY_OF_TYPE = {"SO": "customer", "SC": "customer", "PO": "supplier", "PC": "supplier"}
STATUS_OF = {status[0]: status for status in ORDER_STATUSES}
ORDER_HEADER_KEYS = (
    "reference",
    "externalRef",
    "placedOn",
    "delivery",
    "parties",
    "assignment",
    "warehouseId",
    "priceModeCode",
    "priceListId",
)


def find_order(dataset: Dataset, order_id: int) -> Record:
    return existing(dataset, "order", order_id, "No order found with ID {id}")


def save_order(call: WriteCall, order: Record) -> None:
    """Store the order with fresh totals, stock codes and `updatedOn`, and its sales-order/credit view."""
    rate = Decimal(order["currency"]["exchangeRate"])
    net = sum((Decimal(row["rowValue"]["rowNet"]["value"]) for row in order["orderRows"].values()), Decimal(0))
    tax = sum((Decimal(row["rowValue"]["rowTax"]["value"]) for row in order["orderRows"].values()), Decimal(0))
    order["totalValue"] = order_totals(net, tax, rate)
    order.update(_stock_codes(call.dataset, order))
    order["updatedOn"] = call.now
    call.dataset["order"].put(order)
    view = {"SO": "sales-order", "SC": "sales-credit"}.get(order["orderTypeCode"])
    if view:
        call.dataset[view].put(flat_order(order))


def stock_tracked(dataset: Dataset, product_id: int | None) -> bool:
    return product_id in dataset["product"] and dataset["product"].record(product_id)["stock"]["stockTracked"]


def _stock_codes(dataset: Dataset, order: Record) -> Record:
    """Stock, allocation and shipping codes from the rows and the goods notes made against them."""
    tracked = {
        int(row_id): Decimal(row["quantity"]["magnitude"])
        for row_id, row in order["orderRows"].items()
        if stock_tracked(dataset, row.get("productId"))
    }
    if order["orderTypeCode"] == "SO":
        if not tracked:
            return {"stockStatusCode": "NON", "allocationStatusCode": "ANR", "shippingStatusCode": "NST"}
        allocated = moved_quantities(dataset, "goods-out-note", order["id"])
        done = sum(min(allocated.get(row_id, 0), quantity) for row_id, quantity in tracked.items())
        whole = sum(tracked.values())
        stock, allocation = ("SOA", "AAA") if done >= whole else ("SPA", "APA") if done else ("SON", "ANA")
        return {
            "stockStatusCode": stock,
            "allocationStatusCode": allocation,
            "shippingStatusCode": order["shippingStatusCode"] if order["shippingStatusCode"] != "NST" else "SNS",
        }
    if order["orderTypeCode"] == "PO":
        received = moved_quantities(dataset, "goods-in-note", order["id"])
        full = tracked and all(received.get(row_id, 0) >= quantity for row_id, quantity in tracked.items())
        return {"stockStatusCode": "POR" if full else "PON"}
    return {}


def moved_quantities(dataset: Dataset, resource: str, order_id: int) -> dict[int, int]:
    """Quantity per order row that the order's goods-out (allocated) or goods-in (received) notes hold."""
    table = dataset[resource]
    moved: dict[int, int] = defaultdict(int)
    for note_id in table.ids():
        if table.parent_of(note_id) != order_id:
            continue
        note = table.record(note_id)
        if resource == "goods-out-note":
            for row_id, lines in note["orderRows"].items():
                moved[int(row_id)] += sum(line["quantity"] for line in lines)
        else:
            for line in note["goodsMoved"]:
                moved[line["purchaseOrderRowId"]] += line["quantity"]
    return moved


def _row_ids(dataset: Dataset) -> int:
    return max((int(row_id) for order in dataset["order"].records() for row_id in order["orderRows"]), default=0)


def _new_row(call: WriteCall, order: Record, body: Any) -> tuple[int, Record]:
    """An order row from a row POST body, priced from the order's price list when no net is given."""
    body = json_object(body, "The order row")
    dataset = call.dataset
    purchase = order["orderTypeCode"] in ("PO", "PC")
    currency = order["currency"]["orderCurrencyCode"]
    rate = Decimal(order["currency"]["exchangeRate"])
    product_id = body.get("productId")
    product = None
    if product_id is not None:
        if product_id not in dataset["product"]:
            raise invalid("ORDC-020", f"Product {product_id!r} does not exist")
        product = dataset["product"].record(product_id)
    name = body.get("name") or (product["salesChannels"][0]["productName"] if product else None)
    if not isinstance(name, str) or not name.strip():
        raise invalid("ORDC-021", "A row without a product needs a name")
    quantity = parse_decimal(json_object(body.get("quantity", {"magnitude": "1"}), "quantity").get("magnitude"))
    if quantity is None or quantity <= 0:
        raise invalid("ORDC-022", "quantity.magnitude must be a number above 0")
    value = json_object(body.get("rowValue", {}), "rowValue")
    tax_code = _tax_code(
        dataset, value.get("taxCode") or (product["financialDetails"]["taxCode"]["code"] if product else "T0")
    )
    rate_percent = TAX_RATE[tax_code["id"]]
    if value.get("rowNet") is not None:
        row_net = parse_decimal(json_object(value["rowNet"], "rowValue.rowNet").get("value"))
        if row_net is None:
            raise invalid("ORDC-024", "rowValue.rowNet.value must be a decimal amount")
        unit = row_net / quantity
    else:
        unit = _list_price(dataset, order, product_id, quantity) if product_id is not None else Decimal(0)
        row_net = (quantity * unit).quantize(Decimal("0.0001"))
    if value.get("rowTax") is not None:
        row_tax = parse_decimal(json_object(value["rowTax"], "rowValue.rowTax").get("value"))
        if row_tax is None:
            raise invalid("ORDC-024", "rowValue.rowTax.value must be a decimal amount")
    else:
        row_tax = (row_net * rate_percent / 100).quantize(Decimal("0.01"))
    nominal = body.get("nominalCode") or ("5000" if purchase else "4000")
    if nominal not in {record["code"] for record in dataset["nominal-code"].records()}:
        raise invalid("ORDC-025", f"Nominal code {nominal!r} does not exist")
    row_id = dataset.next_id("order-row", lambda: _row_ids(dataset))
    sequence = len(order["orderRows"]) + 1
    row = order_row(
        sequence,
        currency,
        quantity,
        unit,
        row_net,
        row_tax,
        tax_code,
        product_id=product_id,
        name=name,
        sku=product["identity"].get("sku", "") if product else "",
        cost=cost_price(product_id) * rate if product_id is not None else Decimal(0),
        nominal=nominal,
    )
    return row_id, row


def _tax_code(dataset: Dataset, code: Any) -> dict:
    for record in dataset["tax-code"].records():
        if record["code"] == code:
            return {"id": record["id"], "code": record["code"]}
    raise invalid("ORDC-023", f"Tax code {code!r} does not exist")


def _list_price(dataset: Dataset, order: Record, product_id: int, quantity: Decimal) -> Decimal:
    """The unit price of the order's price list at the highest break the quantity reaches."""
    if product_id in dataset["product-price"]:
        for price_list in dataset["product-price"].record(product_id)["priceLists"]:
            if price_list["priceListId"] == order["priceListId"]:
                breaks = [(int(q), Decimal(p)) for q, p in price_list["quantityPrice"].items() if int(q) <= quantity]
                if breaks:
                    return max(breaks)[1]
    base = cost_price(product_id) if order["orderTypeCode"] in ("PO", "PC") else retail_price(product_id)
    return base * Decimal(order["currency"]["exchangeRate"])


def _check_party(dataset: Dataset, type_code: str, contact_id: Any) -> Record:
    role = PARTY_OF_TYPE[type_code]
    if contact_id is None:
        raise invalid("ORDC-007", f"You must supply the {role}: parties.{role}.contactId")
    if contact_id not in dataset["contact"]:
        raise invalid("ORDC-008", f"Contact {contact_id!r} does not exist")
    contact = dataset["contact"].record(contact_id)
    if role == "supplier" and not contact["relationshipToAccount"]["isSupplier"]:
        raise invalid("ORDC-009", f"Contact {contact_id} is not a supplier")
    return contact


def _status(status_id: Any) -> tuple | None:
    return STATUS_OF.get(status_id) if type(status_id) is int else None


def _check_order_header(dataset: Dataset, order: Record) -> None:
    status_id = json_object(order.get("orderStatus"), "orderStatus").get("orderStatusId")
    status = _status(status_id)
    if status is None or status[2] != order["orderTypeCode"]:
        raise invalid("ORDC-012", f"Order status {status_id!r} does not exist for {order['orderTypeCode']} orders")
    if order.get("priceListId") not in dataset["price-list"]:
        raise invalid("ORDC-011", f"Price list {order.get('priceListId')!r} does not exist")
    if order.get("warehouseId") not in dataset["warehouse"]:
        raise invalid("ORDC-013", f"Warehouse {order.get('warehouseId')!r} does not exist")
    delivery = json_object(order.get("delivery"), "delivery")
    if delivery.get("shippingMethodId") not in dataset["shipping-method"]:
        raise invalid("ORDC-014", f"Shipping method {delivery.get('shippingMethodId')!r} does not exist")
    channel = json_object(json_object(order.get("assignment"), "assignment").get("current"), "assignment.current")
    if channel.get("channelId", 0) and channel["channelId"] not in dataset["channel"]:
        raise invalid("ORDC-015", f"Channel {channel['channelId']!r} does not exist")
    for name in ("reference", "externalRef"):
        if not isinstance(order.get(name, ""), str):
            raise errors.bad_request(f"{name} must be a string")
    for name in ("placedOn", "delivery.deliveryDate"):
        value = order["placedOn"] if name == "placedOn" else delivery.get("deliveryDate")
        if value is not None and parse_moment(value) is None:
            raise invalid("ORDC-016", f"{name} must be an ISO 8601 date-time, not {value!r}")


def post_order(call: WriteCall) -> int:
    """A sales, purchase or credit order, with its rows if the body lists them under `rows`."""
    body = json_object(call.body, "The order")
    dataset = call.dataset
    type_code = body.get("orderTypeCode")
    if not type_code:
        raise invalid("ORDC-005", "You have not supplied an order type code")
    if not isinstance(type_code, str) or type_code not in PARTY_OF_TYPE:
        raise invalid("ORDC-006", f"Order type code {type_code!r} is not one of SO, PO, SC, PC")
    role = PARTY_OF_TYPE[type_code]
    parties = json_object(body.get("parties", {}), "parties")
    contact = _check_party(dataset, type_code, json_object(parties.get(role, {}), f"parties.{role}").get("contactId"))
    currency_body = json_object(body.get("currency", {}), "currency")
    currency_code = currency_body.get("orderCurrencyCode", BASE_CURRENCY)
    currency = next((record for record in dataset["currency"].records() if record["code"] == currency_code), None)
    if currency is None:
        raise invalid("ORDC-010", f"Currency code {currency_code!r} is not valid")
    rate = parse_decimal(currency_body.get("exchangeRate", currency["exchangeRate"]))
    if rate is None or rate <= 0:
        raise invalid("ORDC-010", "currency.exchangeRate must be a decimal above 0")
    assignment = json_object(body.get("assignment", {}), "assignment")
    current = json_object(assignment.get("current", {}), "assignment.current")
    channel_id = current.get("channelId", 1 if role == "customer" else 0)
    channel = next((c for c in CHANNELS if c[0] == channel_id), None)
    parent_id = body.get("parentOrderId", 0)
    if type_code in ("SC", "PC") and parent_id and parent_id not in dataset["order"]:
        raise invalid("ORDC-017", f"Parent order {parent_id!r} does not exist")
    address = order_address(contact)
    order_id = new_id(dataset, "order")
    status_id = next(status[0] for status in ORDER_STATUSES if status[2] == type_code)
    order: Record = {
        "id": order_id,
        "parentOrderId": parent_id,
        "orderTypeCode": type_code,
        "reference": f"{type_code}-{order_id}",
        "version": 1,
        "state": {"tax": "READY"},
        "orderStatus": {"orderStatusId": status_id},
        "tax": {"errors": []},
        "orderPaymentStatus": "UNPAID",
        "stockStatusCode": "NON",
        "allocationStatusCode": "ANR",
        "shippingStatusCode": "NST",
        "placedOn": call.now,
        "createdOn": call.now,
        "updatedOn": call.now,
        "createdById": 1,
        "priceListId": contact["financialDetails"]["priceListId"] if role == "customer" else 1,
        "priceModeCode": "EXC",
        "delivery": {"deliveryDate": call.now, "shippingMethodId": 1},
        "invoices": [],
        "currency": {
            "accountingCurrencyCode": BASE_CURRENCY,
            "orderCurrencyCode": currency_code,
            "exchangeRate": f"{rate:.6f}",
            "fixedExchangeRate": currency_code != BASE_CURRENCY,
        },
        "assignment": {
            "current": {
                "staffOwnerContactId": contact["assignment"]["current"]["staffOwnerContactId"],
                "projectId": 0,
                "channelId": channel_id,
                "leadSourceId": contact["assignment"]["current"]["leadSourceId"],
                "teamId": 0,
            }
        },
        "parties": {
            role: {"contactId": contact["contactId"], **address},
            "delivery": address,
            "billing": {"contactId": contact["contactId"], **address},
        },
        "orderRows": {},
        "warehouseId": channel[3] if channel else 1,
        "acknowledged": 0,
        "costPriceListId": 1,
        "historicalOrder": False,
        "orderWeighting": 100,
        "externalRef": "",
        "installedIntegrationInstanceId": 0,
    }
    if type_code == "PO":
        order["isDropship"] = False
    deep_merge(order, {key: value for key, value in body.items() if key in (*ORDER_HEADER_KEYS, "orderStatus")})
    _check_order_header(dataset, order)
    order["placedOn"] = local_stamp(dataset, order["placedOn"])
    order["orderStatus"]["name"] = STATUS_OF[order["orderStatus"]["orderStatusId"]][1]
    rows = body.get("rows", [])
    if not isinstance(rows, list):
        raise errors.bad_request("rows must be a list of order rows")
    for row_body in rows:
        row_id, row = _new_row(call, order, row_body)
        order["orderRows"][str(row_id)] = row
    save_order(call, order)
    call.publish("order.created", [order_id])
    # the real service raises order.modified on creation too, as clients that subscribe to it report
    call.publish("order.modified", [order_id])
    return order_id


def put_order(call: WriteCall) -> None:
    """Change the order's header: references, dates, delivery, parties, assignment, warehouse, price list."""
    order = find_order(call.dataset, call.ids["orderId"])
    body = json_object(call.body, "The order")
    refused = sorted(set(body) - set(ORDER_HEADER_KEYS))
    if refused:
        raise invalid(
            "ORDC-026",
            f"{', '.join(refused)} cannot be changed with PUT: rows, status and stock "
            "have their own endpoints, the rest is read-only",
        )
    role = PARTY_OF_TYPE[order["orderTypeCode"]]
    parties = json_object(body.get("parties", {}), "parties")
    party = json_object(parties.get(role, {}), f"parties.{role}")
    changes = dict(body)
    if "contactId" in party:
        contact = _check_party(call.dataset, order["orderTypeCode"], party["contactId"])
        changes["parties"] = {**parties, role: {"contactId": contact["contactId"], **order_address(contact), **party}}
    deep_merge(order, changes)
    _check_order_header(call.dataset, order)
    order["placedOn"] = local_stamp(call.dataset, order["placedOn"])
    order["version"] += 1
    save_order(call, order)
    call.publish("order.modified", [order["id"]])


def post_order_row(call: WriteCall) -> int:
    order = find_order(call.dataset, call.ids["orderId"])
    row_id, row = _new_row(call, order, call.body)
    order["orderRows"][str(row_id)] = row
    save_order(call, order)
    call.publish("order.modified", [order["id"]])
    return row_id


def patch_order_row(call: WriteCall) -> Record:
    """JSON Patch on one row in its GET shape; net and tax follow quantity and price unless patched too.

    Answers the patched row, as recorded."""
    order = find_order(call.dataset, call.ids["orderId"])
    row_key = str(call.ids["rowId"])
    if row_key not in order["orderRows"]:
        raise errors.not_found(f"Order {order['id']} has no row {row_key}")
    before = order["orderRows"][row_key]
    row = patched(before, call.body)
    paths = {operation.get("path", "") for operation in call.body if isinstance(operation, dict)}
    if row.get("productId") != before.get("productId") and row.get("productId") not in call.dataset["product"]:
        raise invalid("ORDC-020", f"Product {row.get('productId')!r} does not exist")
    quantity = parse_decimal(json_object(row.get("quantity"), "quantity").get("magnitude"))
    if quantity is None or quantity <= 0:
        raise invalid("ORDC-022", "quantity.magnitude must be a number above 0")
    allocated = moved_quantities(
        call.dataset, "goods-out-note" if order["orderTypeCode"] == "SO" else "goods-in-note", order["id"]
    ).get(int(row_key), 0)
    if quantity < allocated:
        raise invalid(
            "ORDC-027", f"Row {row_key} has {allocated} allocated or received; its quantity cannot go below that"
        )
    value = json_object(row.get("rowValue"), "rowValue")
    tax_code = _tax_code(call.dataset, value.get("taxCode"))
    unit = parse_decimal(json_object(row.get("productPrice"), "productPrice").get("value"))
    if unit is None:
        raise invalid("ORDC-024", "productPrice.value must be a decimal amount")
    row_net, row_tax = row_money(quantity, unit, TAX_RATE[tax_code["id"]])
    if "/rowValue/rowNet/value" in paths or "/rowValue/rowNet" in paths:
        row_net = parse_decimal(value["rowNet"].get("value"))
    if "/rowValue/rowTax/value" in paths or "/rowValue/rowTax" in paths:
        row_tax = parse_decimal(value["rowTax"].get("value"))
    if row_net is None or row_tax is None:
        raise invalid("ORDC-024", "rowValue.rowNet and rowTax values must be decimal amounts")
    value.update(
        taxCode=tax_code["code"],
        taxClassId=tax_code["id"],
        taxRate=World.money(TAX_RATE[tax_code["id"]]),
        rowNet={**value.get("rowNet", {}), "value": World.money(row_net)},
        rowTax={**value.get("rowTax", {}), "value": World.money(row_tax, 2)},
    )
    row["quantity"]["magnitude"] = World.money(quantity)
    order["orderRows"][row_key] = row
    save_order(call, order)
    call.publish("order.modified", [order["id"]])
    return row


def put_order_status(call: WriteCall) -> None:
    """`{"orderStatusId": 4, "orderNote": {"text": "...", "isPublic": false}}`; the note is optional."""
    order = find_order(call.dataset, call.ids["orderId"])
    body = json_object(call.body, "The status")
    status = _status(body.get("orderStatusId"))
    if status is None or status[2] != order["orderTypeCode"]:
        raise invalid(
            "ORDC-012", f"Order status {body.get('orderStatusId')!r} does not exist for {order['orderTypeCode']} orders"
        )
    note = body.get("orderNote")
    if note is not None:
        note = json_object(note, "orderNote")
        text = text_field(note, "text", required=True)
        public = true_or_false(note.get("isPublic", False), "orderNote.isPublic")
    order["orderStatus"] = {"orderStatusId": status[0], "name": status[1]}
    save_order(call, order)
    if note is not None:
        note_id = new_id(call.dataset, "order-note")
        call.dataset["order-note"].put(
            {
                "noteId": note_id,
                "orderId": order["id"],
                "contactId": 1,
                "noteText": text,
                "isPublic": public,
                "dateAdded": call.now,
                "addedBy": 1,
                "orderStatusId": status[0],
            }
        )
    call.publish("order.modified.order-status", [order["id"]])
