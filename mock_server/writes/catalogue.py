"""Product writes: POST and PUT of products, PUT of one price list's quantity breaks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..builders.catalogue import product_warehouses
from ..resources import Record
from ..store import Dataset, deep_merge
from ..world import World
from .framework import WriteCall, existing, invalid, json_object, new_id, parse_decimal, search_values, true_or_false
from .warehouse import empty_availability

PRODUCT_STATUSES = ("LIVE", "ARCHIVED", "DISCONTINUED")
READ_ONLY_PRODUCT_KEYS = ("id", "createdOn", "updatedOn", "version")


def _check_product(dataset: Dataset, product: Record, product_id: int) -> None:
    if product.get("brandId") is None:
        raise invalid("PRDC-014", "You must supply a brand ID.")
    if product["brandId"] not in dataset["brand"]:
        raise invalid("PRDC-015", f"Brand {product['brandId']!r} does not exist")
    if product.get("productTypeId") not in dataset["product-type"]:
        raise invalid("PRDC-016", f"Product type {product.get('productTypeId')!r} does not exist")
    channels = product.get("salesChannels")
    if not (
        isinstance(channels, list)
        and channels
        and isinstance(channels[0], dict)
        and isinstance(channels[0].get("productName"), str)
        and channels[0]["productName"].strip()
    ):
        raise invalid("PRDC-017", "You must supply a product name (salesChannels[0].productName)")
    categories = channels[0].setdefault("categories", [])
    for category in categories if isinstance(categories, list) else [None]:
        code = category.get("categoryCode") if isinstance(category, dict) else None
        if not (isinstance(code, str) and code.isdigit() and int(code) in dataset["brightpearl-category"]):
            raise invalid("PRDC-019", f"Category {code!r} does not exist")
    tax_code = json_object(
        json_object(product.get("financialDetails"), "financialDetails").get("taxCode"), "financialDetails.taxCode"
    )
    if tax_code.get("id") not in dataset["tax-code"]:
        raise invalid("PRDC-018", f"Tax code {tax_code.get('id')!r} does not exist")
    tax_code["code"] = dataset["tax-code"].record(tax_code["id"])["code"]
    identity = json_object(product.get("identity"), "identity")
    sku = identity.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise invalid("PRDC-020", "You must supply a SKU (identity.sku)")
    in_use = search_values(dataset["product"], "productId", "SKU")
    if any(used == sku and other != product_id for other, used in in_use):
        raise invalid("PRDC-021", f"SKU {sku} is already used by another product")
    stock = json_object(product.get("stock"), "stock")
    true_or_false(stock.get("stockTracked"), "stock.stockTracked")
    supplier = product.get("primarySupplierId", 0)
    if supplier and not (
        supplier in dataset["contact"] and dataset["contact"].record(supplier)["relationshipToAccount"]["isSupplier"]
    ):
        raise invalid("PRDC-022", f"Contact {supplier!r} is not a supplier")
    seasons = product.get("seasonIds")
    if not isinstance(seasons, list) or any(season not in dataset["season"] for season in seasons):
        raise invalid("PRDC-023", f"Season IDs {seasons!r} do not all exist")
    if product.get("status") not in PRODUCT_STATUSES:
        raise invalid("PRDC-024", f"status must be one of {', '.join(PRODUCT_STATUSES)}")


def _product_defaults(product_id: int) -> Record:
    return {
        "id": product_id,
        "productTypeId": 1,
        "identity": {},
        "productGroupId": product_id,
        "featured": False,
        "stock": {
            "stockTracked": True,
            "weight": {"magnitude": 0.0},
            "dimensions": {"length": 0.0, "height": 0.0, "width": 0.0, "volume": 0.0},
        },
        "financialDetails": {"taxable": True, "taxCode": {"id": 3}},
        "salesChannels": [{"salesChannelName": "Brightpearl", "productCondition": "new", "categories": []}],
        "composition": {"bundle": False},
        "variations": [],
        "warehouses": product_warehouses(product_id),
        "nominalCodeStock": "1001",
        "nominalCodePurchases": "5000",
        "nominalCodeSales": "4000",
        "seasonIds": [],
        "reporting": {"categoryId": None, "seasonId": None, "subcategoryId": None},
        "primarySupplierId": 0,
        "status": "LIVE",
        "salesPopupMessage": "",
        "warehousePopupMessage": "",
    }


def _stamp_product(product: Record, now: str) -> None:
    product["updatedOn"] = now
    product["version"] = int(datetime.fromisoformat(now).timestamp() * 1000)


def post_product(call: WriteCall) -> int:
    """A product; its prices (unpriced on every list) and, when stock-tracked, its empty availability."""
    body = json_object(call.body, "The product")
    product_id = new_id(call.dataset, "product")
    product = _product_defaults(product_id)
    channels = body.get("salesChannels")
    if isinstance(channels, list) and channels and isinstance(channels[0], dict):
        product["salesChannels"][0].update(channels[0])
    deep_merge(
        product, {key: value for key, value in body.items() if key not in (*READ_ONLY_PRODUCT_KEYS, "salesChannels")}
    )
    _check_product(call.dataset, product, product_id)
    product["createdOn"] = call.now
    _stamp_product(product, call.now)
    call.dataset["product"].put(product)
    call.dataset["product-price"].put(
        {
            "productId": product_id,
            "priceLists": [
                {
                    "priceListId": price_list.id,
                    "currencyCode": price_list.currency_code,
                    "currencyId": price_list.currency_id,
                    "quantityPrice": {},
                }
                for price_list in _price_lists(call.dataset)
            ],
        }
    )
    if product["stock"]["stockTracked"]:
        call.dataset["product-availability"].put(empty_availability(product_id))
    call.publish("product.created", [product_id])
    return product_id


def put_product(call: WriteCall) -> None:
    """Replace the top-level parts the body names; the rest of the product stays as it was."""
    product_id = call.ids["productId"]
    product = existing(call.dataset, "product", product_id, "No product found with ID {id}")
    body = json_object(call.body, "The product")
    product.update({key: value for key, value in body.items() if key not in READ_ONLY_PRODUCT_KEYS})
    _check_product(call.dataset, product, product_id)
    _stamp_product(product, call.now)
    call.dataset["product"].put(product)
    if product["stock"]["stockTracked"] and product_id not in call.dataset["product-availability"]:
        call.dataset["product-availability"].put(empty_availability(product_id))
    call.publish("product.modified", [product_id])


@dataclass(frozen=True)
class _PriceList:
    id: int
    currency_code: str
    currency_id: int


def _price_lists(dataset: Dataset) -> list[_PriceList]:
    return [
        _PriceList(record["id"], record["currencyCode"], record["currencyId"])
        for record in dataset["price-list"].records()
    ]


def put_product_price(call: WriteCall) -> None:
    """One price list's quantity breaks for one product: `{"quantityPrice": {"1": "12.50", "10": "11.00"}}`."""
    product_id, price_list_id = call.ids["productId"], call.ids["priceListId"]
    prices = existing(call.dataset, "product-price", product_id, "No Product Prices Found for product {id}")
    if price_list_id not in call.dataset["price-list"]:
        raise invalid("PRDC-030", f"Price list {price_list_id} does not exist")
    breaks = json_object(json_object(call.body, "The price").get("quantityPrice"), "quantityPrice")
    if not breaks:
        raise invalid("PRDC-031", 'quantityPrice needs at least one break, e.g. {"1": "12.50"}')
    for quantity, price in breaks.items():
        if not quantity.isdigit() or int(quantity) < 1 or parse_decimal(price, minimum=Decimal(0)) is None:
            raise invalid(
                "PRDC-031",
                f"Break {quantity!r}: {price!r} needs a whole quantity of 1 or more and a decimal price of 0 or more",
            )
    quantity_price = {
        quantity: World.money(Decimal(price))
        for quantity, price in sorted(breaks.items(), key=lambda item: int(item[0]))
    }
    for price_list in prices["priceLists"]:
        if price_list["priceListId"] == price_list_id:
            price_list["quantityPrice"] = quantity_price
            break
    else:
        price_list = next(p for p in _price_lists(call.dataset) if p.id == price_list_id)
        prices["priceLists"].append(
            {
                "priceListId": price_list.id,
                "currencyCode": price_list.currency_code,
                "currencyId": price_list.currency_id,
                "quantityPrice": quantity_price,
            }
        )
    call.dataset["product-price"].put(prices)
    call.publish("product.modified", [product_id])
