"""The newer, flatter sales-order and sales-credit shapes, and notes on orders.

Both shapes are views of the orders (same IDs, same money). The fields follow the sales-order GET
documentation (`total` is `{net, tax, gross, baseNet, baseTax, baseGross}`; `isCanceled`, the status
codes) and a client's model of the real answer (snowio/brightpearl-data-model: `invoice`,
`orderWeighting`, `costPriceListId`, and rows with `productPrice`, `discountPercentage`, bundle flags,
`parentRowId`, `taxClassId`, `taxCalculator`, `clonedFromId`). Where both are silent: rows are a list
with each row's `id`; `taxDate`, `parentId`, `invoice`, `externalRef` and the integration instance are
sent only when set.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..resources import Record
from ..world import World
from .history import orders
from .parties import STAFF_COUNT
from .reference import ORDER_STATUSES

CANCELLED_STATUSES = {status[0] for status in ORDER_STATUSES if status[4] == "cancelled"}


# what the order shape's addresses carry and this one does not: its country is the ISO code alone
_NOT_IN_FLAT_ADDRESS = {"contactId", "country", "countryId", "countryIsoCode3"}


def _flat_address(address: Record) -> Record:
    return {key: value for key, value in address.items() if key not in _NOT_IN_FLAT_ADDRESS}


def flat_order(order: Record) -> Record:
    parties = order["parties"]
    customer = parties["customer"]
    current = order["assignment"]["current"]
    currency = order["currency"]
    totals = order["totalValue"]
    record: Record = {
        "id": order["id"],
        "customerId": customer["contactId"],
        "customer": {"id": customer["contactId"], "address": _flat_address(customer)},
        "billing": {"contactId": parties["billing"]["contactId"], "address": _flat_address(parties["billing"])},
        "ref": order["reference"],
        "placedOn": order["placedOn"],
    }
    if "externalRef" in order:
        record["externalRef"] = order["externalRef"]
    if order["invoices"]:
        record["taxDate"] = order["invoices"][0]["taxDate"]
    if order["parentOrderId"]:
        record["parentId"] = order["parentOrderId"]
    record.update(
        {
            "statusId": order["orderStatus"]["orderStatusId"],
            "warehouseId": order["warehouseId"],
            "channelId": current["channelId"],
            "staffOwnerId": current["staffOwnerContactId"],
            "projectId": current["projectId"],
            "leadSourceId": current["leadSourceId"],
            "teamId": current["teamId"],
            "priceListId": order["priceListId"],
            "priceModeCode": order["priceModeCode"],
            "currency": {
                "code": currency["orderCurrencyCode"],
                "exchangeRate": currency["exchangeRate"],
                "fixedExchangeRate": currency["fixedExchangeRate"],
            },
            "delivery": {
                "date": order["delivery"]["deliveryDate"],
                "address": _flat_address(parties["delivery"]),
                "shippingMethodId": order["delivery"]["shippingMethodId"],
            },
            "rows": [_flat_row(int(row_id), row) for row_id, row in order["orderRows"].items()],
            "total": {
                "net": totals["net"],
                "tax": totals["taxAmount"],
                "gross": totals["total"],
                "baseNet": totals["baseNet"],
                "baseTax": totals["baseTaxAmount"],
                "baseGross": totals["baseTotal"],
            },
            "isCanceled": order["orderStatus"]["orderStatusId"] in CANCELLED_STATUSES,
            "orderPaymentStatus": order["orderPaymentStatus"],
            "allocationStatusCode": order["allocationStatusCode"],
            "stockStatusCode": order["stockStatusCode"],
            "shippingStatusCode": order["shippingStatusCode"],
            "historicalOrder": order["historicalOrder"],
            "orderWeighting": order["orderWeighting"],
            "costPriceListId": order["costPriceListId"],
            "createdBy": order["createdById"],
            "createdOn": order["createdOn"],
            "updatedOn": order["updatedOn"],
        }
    )
    if order["invoices"]:
        record["invoice"] = dict(order["invoices"][0])
    if "installedIntegrationInstanceId" in order:
        record["installedIntegrationInstanceId"] = order["installedIntegrationInstanceId"]
    return record


def _flat_row(row_id: int, row: Record) -> Record:
    flat: Record = {"id": row_id}
    if "productId" in row:
        flat.update(productId=row["productId"], sku=row["productSku"])
    value = row["rowValue"]
    composition = row["composition"]
    flat.update(
        name=row["productName"],
        quantity=row["quantity"]["magnitude"],
        taxCode=value["taxCode"],
        net=value["rowNet"]["value"],
        tax=value["rowTax"]["value"],
        nominalCode=row["nominalCode"],
        productPrice=row["productPrice"]["value"],
        discountPercentage=row["discountPercentage"],
        sequence=int(row["orderRowSequence"]),
        bundleChild=composition["bundleChild"],
        bundleParent=composition["bundleParent"],
        parentRowId=composition["parentOrderRowId"],
        taxClassId=value["taxClassId"],
        taxCalculator=value["taxCalculator"],
        clonedFromId=row["clonedFromId"],
    )
    return flat


def build_sales_orders(world: World) -> Iterator[Record]:
    for order in world.records("order"):
        if order["orderTypeCode"] == "SO":
            yield flat_order(order)


def build_sales_credits(world: World) -> Iterator[Record]:
    stored = world.dataset["order"]
    for credit in orders(world, "SC"):
        yield flat_order(stored.record(credit.id))


NOTES = [
    "Customer called to confirm delivery address.",
    "Left at reception, signed by J. Doe.",
    "Gift wrap requested.",
    "Chased payment by email.",
    "Carrier delay, customer informed.",
    "Partial refund agreed for scuffed packaging.",
    "Supplier confirmed dispatch date.",
    "Please deliver after 10am.",
    "Customer asked for invoice copy.",
]


def build_order_notes(world: World) -> Iterator[Record]:
    """Notes on about 30% of orders, IDs in the order they were added."""
    note_id = 1
    for order in orders(world, "SO", "PO", "SC", "PC"):
        if not world.chance(0.3):
            continue
        added = order.created
        for _ in range(world.weighted({1: 70, 2: 22, 3: 8})):
            added = world.later(added, 4)
            from_customer = world.chance(0.2)
            yield {
                "noteId": note_id,
                "orderId": order.id,
                "contactId": order.contact_id if from_customer else world.rng.randint(1, STAFF_COUNT),
                "noteText": world.pick(NOTES),
                "isPublic": from_customer or world.chance(0.3),
                "dateAdded": world.stamp(added),
                "addedBy": world.rng.randint(1, STAFF_COUNT),
                "orderStatusId": order.status_id,
            }
            note_id += 1
