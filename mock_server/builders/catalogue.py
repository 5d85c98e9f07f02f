"""Products and what classifies them: brands, categories, product types, seasons."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from ..resources import Record
from ..world import HISTORY_START, World
from .reference import CURRENCIES, PRICE_LISTS, TAX_CODES, WAREHOUSES, custom_field_values, stock_location

BRANDS = ["Acme", "Northwind", "Fieldcraft", "Harbour & Co", "Lumen", "Tallgrass", "Ridgeline", "Copperleaf"]
PRODUCT_TYPES = [(1, "Standard"), (2, "Apparel"), (3, "Homeware"), (4, "Gift card")]
SEASONS = [(1, "Spring/Summer 2025"), (2, "Autumn/Winter 2025"), (3, "Spring/Summer 2026"), (4, "Autumn/Winter 2026")]
# id, name, parent id (0 = root)
CATEGORIES = [
    (400, "Clothing", 0),
    (410, "Aprons", 400),
    (415, "Workwear", 400),
    (420, "Outerwear", 400),
    (500, "Home", 0),
    (510, "Kitchen", 500),
    (520, "Textiles", 500),
    (600, "Accessories", 0),
    (610, "Bags", 600),
    (620, "Hats", 600),
    (700, "Gifts", 0),
    (710, "Gift cards", 700),
]
ADJECTIVES = ["Linen", "Waxed", "Merino", "Canvas", "Quilted", "Organic", "Selvedge", "Ripstop", "Brushed", "Heritage"]
NOUNS = ["Apron", "Chore Jacket", "Tote", "Beanie", "Tea Towel", "Overshirt", "Throw", "Field Cap", "Backpack", "Scarf"]


def build_brands(world: World) -> Iterator[Record]:
    for brand_id, name in enumerate(BRANDS, start=1):
        yield {"id": brand_id, "name": name, "description": f"{name} products", "code": name[:4].upper()}


def build_product_types(world: World) -> Iterator[Record]:
    for type_id, name in PRODUCT_TYPES:
        yield {"id": type_id, "name": name}


def build_seasons(world: World) -> Iterator[Record]:
    for season_id, name in SEASONS:
        yield {"id": season_id, "name": name, "description": name}


def build_categories(world: World) -> Iterator[Record]:
    for category_id, name, parent_id in CATEGORIES:
        created = world.moment(HISTORY_START)
        yield {
            "id": category_id,
            "name": name,
            "parentId": parent_id,
            "active": True,
            "createdOn": world.stamp(created),
            "createdById": 4,
            "updatedOn": world.stamp(world.later(created, 200)),
            "updatedById": 4,
            "description": {"languageCode": "en", "text": name, "format": "PLAINTEXT"},
        }


def build_products(world: World) -> Iterator[Record]:
    supplier_ids = [c["contactId"] for c in world.records("contact") if c["relationshipToAccount"]["isSupplier"]]
    leaf_categories = [c[0] for c in CATEGORIES if c[2]]
    for product_id in range(1001, 1001 + world.scaled(100, 40, 20000)):
        name = f"{world.pick(ADJECTIVES)} {world.pick(NOUNS)}"
        created = world.moment()
        tracked = world.chance(0.9)
        tax = world.pick(TAX_CODES[2:] if world.chance(0.9) else TAX_CODES[:1])
        sku = f"{name[:3].upper()}-{name.split()[-1][:3].upper()}-{product_id:05d}"
        barcode = f"50{product_id:011d}"
        categories = world.rng.sample(leaf_categories, world.rng.randint(1, 2))
        yield {
            "id": product_id,
            "brandId": world.rng.randint(1, len(BRANDS)),
            "productTypeId": 4 if not tracked else world.rng.randint(1, 3),
            "identity": {
                "sku": sku,
                "isbn": "",
                "ean": barcode,
                "upc": "",
                "mpn": f"MPN{product_id}",
                "barcode": barcode,
            },
            "productGroupId": product_id - product_id % 5 or product_id,
            "featured": world.chance(0.1),
            "stock": {
                "stockTracked": tracked,
                "weight": {"magnitude": round(world.rng.uniform(0.1, 3.0), 4)},
                "dimensions": {"length": 30.0, "height": 2.0, "width": 20.0, "volume": 1200.0},
            },
            "financialDetails": {"taxable": tax[3] not in (None, "0.0000"), "taxCode": {"id": tax[0], "code": tax[1]}},
            "salesChannels": [
                {
                    "salesChannelName": "Brightpearl",
                    "productName": name,
                    "productCondition": "new",
                    "categories": [{"categoryCode": str(code)} for code in categories],
                    "description": {"languageCode": "en", "text": f"<p>{name}.</p>", "format": "HTML_FRAGMENT"},
                    "shortDescription": {
                        "languageCode": "en",
                        "text": f"<p>{name.split()[0]}.</p>",
                        "format": "HTML_FRAGMENT",
                    },
                }
            ],
            "composition": {"bundle": False},
            "variations": product_variations(product_id),
            "createdOn": world.stamp(created),
            "updatedOn": world.stamp(world.later(created, 400)),
            "warehouses": product_warehouses(product_id, reorder_level=20, reorder_quantity=50),
            "nominalCodeStock": "1001",
            "nominalCodePurchases": "5000",
            "nominalCodeSales": "4000",
            "seasonIds": world.rng.sample([s[0] for s in SEASONS], world.rng.randint(0, 2)),
            "reporting": {"categoryId": categories[0]},
            "primarySupplierId": world.pick(supplier_ids) if supplier_ids else 0,
            "status": "LIVE" if world.chance(0.92) else "ARCHIVED",
            "salesPopupMessage": "",
            "warehousePopupMessage": "",
            "version": int(created.timestamp() * 1000),
            "customFields": custom_field_values(world, "product"),
        }


def product_warehouses(product_id: int, reorder_level: int = 0, reorder_quantity: int = 0) -> Record:
    """A product's `warehouses`: the first two, each with the product's stock location as its default."""
    return {
        str(warehouse[0]): {
            "defaultLocationId": stock_location(warehouse[0], product_id),
            "overflowLocationId": 0,
            "reorderLevel": reorder_level,
            "reorderQuantity": reorder_quantity,
        }
        for warehouse in WAREHOUSES[:2]
    }


def product_variations(product_id: int) -> list[Record]:
    """A product's option values within its group of five (`productGroupId`): the sizes tell the
    members apart, the colour is the group's. Derived from the ID, not drawn, so adding them kept every
    other seeded value."""
    variations = []
    for option_id, index in ((1, product_id % 5), (2, product_id // 5 % 5)):
        option_name, values = OPTIONS[option_id]
        variations.append(
            {
                "optionId": option_id,
                "optionName": option_name,
                "optionValueId": option_id * 100 + index + 1,
                "optionValue": values[index],
            }
        )
    return variations


def retail_price(product_id: int) -> Decimal:
    """A product's list price, derived from its ID so orders and price lists always agree."""
    return Decimal(500 + product_id * 7919 % 9500) / 100


def cost_price(product_id: int) -> Decimal:
    return (retail_price(product_id) * Decimal("0.42")).quantize(Decimal("0.0001"))


# id, name, brand id
COLLECTIONS = [
    (1, "Workshop Essentials", 1),
    (2, "Coastal Living", 4),
    (3, "Trail Ready", 7),
    (4, "The Linen Edit", 2),
    (5, "Winter Warmers", 6),
    (6, "Gifting", 8),
]
OPTIONS = {
    1: ("Size", ["XS", "S", "M", "L", "XL"]),
    2: ("Colour", ["Natural", "Black", "Olive", "Indigo", "Rust"]),
    3: ("Length", ["Regular", "Long"]),
}
# quantity breaks of the wholesale list: (break quantity, share of the retail price)
WHOLESALE_BREAKS = [(1, Decimal("1")), (10, Decimal("0.90")), (50, Decimal("0.80"))]


def build_collections(world: World) -> Iterator[Record]:
    for collection_id, name, brand_id in COLLECTIONS:
        yield {"id": collection_id, "name": name, "brandId": brand_id, "description": f"{name} collection"}


def build_options(world: World) -> Iterator[Record]:
    for option_id, (name, _) in OPTIONS.items():
        yield {"id": option_id, "name": name}


def build_option_values(world: World) -> Iterator[Record]:
    for option_id, (name, values) in OPTIONS.items():
        for sort_order, value in enumerate(values, start=1):
            yield {
                "optionValueId": option_id * 100 + sort_order,
                "optionId": option_id,
                "optionName": name,
                "optionValueName": value,
                "sortOrder": sort_order,
            }


def build_product_prices(world: World) -> Iterator[Record]:
    """Every price list's prices, from the same formulas the orders use (wholesale adds volume breaks)."""
    rates = {currency_id: Decimal(rate) for currency_id, _, _, _, rate in CURRENCIES}
    codes = {currency_id: code for currency_id, code, _, _, _ in CURRENCIES}
    for product_id in world.ids("product"):
        retail, cost = retail_price(product_id), cost_price(product_id)
        price_lists = []
        for list_id, code, _, list_type, currency_id, _ in PRICE_LISTS:
            base = cost if list_type == "BUY" else retail
            breaks = WHOLESALE_BREAKS if code == "WHOLESALE" else WHOLESALE_BREAKS[:1]
            price_lists.append(
                {
                    "priceListId": list_id,
                    "currencyCode": codes[currency_id],
                    "currencyId": currency_id,
                    "quantityPrice": {
                        str(quantity): world.money(base * share * rates[currency_id]) for quantity, share in breaks
                    },
                }
            )
        yield {"productId": product_id, "priceLists": price_lists}
