"""Orders of all four types, with their rows, money, parties and lifecycle codes.

IDs rise with `createdOn`, as in a real account. The lifecycle codes drawn here (stock, shipping,
payment, invoice) are what the goods-note, movement, journal and payment builders follow later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from ..resources import Record
from ..world import HISTORY_END, HISTORY_START, World
from .catalogue import cost_price, retail_price
from .history import note_order, orders
from .parties import STAFF_COUNT, city_of
from .reference import (
    CHANNELS,
    COUNTRIES,
    CURRENCIES,
    ORDER_STATUSES,
    ORDER_TYPE_CODES,
    SHIPPING_METHODS,
    TAX_CODES,
    custom_field_values,
)

FIRST_ORDER_ID = 100001
FIRST_ROW_ID = 500001
STATUS_NAMES = {status[0]: status[1] for status in ORDER_STATUSES}
# order type id -> {status id: weight}
STATUS_WEIGHTS = {1: {1: 2, 2: 6, 3: 5, 4: 10, 5: 70, 6: 7}, 2: {7: 10, 8: 25, 9: 65}, 3: {10: 20, 11: 80}, 4: {12: 1}}
TAX_RATE = {code[0]: Decimal(code[3] or "0") for code in TAX_CODES}
RATES = {code: Decimal(rate) for _, code, _, _, rate in CURRENCIES}


def order_address(contact: Record) -> Record:
    """The contact's postal address as orders carry it (`delivery` has no `contactId`): the country by
    name, Brightpearl ID and both ISO codes, as recorded order GETs send it."""
    city, state, country = city_of(contact["contactId"])
    country_id, iso3, country_name = COUNTRIES[country]
    return {
        "addressFullName": f"{contact['firstName']} {contact['lastName']}",
        "companyName": contact["organisation"].get("name", ""),
        "addressLine1": f"{contact['contactId'] % 900 + 10} Market Street",
        "addressLine2": "",
        "addressLine3": city,
        "addressLine4": state,
        "postalCode": f"{contact['contactId'] % 90000 + 10000}",
        "country": country_name,
        "telephone": contact["communication"]["telephones"].get("PRI", ""),
        "mobileTelephone": "",
        "fax": "",
        "email": contact["communication"]["emails"].get("PRI", {}).get("email", ""),
        "countryId": country_id,
        "countryIsoCode": country,
        "countryIsoCode3": iso3,
    }


def _lifecycle(status_id: int, type_id: int) -> dict:
    """Stock, shipping, payment and invoice state that fit an order's status."""
    if type_id == 1:
        shipped = status_id == 5
        allocated = status_id in (3, 4, 5)
        return {
            "stock": "SOA" if allocated else ("SON" if status_id != 6 else "NON"),
            "allocation": "AAA" if allocated else "ANA",
            "shipping": "ASS" if shipped else "SNS",
            "payment": "PAID" if status_id in (4, 5) else ("UNPAID" if status_id != 6 else "NOT_APPLICABLE"),
            "invoiced": status_id == 5,
            "closed": status_id in (5, 6),
        }
    if type_id == 2:
        received = status_id == 9
        return {
            "stock": "POR" if received else "PON",
            "allocation": "ANR",
            "shipping": "NST",
            "payment": "PAID" if received else "UNPAID",
            "invoiced": received,
            "closed": received,
        }
    return {
        "stock": "NON",
        "allocation": "ANR",
        "shipping": "NST",
        "payment": "PAID" if status_id in (11, 12) else "UNPAID",
        "invoiced": status_id in (11, 12),
        "closed": status_id in (11, 12),
    }


def build_orders(world: World) -> Iterator[Record]:
    contacts = list(world.records("contact"))
    customers = [
        c
        for c in contacts
        if not c["relationshipToAccount"]["isSupplier"] and not c["relationshipToAccount"]["isStaff"]
    ]
    suppliers = [c for c in contacts if c["relationshipToAccount"]["isSupplier"]]
    products = [
        (
            p["id"],
            p["salesChannels"][0]["productName"],
            p["identity"]["sku"],
            p["financialDetails"]["taxCode"],
            p["stock"]["stockTracked"],
        )
        for p in world.records("product")
    ]
    del contacts
    span = (HISTORY_END - HISTORY_START) - timedelta(days=3)
    row_id = FIRST_ROW_ID
    sales_orders: list[int] = []
    for index in range(world.orders):
        order_id = FIRST_ORDER_ID + index
        type_id = world.weighted({1: 80, 2: 10, 3: 8, 4: 2}) if sales_orders else 1
        type_code = ORDER_TYPE_CODES[type_id]
        is_sale = type_id in (1, 3)
        party = world.pick(customers if is_sale else suppliers)
        created = HISTORY_START + span * (index / max(1, world.orders)) + timedelta(seconds=world.rng.randrange(3600))
        status_id = world.weighted(STATUS_WEIGHTS[type_id])
        address = order_address(party)
        party_address = {"contactId": party["contactId"], **address}
        life = _lifecycle(status_id, type_id)
        channel = world.pick(CHANNELS) if is_sale else CHANNELS[0]
        currency_code = "EUR" if channel[4] == 4 else ("CAD" if not is_sale and world.chance(0.1) else "USD")
        rate = RATES[currency_code]

        rows: dict[str, Record] = {}
        net = tax = Decimal(0)
        for sequence in range(1, world.rng.randint(1, 4) + 1):
            product_id, name, sku, tax_code, _ = world.pick(products)
            quantity = Decimal(world.rng.randint(1, 3) if is_sale else world.rng.randint(10, 120))
            unit = (retail_price(product_id) if is_sale else cost_price(product_id)) * rate
            row_net, row_tax = row_money(quantity, unit, TAX_RATE[tax_code["id"]])
            net, tax = net + row_net, tax + row_tax
            rows[str(row_id)] = order_row(
                sequence,
                currency_code,
                quantity,
                unit,
                row_net,
                row_tax,
                tax_code,
                product_id=product_id,
                name=name,
                sku=sku,
                cost=cost_price(product_id) * rate,
            )
            row_id += 1
        if type_id == 1 and world.chance(0.7):
            shipping = Decimal(world.pick(["4.95", "7.50", "12.00", "19.99"]))
            row_net, row_tax = row_money(Decimal(1), shipping, Decimal(0))
            net += row_net
            rows[str(row_id)] = order_row(
                len(rows) + 1,
                currency_code,
                Decimal(1),
                shipping,
                row_net,
                row_tax,
                {"id": 1, "code": "T0"},
                name="Shipping",
                nominal="4300",
            )
            row_id += 1

        updated = world.later(created, world.pick([0.02, 0.5, 3, 20]))
        placed = created - timedelta(seconds=world.rng.randint(1, 120))
        tax_date = world.stamp(updated.replace(hour=0, minute=0, second=0, microsecond=0))
        order = {
            "id": order_id,
            "parentOrderId": world.pick(sales_orders) if type_id == 3 else 0,
            "orderTypeCode": type_code,
            "reference": _reference(type_id, channel[0], order_id),
            "version": world.rng.randint(1, 9),
            "state": {"tax": "INVOICED" if life["invoiced"] else "READY"},
            "orderStatus": {"orderStatusId": status_id, "name": STATUS_NAMES[status_id]},
            "tax": {"errors": []},
            "orderPaymentStatus": life["payment"],
            "stockStatusCode": life["stock"],
            "allocationStatusCode": life["allocation"],
            "shippingStatusCode": life["shipping"],
            "placedOn": world.stamp(placed),
            "createdOn": world.stamp(created),
            "updatedOn": world.stamp(updated),
            "createdById": world.rng.randint(1, STAFF_COUNT),
            "priceListId": 1 if not is_sale else channel[4],
            "priceModeCode": "EXC",
            "delivery": {
                "deliveryDate": world.stamp(created + timedelta(days=world.rng.randint(1, 6))),
                "shippingMethodId": world.pick(SHIPPING_METHODS)[0],
            },
            "invoices": [{"invoiceReference": f"INV-{order_id}", "taxDate": tax_date, "dueDate": tax_date}]
            if life["invoiced"]
            else [],
            "currency": {
                "accountingCurrencyCode": "USD",
                "orderCurrencyCode": currency_code,
                "exchangeRate": f"{rate:.6f}",
                "fixedExchangeRate": currency_code != "USD",
            },
            "totalValue": order_totals(net, tax, rate),
            "assignment": {
                "current": {
                    "staffOwnerContactId": party["assignment"]["current"]["staffOwnerContactId"],
                    "projectId": 0,
                    "channelId": channel[0] if is_sale else 0,
                    "leadSourceId": party["assignment"]["current"]["leadSourceId"],
                    "teamId": 0,
                }
            },
            "parties": {
                "customer" if is_sale else "supplier": party_address,
                "delivery": address,
                "billing": party_address,
            },
            "orderRows": rows,
            "warehouseId": channel[3] if is_sale else 1,
            "acknowledged": 1 if life["closed"] else 0,
            "costPriceListId": 1,
            "historicalOrder": False,
            "orderWeighting": 100,
            "customFields": custom_field_values(world, "sale" if is_sale else "purchase"),
        }
        if channel[0] != 1:
            # only orders an integration brought in carry its reference and instance; manual ones omit both
            order.update(
                externalRef=f"{channel[1].split()[0].lower()}-{order_id}", installedIntegrationInstanceId=channel[0]
            )
        if life["invoiced"]:
            order["originalInvoiceDate"] = tax_date
        if life["closed"]:
            order["closedOn"] = order["updatedOn"]
        if type_id == 2:
            order["isDropship"] = world.chance(0.05)
        if type_id == 1:
            sales_orders.append(order_id)
        note_order(world, order)
        yield order


def build_landed_costs(world: World) -> Iterator[Record]:
    """One row per purchase-order row with a product: what `purchase-order-lc-search` lists.

    Landed costs (freight, duty) are a share of the row's unit cost drawn from a random source of
    their own, so adding them changed none of the records seeded after them.
    """
    shares = world.offshoot("landed-costs")
    suppliers = {
        contact["contactId"]: contact["organisation"].get("name", "")
        for contact in world.records("contact")
        if contact["relationshipToAccount"]["isSupplier"]
    }
    products = {
        product["id"]: (
            product["identity"]["sku"],
            product["salesChannels"][0]["productName"],
            product["stock"]["weight"]["magnitude"],
            product["stock"]["dimensions"]["volume"],
        )
        for product in world.records("product")
    }
    for order in orders(world, "PO"):
        for row in order.rows:
            if row.product_id not in products:
                continue
            sku, name, weight, volume = products[row.product_id]
            share = Decimal(shares.rng.randint(2, 12)) / 100
            yield {
                "orderRowId": row.row_id,
                "supplierName": suppliers.get(order.contact_id, ""),
                "weight": World.money(weight),
                "sku": sku,
                "productName": name,
                "quantity": World.money(row.quantity),
                "volume": World.money(volume),
                "productPrice": World.money(row.unit_cost),
                "orderId": order.id,
                "productId": row.product_id,
                "currentLandedCosts": World.money(row.unit_cost * share),
            }


def _reference(type_id: int, channel_id: int, order_id: int) -> str:
    if type_id == 1:
        return {1: "MAN", 2: "SHOP", 3: "AMZ", 4: "WHL", 5: "SHEU"}[channel_id] + f"-{order_id}"
    return {2: "PO", 3: "CR", 4: "PCR"}[type_id] + f"-{order_id}"


def row_money(quantity: Decimal, unit: Decimal, tax_rate: Decimal) -> tuple[Decimal, Decimal]:
    row_net = (quantity * unit).quantize(Decimal("0.0001"))
    return row_net, (row_net * tax_rate / 100).quantize(Decimal("0.01"))


def order_row(
    sequence: int,
    currency: str,
    quantity: Decimal,
    unit: Decimal,
    row_net: Decimal,
    row_tax: Decimal,
    tax_code: dict,
    *,
    product_id: int | None = None,
    name: str,
    sku: str = "",
    cost: Decimal = Decimal(0),
    nominal: str = "4000",
) -> Record:
    row = {"orderRowSequence": str(sequence * 10)}
    if product_id is not None:
        row.update(productId=product_id, productSku=sku)
    row.update(
        {
            "productName": name,
            "quantity": {"magnitude": World.money(quantity)},
            "itemCost": {"currencyCode": currency, "value": World.money(cost)},
            "productPrice": {"currencyCode": currency, "value": World.money(unit)},
            "discountPercentage": "0.00",
            "rowValue": {
                "taxRate": World.money(TAX_RATE[tax_code["id"]]),
                "taxCode": tax_code["code"],
                "taxCalculator": "brightpearl",
                "rowNet": {"currencyCode": currency, "value": World.money(row_net)},
                "rowTax": {"currencyCode": currency, "value": World.money(row_tax, 2)},
                "taxClassId": tax_code["id"],
            },
            "nominalCode": nominal,
            "composition": {"bundleParent": False, "bundleChild": False, "parentOrderRowId": 0},
            "clonedFromId": 0,
        }
    )
    return row


def order_totals(net: Decimal, tax: Decimal, rate: Decimal) -> Record:
    total = net + tax
    return {
        "net": World.money(net, 2),
        "taxAmount": World.money(tax, 2),
        "baseNet": World.money(net / rate, 2),
        "baseTaxAmount": World.money(tax / rate, 2),
        "baseTotal": World.money(total / rate, 2),
        "total": World.money(total, 2),
    }
