"""What later builders need to know about each order, noted while the orders are built.

Decoding 100k stored orders takes seconds, and goods notes, journals, payments and notes each need a
small part of every order; so `build_orders` notes that part here as it goes, once per world (a weak
map: the facts go away with the world when seeding ends). They are named tuples of plain values, which
the garbage collector stops tracking, so holding 100k of them does not slow every later collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from weakref import WeakKeyDictionary

from ..resources import Record
from ..world import World


class RowFacts(NamedTuple):
    row_id: int
    product_id: int | None
    quantity: int
    net: Decimal
    tax: Decimal
    tax_code_id: int
    nominal_code: str
    unit_cost: Decimal  # in the order's currency


class OrderFacts(NamedTuple):
    id: int
    type_code: str
    status_id: int
    stock_status: str
    shipping_status: str
    payment_status: str
    created: datetime
    updated: datetime
    tax_date: str | None
    invoice_reference: str | None
    currency_code: str
    exchange_rate: str
    warehouse_id: int
    channel_id: int
    contact_id: int
    staff_owner_id: int
    lead_source_id: int
    created_by: int
    shipping_method_id: int
    total: Decimal
    rows: tuple[RowFacts, ...]

    @property
    def rate(self) -> Decimal:
        return Decimal(self.exchange_rate)


_FACTS: WeakKeyDictionary[World, list[OrderFacts]] = WeakKeyDictionary()


def note_order(world: World, order: Record) -> None:
    party = order["parties"].get("customer") or order["parties"]["supplier"]
    current = order["assignment"]["current"]
    invoice = order["invoices"][0] if order["invoices"] else {}
    rows = tuple(
        RowFacts(
            int(row_id),
            row.get("productId"),
            int(Decimal(row["quantity"]["magnitude"])),
            Decimal(row["rowValue"]["rowNet"]["value"]),
            Decimal(row["rowValue"]["rowTax"]["value"]),
            row["rowValue"]["taxClassId"],
            row["nominalCode"],
            Decimal(row["itemCost"]["value"]),
        )
        for row_id, row in order["orderRows"].items()
    )
    _FACTS.setdefault(world, []).append(
        OrderFacts(
            id=order["id"],
            type_code=order["orderTypeCode"],
            status_id=order["orderStatus"]["orderStatusId"],
            stock_status=order["stockStatusCode"],
            shipping_status=order["shippingStatusCode"],
            payment_status=order["orderPaymentStatus"],
            created=datetime.fromisoformat(order["createdOn"]),
            updated=datetime.fromisoformat(order["updatedOn"]),
            tax_date=invoice.get("taxDate"),
            invoice_reference=invoice.get("invoiceReference"),
            currency_code=order["currency"]["orderCurrencyCode"],
            exchange_rate=order["currency"]["exchangeRate"],
            warehouse_id=order["warehouseId"],
            channel_id=current["channelId"],
            contact_id=party["contactId"],
            staff_owner_id=current["staffOwnerContactId"],
            lead_source_id=current["leadSourceId"],
            created_by=order["createdById"],
            shipping_method_id=order["delivery"]["shippingMethodId"],
            total=Decimal(order["totalValue"]["total"]),
            rows=rows,
        )
    )


def orders(world: World, *type_codes: str) -> Iterator[OrderFacts]:
    """The facts of the world's orders of these types, in ID order."""
    return (facts for facts in _FACTS.get(world, ()) if facts.type_code in type_codes)
