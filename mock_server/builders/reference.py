"""Small reference resources every account has: types, statuses, money, taxes, warehouses, channels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cache

from ..resources import Record
from ..world import HISTORY_START, World

ORDER_TYPES = {1: "SALES_ORDER", 2: "PURCHASE_ORDER", 3: "SALES_CREDIT", 4: "PURCHASE_CREDIT"}
ORDER_TYPE_CODES = {1: "SO", 2: "PO", 3: "SC", 4: "PC"}

# statusId, name, order type code, colour, state
ORDER_STATUSES = [
    (1, "Draft / Quote", "SO", "#C0C0C0", "draft"),
    (2, "New web order", "SO", "#3366FF", "open"),
    (3, "Awaiting payment", "SO", "#FF9900", "open"),
    (4, "Ready to ship", "SO", "#33CC33", "open"),
    (5, "Completed", "SO", "#009900", "closed"),
    (6, "Cancelled", "SO", "#CC0000", "cancelled"),
    (7, "Pending PO", "PO", "#C0C0C0", "draft"),
    (8, "Placed with supplier", "PO", "#3366FF", "open"),
    (9, "Fully received", "PO", "#009900", "closed"),
    (10, "Credit pending", "SC", "#FF9900", "open"),
    (11, "Credit complete", "SC", "#009900", "closed"),
    (12, "Purchase credit", "PC", "#009900", "closed"),
]
ORDER_STOCK_STATUSES = [
    (1, "NON", "No stock tracked products"),
    (2, "SON", "Not allocated"),
    (3, "SPA", "Part allocated"),
    (4, "SOA", "All allocated"),
    (5, "PON", "Not received"),
    (6, "POR", "All received"),
]
ORDER_SHIPPING_STATUSES = [
    (1, "NST", "No stock tracked products on order"),
    (2, "SNS", "Stock not shipped"),
    (3, "SPS", "Stock part shipped"),
    (4, "ASS", "All stock shipped"),
]
ORDER_PAYMENT_STATUSES = {1: "UNPAID", 2: "PARTIALLY_PAID", 3: "PAID", 4: "NOT_APPLICABLE"}

# id, code, title, symbol, rate to the base currency (USD)
CURRENCIES = [
    (1, "USD", "US Dollar", "$", "1.000000"),
    (2, "EUR", "Euro", "€", "0.921000"),
    (3, "GBP", "British Pound", "£", "0.788000"),
    (4, "CAD", "Canadian Dollar", "CA$", "1.362000"),
]
BASE_CURRENCY = "USD"

# id, code, description, rate (None: exempt, the API omits `rate`); the GET sends the rate as a JSON
# number (`"rate":10.0000` in a recorded answer), orders' rows as a decimal string
TAX_CODES = [
    (1, "T0", "Zero rated", "0.0000"),
    (2, "E", "Exempt", None),
    (3, "T8", "State sales tax 8.25%", "8.2500"),
    (4, "T5", "Reduced rate 5%", "5.0000"),
]

# id, code, name, type (BUY|SELL), currency id, gross
PRICE_LISTS = [
    (1, "COST", "Cost price", "BUY", 1, False),
    (2, "RETAIL", "Retail", "SELL", 1, True),
    (3, "WHOLESALE", "Wholesale", "SELL", 1, False),
    (4, "EURETAIL", "Retail EUR", "SELL", 2, True),
]

# ISO 3166 alpha-2 -> (Brightpearl country ID, alpha-3, name), as order addresses carry them
COUNTRIES = {
    "GB": (222, "GBR", "United Kingdom"),
    "US": (223, "USA", "United States"),
    "CA": (38, "CAN", "Canada"),
    "ES": (199, "ESP", "Spain"),
    "NL": (150, "NLD", "Netherlands"),
}

# id, name, type, city, state, country
WAREHOUSES = [
    (1, "Chicago DC", "Warehouse", "Chicago", "IL", "US"),
    (2, "Reno Fulfilment", "Warehouse", "Reno", "NV", "US"),
    (3, "Rotterdam 3PL", "Third party", "Rotterdam", "", "NL"),
    (4, "Toronto Store", "Store", "Toronto", "ON", "CA"),
]

# Bin locations: warehouse w holds locations w*100+1 .. w*100+LOCATIONS_PER_WAREHOUSE, the first
# PICK_FACE_LOCATIONS of them being where stock is kept (the rest are bulk and returns bays).
LOCATIONS_PER_WAREHOUSE = 20
PICK_FACE_LOCATIONS = 16


def stock_location(warehouse_id: int, product_id: int) -> int:
    """Where a product is kept in a warehouse: its default location there."""
    return warehouse_id * 100 + 1 + product_id % PICK_FACE_LOCATIONS


def default_location(warehouse_id: int) -> int:
    """The warehouse's own default location (`warehouse/{id}/location/default`): its first bin."""
    return warehouse_id * 100 + 1


CHANNELS = [
    (1, "Brightpearl", 1, 1, 2),
    (2, "Shopify US", 2, 1, 2),
    (3, "Amazon US", 3, 2, 2),
    (4, "Wholesale", 4, 1, 3),
    (5, "Shopify EU", 2, 3, 4),
]  # id, name, channel type, warehouse, price list
CHANNEL_BRANDS = [(1, "Acme Outfitters"), (2, "Acme Trade")]  # channelBrandId, name
# A channel brand's templates: template type code (what a template is for) -> template ID
CHANNEL_BRAND_TEMPLATES = ("SOQUT", "SOINV", "SCNTE", "PONTE", "GNOUT", "GNSSE")

SHIPPING_METHODS = [
    (1, "STD", "Standard ground"),
    (2, "EXP", "Express 2-day"),
    (3, "NXT", "Next day air"),
    (4, "COL", "Click & collect"),
    (5, "FRT", "Freight"),
    (6, "INT", "International tracked"),
]

# resource, id offset, [(code, name, type, options)]
CUSTOM_FIELDS = {
    "product": (
        1,
        [
            ("PCF_MATERIAL", "Material", "TEXT", None),
            ("PCF_WASHTEMP", "Wash temperature", "INTEGER", None),
            ("PCF_LAUNCH", "Launch date", "DATE", None),
            ("PCF_SEASONAL", "Seasonal", "YESNO", None),
            ("PCF_FIT", "Fit", "SELECT", ["Slim", "Regular", "Relaxed"]),
        ],
    ),
    "sale": (
        20,
        [
            ("PCF_GIFTMSG", "Gift message", "TEXTAREA", None),
            ("PCF_PRIORITY", "Priority", "YESNO", None),
            ("PCF_PROMISED", "Promised date", "DATE", None),
            ("PCF_SOURCE", "Marketing source", "SELECT", ["Email", "Paid social", "Search", "Referral"]),
        ],
    ),
    "purchase": (
        40,
        [("PCF_INCOTERM", "Incoterm", "SELECT", ["EXW", "FOB", "DDP"]), ("PCF_CONTAINER", "Container", "TEXT", None)],
    ),
    "customer": (
        60,
        [
            ("PCF_LOYALTY", "Loyalty tier", "SELECT", ["Bronze", "Silver", "Gold"]),
            ("PCF_BIRTHDAY", "Birthday", "DATE", None),
            ("PCF_VIP", "VIP", "YESNO", None),
        ],
    ),
    "supplier": (
        80,
        [("PCF_LEADDAYS", "Lead time (days)", "INTEGER", None), ("PCF_PORTAL", "Supplier portal", "TEXT", None)],
    ),
}


def account_configuration(world: World, account: str) -> Record:
    return {
        "configuration": {
            "accountCode": account,
            "accountName": f"{account.capitalize()} Outfitters Inc.",
            "baseCurrencyCode": BASE_CURRENCY,
            "timeZone": str(world.tz),
            "locale": "en_US",
            "lengthUnit": "in",
            "weightUnit": "lb",
            "taxRegion": "US",
            "productionAccount": "false",
        }
    }


def build_order_types(world: World) -> Iterator[Record]:
    for type_id, name in ORDER_TYPES.items():
        yield {"id": type_id, "code": ORDER_TYPE_CODES[type_id], "description": name.replace("_", " ").capitalize()}


def build_order_statuses(world: World) -> Iterator[Record]:
    for sort_order, (status_id, name, type_code, color, state) in enumerate(ORDER_STATUSES, start=1):
        yield {
            "statusId": status_id,
            "name": name,
            "orderTypeCode": type_code,
            "sortOrder": sort_order * 10,
            "disabled": False,
            "visible": True,
            "color": color,
            "remindAfterDays": 0,
            "alertEmails": [],
            "emailContent": "",
            "batchProcess": False,
            "state": state,
        }


def build_order_stock_statuses(world: World) -> Iterator[Record]:
    for status_id, code, description in ORDER_STOCK_STATUSES:
        yield {"id": status_id, "code": code, "description": description}


def build_order_shipping_statuses(world: World) -> Iterator[Record]:
    for status_id, code, description in ORDER_SHIPPING_STATUSES:
        yield {"id": status_id, "code": code, "description": description}


def build_currencies(world: World) -> Iterator[Record]:
    for currency_id, code, title, symbol, rate in CURRENCIES:
        yield {
            "id": currency_id,
            "title": title,
            "code": code,
            "symbol": symbol,
            "exchangeRate": rate,
            "isDefault": code == BASE_CURRENCY,
            "exchangeRateVarianceNominalCode": "7900",
        }


def build_tax_codes(world: World) -> Iterator[Record]:
    for tax_id, code, description, rate in TAX_CODES:
        record = {"id": tax_id, "code": code, "description": description}
        if rate is not None:
            record["rate"] = float(rate)
        yield record


def build_price_lists(world: World) -> Iterator[Record]:
    symbols = {currency_id: (code, symbol) for currency_id, code, _, symbol, _ in CURRENCIES}
    for list_id, code, name, list_type, currency_id, gross in PRICE_LISTS:
        currency_code, symbol = symbols[currency_id]
        yield {
            "id": list_id,
            "name": {"languageCode": "en", "text": name, "format": "PLAINTEXT"},
            "code": code,
            "currencyCode": currency_code,
            "currencySymbol": symbol,
            "currencyId": currency_id,
            "priceListTypeCode": list_type,
            "gross": gross,
        }


def build_warehouses(world: World) -> Iterator[Record]:
    for warehouse_id, name, type_description, city, state, country in WAREHOUSES:
        yield {
            "id": warehouse_id,
            "name": name,
            "typeDescription": type_description,
            "typeCode": type_description[:1],
            "address": {
                "addressId": 900 + warehouse_id,
                "streetAddress": f"{warehouse_id * 100} Commerce Way",
                "postcode": f"{60000 + warehouse_id * 137}",
                "city": city,
                "state": state,
                "countryId": COUNTRIES[country][0],
                "countryIsoCode2": country,
            },
            "clickAndCollectEnabled": type_description == "Store",
        }


def build_channels(world: World) -> Iterator[Record]:
    for channel_id, name, channel_type, warehouse_id, price_list_id in CHANNELS:
        yield {
            "id": channel_id,
            "name": name,
            "channelTypeId": channel_type,
            "defaultWarehouseId": warehouse_id,
            "contactGroupId": 0,
            "defaultPriceListId": price_list_id,
            "channelBrandId": 2 if channel_id == 4 else 1,
            "warehouseIds": [warehouse_id],
            "showInChannelMenu": True,
            "integrationDetail": {"isIntegrated": channel_id != 1},
        }


def build_channel_brands(world: World) -> Iterator[Record]:
    for brand_id, name in CHANNEL_BRANDS:
        domain = name.lower().replace(" ", "") + ".example"
        yield {
            "channelBrandId": brand_id,
            "addressBookId": 900 + brand_id,
            "name": name,
            "companyName": f"{name} Inc.",
            "companyNumber": f"C{4100 + brand_id}",
            "telephone": f"+1 312 555 01{brand_id:02d}",
            "emailAddress": f"hello@{domain}",
            "accountingEmailAddress": f"accounts@{domain}",
            "templates": {code: brand_id * 100 + number for number, code in enumerate(CHANNEL_BRAND_TEMPLATES, 1)},
            "shippingTemplates": {str(SHIPPING_METHODS[-1][0]): brand_id * 100 + 50},
            "financialDetails": {},
            "logo": {},
        }


def build_shipping_methods(world: World) -> Iterator[Record]:
    for method_id, code, name in SHIPPING_METHODS:
        yield {
            "id": method_id,
            "code": code,
            "name": name,
            "methodType": 2 if code == "COL" else 1,
            "breaks": [],
            "additionalInformationRequired": False,
        }


@cache
def _custom_field_metadata(kind: str) -> tuple[Record, ...]:
    """The metadata of one kind's custom fields; shared, so callers must not change it."""
    first_id, fields = CUSTOM_FIELDS[kind]
    metadata = []
    for offset, (code, name, field_type, options) in enumerate(fields):
        field = {"id": first_id + offset, "code": code, "name": name, "customFieldType": field_type, "required": False}
        if options:
            field["options"] = {
                str(first_id * 10 + n): {"id": first_id * 10 + n, "value": value}
                for n, value in enumerate(options, start=1)
            }
        metadata.append(field)
    return tuple(metadata)


def custom_field_builder(kind: str):
    def build(world: World) -> Iterator[Record]:
        return iter(_custom_field_metadata(kind))

    build.__name__ = f"build_{kind}_custom_field_metadata"
    return build


def custom_field_date(world: World, moment: datetime) -> str:
    """A DATE custom field's value as a recorded answer carries one: `2023-03-06 17:22:26 -0600`
    (not RFC 3339: a space before the time and before an offset without a colon)."""
    return moment.astimezone(world.tz).strftime("%Y-%m-%d %H:%M:%S %z")


def custom_field_values(world: World, kind: str, fill_rate: float = 0.7) -> dict:
    """Values keyed by field code; unset fields are None (sent only with `nullCustomFields`)."""
    values = {}
    for field in _custom_field_metadata(kind):
        if not world.chance(fill_rate):
            values[field["code"]] = None
            continue
        field_type = field["customFieldType"]
        if field_type == "YESNO":
            values[field["code"]] = world.chance(0.5)
        elif field_type == "INTEGER":
            values[field["code"]] = world.rng.randint(1, 90)
        elif field_type == "DATE":
            values[field["code"]] = custom_field_date(world, world.moment(HISTORY_START))
        elif field_type == "SELECT":
            option = world.pick(list(field["options"].values()))
            values[field["code"]] = {"id": option["id"], "value": option["value"]}
        else:
            values[field["code"]] = world.pick(
                [
                    "Organic cotton",
                    "Handle with care",
                    "Leave at door",
                    "Merino",
                    "Recycled polyester",
                    "Call before delivery",
                ]
            )
    return values
