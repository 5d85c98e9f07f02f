"""Writes: the POST, PUT and PATCH calls integrators make, declared once in `WRITES`.

`app._resolve` looks a call up here before the registry's search/GET/OPTIONS routes, so a write goes
through the same pipeline as a read (account -> rate limit -> faults -> auth -> route). A handler
validates its body like the real service (400 `{"errors":[{"code","message"}]}`), changes the dataset
keeping related records consistent, stamps `updatedOn`/`createdOn` with the mock clock (`call.now`),
and names the webhook events the change raised (`call.publish`). Handlers depend only on the
dataset, the body and `call.now`, so replaying a journal of writes rebuilds the same account.

Codes the public record does not give are the mock's choice, in Brightpearl's `{SVC}C-{nnn}` form;
README's "Writes" table lists them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import jsonpatch
import orjson

from . import errors
from .errors import ApiError
from .resources import Record
from .builders.accounting import DEBTORS
from .builders.catalogue import cost_price, retail_price
from .builders.orders import TAX_RATE, order_address, order_row, order_totals, row_money
from .builders.reference import (BASE_CURRENCY, CHANNELS, LOCATIONS_PER_WAREHOUSE, ORDER_STATUSES, WAREHOUSES,
                                 stock_location)
from .builders.sales import flat_order
from .store import Dataset, Table, deep_merge
from .world import World, format_stamp
from .webhooks import delete_webhook, post_webhook, simulate_webhook

if TYPE_CHECKING:
    from .app import MockState


@dataclass
class WriteCall:
    """One write being served: the mock's state, the path's IDs, the decoded body and its moment.

    The handler sets `result` (None answers a bare `{}`) and lists its events with `publish`; they
    are raised after the write succeeds, and not at all when a journal is replayed.
    """

    state: MockState
    ids: dict[str, int]
    body: Any
    now: str
    result: Any = None
    events: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def dataset(self) -> Dataset:
        return self.state.dataset

    def publish(self, full_event: str, ids: Iterable[int]) -> None:
        self.events.append((full_event, list(ids)))


# A handler returns the `response` value: the new ID of a POST, None for the bare `{}` of a PUT/PATCH.
Handler = Callable[[WriteCall], Any]


@dataclass(frozen=True)
class Write:
    """A write endpoint: `path` is under the account, `{name}` segments are positive integer IDs."""

    method: str
    path: str
    handle: Handler
    message_type: str

    @cached_property
    def pattern(self) -> re.Pattern:
        literal = re.escape(self.path)
        for name in re.findall(r"\{(\w+)\}", self.path):
            literal = literal.replace(re.escape("{" + name + "}"), f"(?P<{name}>[1-9][0-9]{{0,17}})")
        return re.compile(f"^{literal}/?$")

    def match(self, method: str, path: str) -> dict[str, int] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return None if found is None else {name: int(value) for name, value in found.groupdict().items()}


def find_write(method: str, path: str) -> tuple[Write, dict[str, int]] | None:
    for write in WRITES:
        ids = write.match(method, path)
        if ids is not None:
            return write, ids
    return None


def perform(state: MockState, write: Write, ids: dict[str, int], body: Any, now: str) -> WriteCall:
    call = WriteCall(state, ids, body, now)
    call.result = write.handle(call)
    return call


def decode_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise errors.bad_request(f"The request body is not valid JSON: {error}") from None


def invalid(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


# ---------------------------------------------------------------------------------------------
# Body reading: each helper names the field it refuses, so the error says what to fix
# ---------------------------------------------------------------------------------------------

def _object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise errors.bad_request(f"{name} must be a JSON object")
    return value


def _text(body: dict, name: str, required: bool = False, default: str = "") -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise errors.bad_request(f"You must supply {name}")
        return default
    if not isinstance(value, str):
        raise errors.bad_request(f"{name} must be a string")
    return value


def _id(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.bad_request(f"{name} must be a whole number of 0 or more, not {value!r}")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise errors.bad_request(f"{name} must be true or false")
    return value


def _patched(record: Record, operations: Any) -> Record:
    """A copy of `record` with an RFC 6902 JSON Patch applied; a bad operation is CMNC-044 as recorded."""
    if not isinstance(operations, list):
        raise ApiError(500, "CMNC-044", "A PATCH body must be a JSON Patch array of operations")
    try:
        return jsonpatch.apply_patch(record, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as error:
        raise ApiError(500, "CMNC-044", f"The PATCH operation could not be applied: {error}") from None


def _record(dataset: Dataset, resource: str, record_id: int, message: str) -> Record:
    table = dataset[resource]
    if record_id not in table:
        raise errors.not_found(message.format(id=record_id))
    return table.record(record_id)


def _new_id(dataset: Dataset, resource: str) -> int:
    table = dataset[resource]
    return dataset.next_id(resource, lambda: max(table.ids(), default=0), taken=table)

def _search_values(table: Table, *names: str) -> Iterator[tuple]:
    """The named columns of every search row: a scan without decoding the records."""
    indexes = [[column.name for column in table.resource.columns].index(name) for name in names]
    return (tuple(row[index] for index in indexes) for row in table.search_rows())


# ---------------------------------------------------------------------------------------------
# Contacts and companies
# ---------------------------------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_contact(dataset: Dataset, contact: Record) -> None:
    """What the contact service refuses, whichever write produced the record."""
    for part in ("communication", "relationshipToAccount", "financialDetails", "assignment"):
        _object(contact.get(part), part)
    if not (contact.get("firstName") or contact.get("lastName")):
        raise invalid("CONC-001", "You must supply a first name or a last name")
    for name in ("salutation", "firstName", "lastName"):
        if not isinstance(contact.get(name, ""), str):
            raise errors.bad_request(f"{name} must be a string")
    for kind, entry in _object(contact["communication"].get("emails", {}), "communication.emails").items():
        email = _object(entry, f"communication.emails.{kind}").get("email")
        if not isinstance(email, str) or not EMAIL.match(email):
            raise invalid("CONC-002", f"{email!r} is not a valid email address ({kind})")
    relationship = contact["relationshipToAccount"]
    _flag(relationship.get("isSupplier"), "relationshipToAccount.isSupplier")
    _flag(relationship.get("isStaff"), "relationshipToAccount.isStaff")
    money = contact["financialDetails"]
    if money.get("priceListId") not in dataset["price-list"]:
        raise invalid("CONC-003", f"Price list {money.get('priceListId')!r} does not exist")
    if money.get("currencyId") not in dataset["currency"]:
        raise invalid("CONC-004", f"Currency {money.get('currencyId')!r} does not exist")
    if money.get("taxCodeId", 0) not in dataset["tax-code"] and money.get("taxCodeId", 0) != 0:
        raise invalid("CONC-005", f"Tax code {money.get('taxCodeId')!r} does not exist")
    nominal_codes = {record["code"] for record in dataset["nominal-code"].records()}
    if money.get("nominalCode") not in nominal_codes:
        raise invalid("CONC-006", f"Nominal code {money.get('nominalCode')!r} does not exist")
    current = _object(contact["assignment"].get("current", {}), "assignment.current")
    owner = _id(current.get("staffOwnerContactId", 0), "assignment.current.staffOwnerContactId")
    if owner and not (owner in dataset["contact"]
                      and dataset["contact"].record(owner)["relationshipToAccount"]["isStaff"]):
        raise invalid("CONC-007", f"Staff owner {owner} is not a staff contact")
    lead_source = _id(current.get("leadSourceId", 0), "assignment.current.leadSourceId")
    if lead_source and lead_source not in dataset["lead-source"]:
        raise invalid("CONC-008", f"Lead source {lead_source} does not exist")


def _contact_defaults(contact_id: int, supplier: bool) -> Record:
    address_id = 9000 + contact_id * 2
    return {
        "contactId": contact_id, "isPrimaryContact": True, "salutation": "", "firstName": "", "lastName": "",
        "postAddressIds": {"DEF": address_id, "BIL": address_id, "DEL": address_id},
        "communication": {"emails": {}, "telephones": {}, "messagingVoips": {}, "websites": {}},
        "contactStatus": {"current": {"contactStatusId": 1, "contactStatusName": "Active"}, "history": []},
        "relationshipToAccount": {"isSupplier": supplier, "isStaff": False},
        "marketingDetails": {"isReceiveEmailNewsletter": False},
        "financialDetails": {"priceListId": 1 if supplier else 2, "nominalCode": "5000" if supplier else "4000",
                             "creditLimit": 0, "creditTermDays": 0, "currencyId": 1, "discountPercentage": 0,
                             "taxCodeId": 3, "creditTermTypeId": 1},
        "assignment": {"current": {"staffOwnerContactId": 0, "leadSourceId": 0, "accountReference": ""}},
        "organisation": {}, "tradeStatus": "SUPPLIER" if supplier else "RETAIL", "createdByid": 1,
        "contactTags": "", "aliases": {}, "companyId": 0,
    }


READ_ONLY_CONTACT_KEYS = ("contactId", "createdOn", "updatedOn", "createdByid", "organisation", "companyId")


def post_contact(call: WriteCall) -> int:
    """A customer, supplier or staff contact; `organisation.name` also creates its company."""
    body = _object(call.body, "The contact")
    relationship = _object(body.get("relationshipToAccount", {}), "relationshipToAccount")
    supplier = _flag(relationship.get("isSupplier", False), "relationshipToAccount.isSupplier")
    contact_id = _new_id(call.dataset, "contact")
    contact = _contact_defaults(contact_id, supplier)
    deep_merge(contact, {key: value for key, value in body.items() if key not in READ_ONLY_CONTACT_KEYS})
    _check_contact(call.dataset, contact)
    company_name = _text(_object(body.get("organisation", {}), "organisation"), "name")
    if company_name:
        company_id = _new_id(call.dataset, "company")
        call.dataset["company"].put({"id": company_id, "name": company_name, "primaryContactId": contact_id,
                                     "createdOn": call.now, "updatedOn": call.now})
        contact.update(organisation={"organisationId": company_id, "name": company_name}, companyId=company_id)
        call.publish("company.created", [company_id])
    contact.update(createdOn=call.now, updatedOn=call.now)
    call.dataset["contact"].put(contact)
    call.publish("contact.created", [contact_id])
    return contact_id


def patch_contact(call: WriteCall) -> None:
    contact_id = call.ids["contactId"]
    before = _record(call.dataset, "contact", contact_id, "No Contact Found with ID {id}")
    contact = _patched(before, call.body)
    for key in READ_ONLY_CONTACT_KEYS:
        if contact.get(key) != before.get(key):
            raise invalid("CONC-009", f"{key} cannot be changed")
    _check_contact(call.dataset, contact)
    contact["updatedOn"] = call.now
    call.dataset["contact"].put(contact)
    call.publish("contact.modified", [contact_id])


def _check_company_name(company: Record) -> None:
    if not isinstance(company.get("name"), str) or not company["name"].strip():
        raise invalid("CONC-010", "You must supply a company name")


def post_company(call: WriteCall) -> int:
    body = _object(call.body, "The company")
    primary = _id(body.get("primaryContactId", 0), "primaryContactId")
    if primary and primary not in call.dataset["contact"]:
        raise invalid("CONC-011", f"Contact {primary} does not exist")
    company = {"id": _new_id(call.dataset, "company"), "name": body.get("name"), "primaryContactId": primary,
               "createdOn": call.now, "updatedOn": call.now}
    _check_company_name(company)
    call.dataset["company"].put(company)
    call.publish("company.created", [company["id"]])
    return company["id"]


def patch_company(call: WriteCall) -> None:
    company_id = call.ids["companyId"]
    before = _record(call.dataset, "company", company_id, "No Company Found with ID {id}")
    company = _patched(before, call.body)
    if company.get("id") != company_id or company.get("createdOn") != before["createdOn"]:
        raise invalid("CONC-009", "id and createdOn cannot be changed")
    _check_company_name(company)
    primary = company.get("primaryContactId", 0)
    if primary and primary not in call.dataset["contact"]:
        raise invalid("CONC-011", f"Contact {primary} does not exist")
    company["updatedOn"] = call.now
    call.dataset["company"].put(company)
    call.publish("company.modified", [company_id])


# ---------------------------------------------------------------------------------------------
# Products and prices
# ---------------------------------------------------------------------------------------------

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
    if not (isinstance(channels, list) and channels and isinstance(channels[0], dict)
            and isinstance(channels[0].get("productName"), str) and channels[0]["productName"].strip()):
        raise invalid("PRDC-017", "You must supply a product name (salesChannels[0].productName)")
    categories = channels[0].setdefault("categories", [])
    for category in categories if isinstance(categories, list) else [None]:
        code = category.get("categoryCode") if isinstance(category, dict) else None
        if not (isinstance(code, str) and code.isdigit() and int(code) in dataset["brightpearl-category"]):
            raise invalid("PRDC-019", f"Category {code!r} does not exist")
    tax_code = _object(_object(product.get("financialDetails"), "financialDetails").get("taxCode"),
                       "financialDetails.taxCode")
    if tax_code.get("id") not in dataset["tax-code"]:
        raise invalid("PRDC-018", f"Tax code {tax_code.get('id')!r} does not exist")
    tax_code["code"] = dataset["tax-code"].record(tax_code["id"])["code"]
    identity = _object(product.get("identity"), "identity")
    sku = identity.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise invalid("PRDC-020", "You must supply a SKU (identity.sku)")
    in_use = _search_values(dataset["product"], "productId", "SKU")
    if any(used == sku and other != product_id for other, used in in_use):
        raise invalid("PRDC-021", f"SKU {sku} is already used by another product")
    stock = _object(product.get("stock"), "stock")
    _flag(stock.get("stockTracked"), "stock.stockTracked")
    supplier = product.get("primarySupplierId", 0)
    if supplier and not (supplier in dataset["contact"]
                         and dataset["contact"].record(supplier)["relationshipToAccount"]["isSupplier"]):
        raise invalid("PRDC-022", f"Contact {supplier!r} is not a supplier")
    seasons = product.get("seasonIds")
    if not isinstance(seasons, list) or any(season not in dataset["season"] for season in seasons):
        raise invalid("PRDC-023", f"Season IDs {seasons!r} do not all exist")
    if product.get("status") not in PRODUCT_STATUSES:
        raise invalid("PRDC-024", f"status must be one of {', '.join(PRODUCT_STATUSES)}")


def _product_defaults(product_id: int) -> Record:
    return {
        "id": product_id, "productTypeId": 1, "identity": {}, "productGroupId": product_id, "featured": False,
        "stock": {"stockTracked": True, "weight": {"magnitude": 0.0},
                  "dimensions": {"length": 0.0, "height": 0.0, "width": 0.0, "volume": 0.0}},
        "financialDetails": {"taxable": True, "taxCode": {"id": 3}},
        "salesChannels": [{"salesChannelName": "Brightpearl", "productCondition": "new", "categories": []}],
        "composition": {"bundle": False}, "variations": [],
        "warehouses": {str(warehouse[0]): {"defaultLocationId": stock_location(warehouse[0], product_id),
                                           "overflowLocationId": 0, "reorderLevel": 0, "reorderQuantity": 0}
                       for warehouse in WAREHOUSES[:2]},
        "nominalCodeStock": "1001", "nominalCodePurchases": "5000", "nominalCodeSales": "4000", "seasonIds": [],
        "reporting": {"categoryId": None, "seasonId": None, "subcategoryId": None}, "primarySupplierId": 0,
        "status": "LIVE", "salesPopupMessage": "", "warehousePopupMessage": "",
    }


def _stamp_product(product: Record, now: str) -> None:
    product["updatedOn"] = now
    product["version"] = int(datetime.fromisoformat(now).timestamp() * 1000)


def post_product(call: WriteCall) -> int:
    """A product; its prices (unpriced on every list) and, when stock-tracked, its empty availability."""
    body = _object(call.body, "The product")
    product_id = _new_id(call.dataset, "product")
    product = _product_defaults(product_id)
    channels = body.get("salesChannels")
    if isinstance(channels, list) and channels and isinstance(channels[0], dict):
        product["salesChannels"][0].update(channels[0])
    deep_merge(product, {key: value for key, value in body.items()
                         if key not in (*READ_ONLY_PRODUCT_KEYS, "salesChannels")})
    _check_product(call.dataset, product, product_id)
    product["createdOn"] = call.now
    _stamp_product(product, call.now)
    call.dataset["product"].put(product)
    call.dataset["product-price"].put({"productId": product_id, "priceLists": [
        {"priceListId": price_list.id, "currencyCode": price_list.currency_code,
         "currencyId": price_list.currency_id, "quantityPrice": {}} for price_list in _price_lists(call.dataset)]})
    if product["stock"]["stockTracked"]:
        call.dataset["product-availability"].put(_empty_availability(product_id))
    call.publish("product.created", [product_id])
    return product_id


def put_product(call: WriteCall) -> None:
    """Replace the top-level parts the body names; the rest of the product stays as it was."""
    product_id = call.ids["productId"]
    product = _record(call.dataset, "product", product_id, "No product found with ID {id}")
    body = _object(call.body, "The product")
    product.update({key: value for key, value in body.items() if key not in READ_ONLY_PRODUCT_KEYS})
    _check_product(call.dataset, product, product_id)
    _stamp_product(product, call.now)
    call.dataset["product"].put(product)
    if product["stock"]["stockTracked"] and product_id not in call.dataset["product-availability"]:
        call.dataset["product-availability"].put(_empty_availability(product_id))
    call.publish("product.modified", [product_id])


@dataclass(frozen=True)
class _PriceList:
    id: int
    currency_code: str
    currency_id: int


def _price_lists(dataset: Dataset) -> list[_PriceList]:
    return [_PriceList(record["id"], record["currencyCode"], record["currencyId"])
            for record in dataset["price-list"].records()]


def put_product_price(call: WriteCall) -> None:
    """One price list's quantity breaks for one product: `{"quantityPrice": {"1": "12.50", "10": "11.00"}}`."""
    product_id, price_list_id = call.ids["productId"], call.ids["priceListId"]
    prices = _record(call.dataset, "product-price", product_id, "No Product Prices Found for product {id}")
    if price_list_id not in call.dataset["price-list"]:
        raise invalid("PRDC-030", f"Price list {price_list_id} does not exist")
    breaks = _object(_object(call.body, "The price").get("quantityPrice"), "quantityPrice")
    if not breaks:
        raise invalid("PRDC-031", "quantityPrice needs at least one break, e.g. {\"1\": \"12.50\"}")
    for quantity, price in breaks.items():
        if not quantity.isdigit() or int(quantity) < 1 or _decimal(price, minimum=Decimal(0)) is None:
            raise invalid("PRDC-031", f"Break {quantity!r}: {price!r} needs a whole quantity of 1 or more "
                                      "and a decimal price of 0 or more")
    quantity_price = {quantity: World.money(Decimal(price)) for quantity, price in sorted(
        breaks.items(), key=lambda item: int(item[0]))}
    for price_list in prices["priceLists"]:
        if price_list["priceListId"] == price_list_id:
            price_list["quantityPrice"] = quantity_price
            break
    else:
        price_list = next(p for p in _price_lists(call.dataset) if p.id == price_list_id)
        prices["priceLists"].append({"priceListId": price_list.id, "currencyCode": price_list.currency_code,
                                     "currencyId": price_list.currency_id, "quantityPrice": quantity_price})
    call.dataset["product-price"].put(prices)
    call.publish("product.modified", [product_id])


def _decimal(value: Any, minimum: Decimal | None = None) -> Decimal | None:
    """The decimal in a string or number, or None when it is not one (or below `minimum`)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or (minimum is not None and number < minimum):
        return None
    return number


# ---------------------------------------------------------------------------------------------
# Orders, their rows and statuses
# ---------------------------------------------------------------------------------------------

PARTY_OF_TYPE = {"SO": "customer", "SC": "customer", "PO": "supplier", "PC": "supplier"}
STATUS_OF = {status[0]: status for status in ORDER_STATUSES}
ORDER_HEADER_KEYS = ("reference", "externalRef", "placedOn", "delivery", "parties", "assignment", "warehouseId",
                     "priceModeCode", "priceListId")


def _order(dataset: Dataset, order_id: int) -> Record:
    return _record(dataset, "order", order_id, "No order found with ID {id}")


def _save_order(call: WriteCall, order: Record) -> None:
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


def _tracked(dataset: Dataset, product_id: int | None) -> bool:
    return product_id in dataset["product"] and dataset["product"].record(product_id)["stock"]["stockTracked"]


def _stock_codes(dataset: Dataset, order: Record) -> Record:
    """Stock, allocation and shipping codes from the rows and the goods notes made against them."""
    tracked = {int(row_id): Decimal(row["quantity"]["magnitude"]) for row_id, row in order["orderRows"].items()
               if _tracked(dataset, row.get("productId"))}
    if order["orderTypeCode"] == "SO":
        if not tracked:
            return {"stockStatusCode": "NON", "allocationStatusCode": "ANR", "shippingStatusCode": "NST"}
        allocated = _moved(dataset, "goods-out-note", order["id"])
        done = sum(min(allocated.get(row_id, 0), quantity) for row_id, quantity in tracked.items())
        whole = sum(tracked.values())
        stock, allocation = (("SOA", "AAA") if done >= whole else ("SPA", "APA") if done else ("SON", "ANA"))
        return {"stockStatusCode": stock, "allocationStatusCode": allocation,
                "shippingStatusCode": order["shippingStatusCode"] if order["shippingStatusCode"] != "NST" else "SNS"}
    if order["orderTypeCode"] == "PO":
        received = _moved(dataset, "goods-in-note", order["id"])
        full = tracked and all(received.get(row_id, 0) >= quantity for row_id, quantity in tracked.items())
        return {"stockStatusCode": "POR" if full else "PON"}
    return {}


def _moved(dataset: Dataset, resource: str, order_id: int) -> dict[int, int]:
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
    body = _object(body, "The order row")
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
    quantity = _decimal(_object(body.get("quantity", {"magnitude": "1"}), "quantity").get("magnitude"))
    if quantity is None or quantity <= 0:
        raise invalid("ORDC-022", "quantity.magnitude must be a number above 0")
    value = _object(body.get("rowValue", {}), "rowValue")
    tax_code = _tax_code(dataset, value.get("taxCode") or (product["financialDetails"]["taxCode"]["code"]
                                                            if product else "T0"))
    rate_percent = TAX_RATE[tax_code["id"]]
    if value.get("rowNet") is not None:
        row_net = _decimal(_object(value["rowNet"], "rowValue.rowNet").get("value"))
        if row_net is None:
            raise invalid("ORDC-024", "rowValue.rowNet.value must be a decimal amount")
        unit = row_net / quantity
    else:
        unit = _list_price(dataset, order, product_id, quantity) if product_id is not None else Decimal(0)
        row_net = (quantity * unit).quantize(Decimal("0.0001"))
    if value.get("rowTax") is not None:
        row_tax = _decimal(_object(value["rowTax"], "rowValue.rowTax").get("value"))
        if row_tax is None:
            raise invalid("ORDC-024", "rowValue.rowTax.value must be a decimal amount")
    else:
        row_tax = (row_net * rate_percent / 100).quantize(Decimal("0.01"))
    nominal = body.get("nominalCode") or ("5000" if purchase else "4000")
    if nominal not in {record["code"] for record in dataset["nominal-code"].records()}:
        raise invalid("ORDC-025", f"Nominal code {nominal!r} does not exist")
    row_id = dataset.next_id("order-row", lambda: _row_ids(dataset))
    sequence = len(order["orderRows"]) + 1
    row = order_row(sequence, currency, quantity, unit, row_net, row_tax, tax_code, product_id=product_id, name=name,
                    sku=product["identity"].get("sku", "") if product else "",
                    cost=cost_price(product_id) * rate if product_id is not None else Decimal(0), nominal=nominal)
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
    status_id = _object(order.get("orderStatus"), "orderStatus").get("orderStatusId")
    status = _status(status_id)
    if status is None or status[2] != order["orderTypeCode"]:
        raise invalid("ORDC-012", f"Order status {status_id!r} does not exist for {order['orderTypeCode']} orders")
    if order.get("priceListId") not in dataset["price-list"]:
        raise invalid("ORDC-011", f"Price list {order.get('priceListId')!r} does not exist")
    if order.get("warehouseId") not in dataset["warehouse"]:
        raise invalid("ORDC-013", f"Warehouse {order.get('warehouseId')!r} does not exist")
    delivery = _object(order.get("delivery"), "delivery")
    if delivery.get("shippingMethodId") not in dataset["shipping-method"]:
        raise invalid("ORDC-014", f"Shipping method {delivery.get('shippingMethodId')!r} does not exist")
    channel = _object(_object(order.get("assignment"), "assignment").get("current"), "assignment.current")
    if channel.get("channelId", 0) and channel["channelId"] not in dataset["channel"]:
        raise invalid("ORDC-015", f"Channel {channel['channelId']!r} does not exist")
    for name in ("reference", "externalRef"):
        if not isinstance(order.get(name, ""), str):
            raise errors.bad_request(f"{name} must be a string")
    for name in ("placedOn", "delivery.deliveryDate"):
        value = order["placedOn"] if name == "placedOn" else delivery.get("deliveryDate")
        if value is not None and _moment(value) is None:
            raise invalid("ORDC-016", f"{name} must be an ISO 8601 date-time, not {value!r}")


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _local_stamp(dataset: Dataset, value: str) -> str:
    moment = _moment(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dataset.account_tz)
    return format_stamp(moment, dataset.account_tz)


def post_order(call: WriteCall) -> int:
    """A sales, purchase or credit order, with its rows if the body lists them under `rows`."""
    body = _object(call.body, "The order")
    dataset = call.dataset
    type_code = body.get("orderTypeCode")
    if not type_code:
        raise invalid("ORDC-005", "You have not supplied an order type code")
    if not isinstance(type_code, str) or type_code not in PARTY_OF_TYPE:
        raise invalid("ORDC-006", f"Order type code {type_code!r} is not one of SO, PO, SC, PC")
    role = PARTY_OF_TYPE[type_code]
    parties = _object(body.get("parties", {}), "parties")
    contact = _check_party(dataset, type_code, _object(parties.get(role, {}), f"parties.{role}").get("contactId"))
    currency_body = _object(body.get("currency", {}), "currency")
    currency_code = currency_body.get("orderCurrencyCode", BASE_CURRENCY)
    currency = next((record for record in dataset["currency"].records() if record["code"] == currency_code), None)
    if currency is None:
        raise invalid("ORDC-010", f"Currency code {currency_code!r} is not valid")
    rate = _decimal(currency_body.get("exchangeRate", currency["exchangeRate"]))
    if rate is None or rate <= 0:
        raise invalid("ORDC-010", "currency.exchangeRate must be a decimal above 0")
    current = _object(_object(body.get("assignment", {}), "assignment").get("current", {}), "assignment.current")
    channel_id = current.get("channelId", 1 if role == "customer" else 0)
    channel = next((c for c in CHANNELS if c[0] == channel_id), None)
    parent_id = body.get("parentOrderId", 0)
    if type_code in ("SC", "PC") and parent_id and parent_id not in dataset["order"]:
        raise invalid("ORDC-017", f"Parent order {parent_id!r} does not exist")
    address = order_address(contact)
    order_id = _new_id(dataset, "order")
    status_id = next(status[0] for status in ORDER_STATUSES if status[2] == type_code)
    order: Record = {
        "id": order_id, "parentOrderId": parent_id, "orderTypeCode": type_code,
        "reference": f"{type_code}-{order_id}", "version": 1, "state": {"tax": "NOT_INVOICED"},
        "orderStatus": {"orderStatusId": status_id}, "tax": {"errors": []}, "orderPaymentStatus": "UNPAID",
        "stockStatusCode": "NON", "allocationStatusCode": "ANR", "shippingStatusCode": "NST",
        "placedOn": call.now, "createdOn": call.now, "updatedOn": call.now, "createdById": 1,
        "priceListId": contact["financialDetails"]["priceListId"] if role == "customer" else 1, "priceModeCode": "EXC",
        "delivery": {"deliveryDate": call.now, "shippingMethodId": 1}, "invoices": [],
        "currency": {"accountingCurrencyCode": BASE_CURRENCY, "orderCurrencyCode": currency_code,
                     "exchangeRate": f"{rate:.6f}", "fixedExchangeRate": currency_code != BASE_CURRENCY},
        "assignment": {"current": {"staffOwnerContactId": contact["assignment"]["current"]["staffOwnerContactId"],
                                   "projectId": 0, "channelId": channel_id,
                                   "leadSourceId": contact["assignment"]["current"]["leadSourceId"], "teamId": 0}},
        "parties": {role: {"contactId": contact["contactId"], **address}, "delivery": address,
                    "billing": {"contactId": contact["contactId"], **address}},
        "orderRows": {}, "warehouseId": channel[3] if channel else 1, "acknowledged": 0, "costPriceListId": 1,
        "historicalOrder": False, "orderWeighting": 100, "externalRef": "", "installedIntegrationInstanceId": 0,
    }
    if type_code == "PO":
        order["isDropship"] = False
    deep_merge(order, {key: value for key, value in body.items() if key in (*ORDER_HEADER_KEYS, "orderStatus")})
    _check_order_header(dataset, order)
    order["placedOn"] = _local_stamp(dataset, order["placedOn"])
    order["orderStatus"]["name"] = STATUS_OF[order["orderStatus"]["orderStatusId"]][1]
    rows = body.get("rows", [])
    if not isinstance(rows, list):
        raise errors.bad_request("rows must be a list of order rows")
    for row_body in rows:
        row_id, row = _new_row(call, order, row_body)
        order["orderRows"][str(row_id)] = row
    _save_order(call, order)
    call.publish("order.created", [order_id])
    # the real service raises order.modified on creation too (brightpearl-api.md §9)
    call.publish("order.modified", [order_id])
    return order_id


def put_order(call: WriteCall) -> None:
    """Change the order's header: references, dates, delivery, parties, assignment, warehouse, price list."""
    order = _order(call.dataset, call.ids["orderId"])
    body = _object(call.body, "The order")
    refused = sorted(set(body) - set(ORDER_HEADER_KEYS))
    if refused:
        raise invalid("ORDC-026", f"{', '.join(refused)} cannot be changed with PUT: rows, status and stock "
                                  "have their own endpoints, the rest is read-only")
    role = PARTY_OF_TYPE[order["orderTypeCode"]]
    parties = _object(body.get("parties", {}), "parties")
    party = _object(parties.get(role, {}), f"parties.{role}")
    changes = dict(body)
    if "contactId" in party:
        contact = _check_party(call.dataset, order["orderTypeCode"], party["contactId"])
        changes["parties"] = {**parties, role: {"contactId": contact["contactId"], **order_address(contact), **party}}
    deep_merge(order, changes)
    _check_order_header(call.dataset, order)
    order["placedOn"] = _local_stamp(call.dataset, order["placedOn"])
    order["version"] += 1
    _save_order(call, order)
    call.publish("order.modified", [order["id"]])


def post_order_row(call: WriteCall) -> int:
    order = _order(call.dataset, call.ids["orderId"])
    row_id, row = _new_row(call, order, call.body)
    order["orderRows"][str(row_id)] = row
    _save_order(call, order)
    call.publish("order.modified", [order["id"]])
    return row_id


def patch_order_row(call: WriteCall) -> None:
    """JSON Patch on one row in its GET shape; net and tax follow quantity and price unless patched too."""
    order = _order(call.dataset, call.ids["orderId"])
    row_key = str(call.ids["rowId"])
    if row_key not in order["orderRows"]:
        raise errors.not_found(f"Order {order['id']} has no row {row_key}")
    before = order["orderRows"][row_key]
    row = _patched(before, call.body)
    paths = {operation.get("path", "") for operation in call.body if isinstance(operation, dict)}
    if row.get("productId") != before.get("productId") and row.get("productId") not in call.dataset["product"]:
        raise invalid("ORDC-020", f"Product {row.get('productId')!r} does not exist")
    quantity = _decimal(_object(row.get("quantity"), "quantity").get("magnitude"))
    if quantity is None or quantity <= 0:
        raise invalid("ORDC-022", "quantity.magnitude must be a number above 0")
    allocated = _moved(call.dataset, "goods-out-note" if order["orderTypeCode"] == "SO" else "goods-in-note",
                       order["id"]).get(int(row_key), 0)
    if quantity < allocated:
        raise invalid("ORDC-027", f"Row {row_key} has {allocated} allocated or received; "
                                  f"its quantity cannot go below that")
    value = _object(row.get("rowValue"), "rowValue")
    tax_code = _tax_code(call.dataset, value.get("taxCode"))
    unit = _decimal(_object(row.get("productPrice"), "productPrice").get("value"))
    if unit is None:
        raise invalid("ORDC-024", "productPrice.value must be a decimal amount")
    row_net, row_tax = row_money(quantity, unit, TAX_RATE[tax_code["id"]])
    if "/rowValue/rowNet/value" in paths or "/rowValue/rowNet" in paths:
        row_net = _decimal(value["rowNet"].get("value"))
    if "/rowValue/rowTax/value" in paths or "/rowValue/rowTax" in paths:
        row_tax = _decimal(value["rowTax"].get("value"))
    if row_net is None or row_tax is None:
        raise invalid("ORDC-024", "rowValue.rowNet and rowTax values must be decimal amounts")
    value.update(taxCode=tax_code["code"], taxClassId=tax_code["id"], taxRate=World.money(TAX_RATE[tax_code["id"]]),
                 rowNet={**value.get("rowNet", {}), "value": World.money(row_net)},
                 rowTax={**value.get("rowTax", {}), "value": World.money(row_tax, 2)})
    row["quantity"]["magnitude"] = World.money(quantity)
    order["orderRows"][row_key] = row
    _save_order(call, order)
    call.publish("order.modified", [order["id"]])


def put_order_status(call: WriteCall) -> None:
    """`{"orderStatusId": 4, "orderNote": {"text": "...", "isPublic": false}}`; the note is optional."""
    order = _order(call.dataset, call.ids["orderId"])
    body = _object(call.body, "The status")
    status = _status(body.get("orderStatusId"))
    if status is None or status[2] != order["orderTypeCode"]:
        raise invalid("ORDC-012", f"Order status {body.get('orderStatusId')!r} does not exist for "
                                  f"{order['orderTypeCode']} orders")
    note = body.get("orderNote")
    if note is not None:
        note = _object(note, "orderNote")
        text = _text(note, "text", required=True)
        public = _flag(note.get("isPublic", False), "orderNote.isPublic")
    order["orderStatus"] = {"orderStatusId": status[0], "name": status[1]}
    _save_order(call, order)
    if note is not None:
        note_id = _new_id(call.dataset, "order-note")
        call.dataset["order-note"].put({"noteId": note_id, "orderId": order["id"], "contactId": 1, "noteText": text,
                                        "isPublic": public, "dateAdded": call.now, "addedBy": 1,
                                        "orderStatusId": status[0]})
    call.publish("order.modified.order-status", [order["id"]])


def post_sales_order(call: WriteCall) -> int:
    """The newer flat sales-order shape, turned into the order POST it stands for."""
    body = _object(call.body, "The sales order")
    customer = _object(body.get("customer", {}), "customer")
    currency = _object(body.get("currency", {}), "currency")
    delivery = _object(body.get("delivery", {}), "delivery")
    order_body: Record = {"orderTypeCode": "SO", "parties": {"customer": {"contactId": customer.get("id")}},
                          "currency": {"orderCurrencyCode": currency.get("code", BASE_CURRENCY)}}
    if "exchangeRate" in currency:
        order_body["currency"]["exchangeRate"] = currency["exchangeRate"]
    for flat, key in (("ref", "reference"), ("externalRef", "externalRef"), ("placedOn", "placedOn"),
                      ("warehouseId", "warehouseId"), ("priceListId", "priceListId")):
        if flat in body:
            order_body[key] = body[flat]
    if "statusId" in body:
        order_body["orderStatus"] = {"orderStatusId": body["statusId"]}
    order_body["assignment"] = {"current": {key: body[flat] for flat, key in (
        ("channelId", "channelId"), ("staffOwnerId", "staffOwnerContactId"), ("leadSourceId", "leadSourceId"))
        if flat in body}}
    order_body["delivery"] = {key: delivery[flat] for flat, key in (
        ("date", "deliveryDate"), ("shippingMethodId", "shippingMethodId")) if flat in delivery}
    rows = body.get("rows", [])
    if not isinstance(rows, list):
        raise errors.bad_request("rows must be a list of sales-order rows")
    order_body["rows"] = [_order_row_body(_object(row, "A sales-order row")) for row in rows]
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


# ---------------------------------------------------------------------------------------------
# Stock: goods-out notes allocate, goods-in notes and stock corrections move stock
# ---------------------------------------------------------------------------------------------

GOODS_NOTES = ("goods-out-note", "goods-in-note", "stock-correction")


def _new_goods_note_id(dataset: Dataset) -> int:
    """Goods-out, goods-in notes and stock corrections share one ID sequence, as in the seeded account."""
    return dataset.next_id("goods-note", lambda: max(max(dataset[name].ids(), default=0) for name in GOODS_NOTES))


def _empty_availability(product_id: int) -> Record:
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
            self.changed[product_id] = (table.record(product_id) if product_id in table
                                        else _empty_availability(product_id))
        return self.changed[product_id]

    def on_hand(self, product_id: int, warehouse_id: int) -> int:
        return self.availability(product_id)["warehouses"].get(str(warehouse_id), _figures())["onHand"]

    def move(self, product_id: int, warehouse_id: int, location_id: int, in_stock: int = 0, allocated: int = 0) -> None:
        """Add to a location's stock and allocation; on hand is what is in stock and not allocated."""
        record = self.availability(product_id)
        location = record["breakDownByLocation"].setdefault(str(warehouse_id), {}).setdefault(
            str(location_id), {"inStock": 0, "onHand": 0, "allocated": 0})
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
    if not (isinstance(location_id, int) and location_id // 100 == warehouse_id
            and 1 <= location_id % 100 <= LOCATIONS_PER_WAREHOUSE):
        raise invalid("WHSC-113", f"Location {location_id!r} is not in warehouse {warehouse_id}")
    return location_id


def _tracked_product(dataset: Dataset, product_id: Any) -> int:
    if product_id not in dataset["product"]:
        raise invalid("WHSC-121", f"Product {product_id!r} does not exist")
    if not _tracked(dataset, product_id):
        raise invalid("WHSC-097", "These are non stock tracked products.")
    return product_id


def _lines(body: Any, key: str, what: str) -> list[dict]:
    lines = _object(body, what).get(key)
    if not isinstance(lines, list) or not lines:
        raise invalid("WHSC-102", f"{key} must list at least one line")
    return [_object(line, f"A line of {key}") for line in lines]


def post_goods_out_note(call: WriteCall) -> list[int]:
    """Allocate a sales order's rows: one note per warehouse entry; stock moves from on hand to allocated."""
    dataset = call.dataset
    order = _order(dataset, call.ids["orderId"])
    if order["orderTypeCode"] != "SO":
        raise invalid("WHSC-101", f"Order {order['id']} is a {order['orderTypeCode']}; goods-out notes are "
                                  "for sales orders")
    body = _object(call.body, "The goods-out note")
    entries = _lines(body, "warehouses", "The goods-out note")
    allocated = _moved(dataset, "goods-out-note", order["id"])
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
                raise invalid("WHSC-108", f"Product {product_id} has {stock.on_hand(product_id, warehouse_id)} "
                                          f"on hand in warehouse {warehouse_id}, not {quantity}")
            location_id = stock_location(warehouse_id, product_id)
            stock.move(product_id, warehouse_id, location_id, allocated=quantity)
            allocated[row_id] += quantity
            note_rows[str(row_id)].append({"productId": product_id, "quantity": quantity, "locationId": location_id})
        release = entry.get("releaseDate")
        if release is not None and _moment(release) is None:
            raise invalid("WHSC-109", f"releaseDate must be an ISO 8601 date-time, not {release!r}")
        notes.append({
            "orderId": order["id"], "warehouseId": warehouse_id, "transfer": False,
            "priority": _flag(body.get("priority", False), "priority"),
            "status": {"printed": False, "picked": False, "packed": False, "shipped": False},
            "shipping": {"shippingMethodId": body.get("shippingMethodId", order["delivery"]["shippingMethodId"])},
            "releaseDate": _local_stamp(dataset, release) if release else call.now, "createdOn": call.now,
            "createdBy": 1, "channelId": order["assignment"]["current"]["channelId"], "orderRows": dict(note_rows),
            "sequence": 1, "events": [], "lastEventVersion": 0})
    if notes[0]["shipping"]["shippingMethodId"] not in dataset["shipping-method"]:
        raise invalid("WHSC-110", f"Shipping method {notes[0]['shipping']['shippingMethodId']!r} does not exist")
    for note in notes:
        note["goodsOutNoteId"] = _new_goods_note_id(dataset)
        dataset["goods-out-note"].put(note)
    stock.save(call)
    _save_order(call, order)
    call.publish("goods-out-note.created", [note["goodsOutNoteId"] for note in notes])
    call.publish("order.modified", [order["id"]])
    return [note["goodsOutNoteId"] for note in notes]


def post_goods_in_note(call: WriteCall) -> int:
    """Receive a purchase order's rows into a warehouse: stock rises, and the order is received when all is in."""
    dataset = call.dataset
    body = _object(call.body, "The goods-in note")
    order_id = body.get("purchaseOrderId")
    if order_id not in dataset["order"]:
        raise invalid("WHSC-111", f"Purchase order {order_id!r} does not exist")
    order = dataset["order"].record(order_id)
    if order["orderTypeCode"] != "PO":
        raise invalid("WHSC-111", f"Order {order_id} is a {order['orderTypeCode']}, not a purchase order")
    warehouse_id = _warehouse(dataset, body.get("warehouseId", order["warehouseId"]))
    received = _moved(dataset, "goods-in-note", order_id)
    received_on = body.get("receivedOn")
    if received_on is not None and _moment(received_on) is None:
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
        moved.append({"productId": product_id, "purchaseOrderRowId": row_id, "quantity": quantity,
                      "warehouseId": warehouse_id, "destinationLocationId": location_id, "goodsNoteId": note_id,
                      "batchGoodsNoteId": note_id,
                      "productValue": {"currency": order["currency"]["orderCurrencyCode"],
                                       "value": row["itemCost"]["value"]},
                      "cleared": True, "valueConfirmed": True})
    note = {"batchId": note_id, "goodsNoteId": note_id, "orderId": order_id, "transfer": False,
            "goodsNoteStatus": "CLOSED",
            "userBatchReference": _text(body, "userBatchReference", default=f"GRN-{order_id}"),
            "createdOn": call.now, "receivedOn": _local_stamp(dataset, received_on) if received_on else call.now,
            "createdBy": 1, "goodsMoved": moved}
    dataset["goods-in-note"].put(note)
    _record_movements(call, [{
        "productId": line["productId"], "purchaseOrderRowId": line["purchaseOrderRowId"], "quantity": line["quantity"],
        "destinationLocationId": line["destinationLocationId"], "warehouseId": warehouse_id, "goodsNoteId": note_id,
        "productValue": line["productValue"]["value"], "currencyCode": line["productValue"]["currency"],
        "orderId": order_id, "isCleared": True, "isQuarantine": False, "batchId": note_id,
        "goodsNoteTypeCode": "GI"} for line in moved])
    stock.save(call)
    _save_order(call, order)
    call.publish("goods-in-note.created", [note_id])
    call.publish("order.modified", [order_id])
    return note_id


def _record_movements(call: WriteCall, movements: list[Record]) -> None:
    for movement in movements:
        movement_id = _new_id(call.dataset, "goods-movement")
        call.dataset["goods-movement"].put({"goodsMovementId": movement_id, **movement, "updatedOn": call.now})


def post_stock_correction(call: WriteCall) -> int:
    """`{"corrections": [{"productId", "quantity" (+/-), "reason", "locationId"?, "cost"?}]}` in one warehouse."""
    dataset = call.dataset
    warehouse_id = call.ids["warehouseId"]
    if warehouse_id not in dataset["warehouse"]:
        raise errors.not_found(f"Warehouse {warehouse_id} not found")
    currencies = {record["code"] for record in dataset["currency"].records()}
    stock = _Stock(dataset)
    note_id = _new_goods_note_id(dataset)
    moved, reasons = [], []
    for line in _lines(call.body, "corrections", "The stock correction"):
        product_id = _tracked_product(dataset, line.get("productId"))
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity == 0:
            raise invalid("WHSC-122", f"quantity must be a whole number other than 0, not {quantity!r}")
        reason = _text(line, "reason")
        if not reason.strip():
            raise invalid("WHSC-123", "Each correction needs a reason")
        location_id = _location(warehouse_id, product_id, line.get("locationId"))
        if -quantity > stock.on_hand(product_id, warehouse_id):
            raise invalid("WHSC-108", f"Product {product_id} has {stock.on_hand(product_id, warehouse_id)} on hand "
                                      f"in warehouse {warehouse_id}; it cannot lose {-quantity}")
        cost = _object(line.get("cost", {}), "cost")
        currency = cost.get("currency", BASE_CURRENCY)
        if currency not in currencies:
            raise invalid("WHSC-124", f"Currency code {currency!r} is not valid")
        value = _decimal(cost.get("value", cost_price(product_id)), minimum=Decimal(0))
        if value is None:
            raise invalid("WHSC-125", "cost.value must be a decimal of 0 or more")
        stock.move(product_id, warehouse_id, location_id, in_stock=quantity)
        reasons.append(reason)
        moved.append({"productId": product_id, "quantity": quantity, "locationId": location_id,
                      "productValue": {"currency": currency, "value": World.money(value)}})
    dataset["stock-correction"].put({"goodsNoteId": note_id, "warehouseId": warehouse_id, "reason": reasons[0],
                                     "createdOn": call.now, "createdById": 1, "goodsMoved": moved})
    _record_movements(call, [{
        "productId": line["productId"], "quantity": line["quantity"], "destinationLocationId": line["locationId"],
        "warehouseId": warehouse_id, "goodsNoteId": note_id, "productValue": line["productValue"]["value"],
        "currencyCode": line["productValue"]["currency"], "isCleared": True, "isQuarantine": False,
        "goodsNoteTypeCode": "SC"} for line in moved])
    stock.save(call)
    return note_id


# ---------------------------------------------------------------------------------------------
# Customer payments
# ---------------------------------------------------------------------------------------------

PAYMENT_TYPES = ("RECEIPT", "PAYMENT", "AUTH")


def post_customer_payment(call: WriteCall) -> int:
    """A receipt, refund or card authorisation against a sales order or credit; money moves post a journal."""
    dataset = call.dataset
    body = _object(call.body, "The customer payment")
    order_id = body.get("orderId")
    if order_id not in dataset["order"]:
        raise invalid("ACCC-001", f"Order {order_id!r} does not exist")
    order = dataset["order"].record(order_id)
    if order["orderTypeCode"] not in ("SO", "SC"):
        raise invalid("ACCC-002", f"Order {order_id} is a {order['orderTypeCode']}; customer payments are for "
                                  "sales orders and credits")
    method = next((record for record in dataset["payment-method"].records()
                   if record["code"] == body.get("paymentMethodCode")), None)
    if method is None:
        raise invalid("ACCC-003", f"Payment method {body.get('paymentMethodCode')!r} does not exist")
    payment_type = body.get("paymentType")
    if payment_type not in PAYMENT_TYPES:
        raise invalid("ACCC-004", f"paymentType must be one of {', '.join(PAYMENT_TYPES)}")
    currency_code = body.get("currencyIsoCode")
    currency = next((record for record in dataset["currency"].records() if record["code"] == currency_code), None)
    if currency is None:
        raise invalid("ACCC-005", f"Currency code {currency_code!r} is not valid")
    if currency_code != order["currency"]["orderCurrencyCode"]:
        raise invalid("ACCC-006", f"Order {order_id} is in {order['currency']['orderCurrencyCode']}, "
                                  f"not {currency_code}")
    amount = _decimal(body.get("amountPaid"), minimum=Decimal("0.01"))
    if amount is None:
        raise invalid("ACCC-007", "amountPaid must be a decimal amount above 0")
    paid_on = body.get("paymentDate")
    if paid_on is not None and _moment(paid_on) is None:
        raise invalid("ACCC-008", f"paymentDate must be an ISO 8601 date or date-time, not {paid_on!r}")
    paid_on = _local_stamp(dataset, paid_on) if paid_on else call.now
    payment_id = _new_id(dataset, "customer-payment")
    journal_id = 0 if payment_type == "AUTH" else _post_payment_journal(call, order, method, currency, amount,
                                                                        payment_type, paid_on)
    payment = {"paymentId": payment_id, "transactionRef": _text(body, "transactionRef", default=f"API-{payment_id}"),
               "paymentMethodCode": method["code"], "paymentType": payment_type, "orderId": order_id,
               "currencyId": currency["id"], "currencyCode": currency_code, "amountPaid": World.money(amount, 2),
               "paymentDate": paid_on, "createdOn": call.now, "journalId": journal_id}
    if body.get("transactionCode") is not None:
        payment["transactionCode"] = _text(body, "transactionCode")
    if payment_type == "AUTH":
        payment["amountAuthorized"] = payment["amountPaid"]
    dataset["customer-payment"].put(payment)
    order["orderPaymentStatus"] = _payment_status(dataset, order)
    _save_order(call, order)
    call.publish("customer-payment.created", [payment_id])
    call.publish("order.modified", [order_id])
    return payment_id


def _post_payment_journal(call: WriteCall, order: Record, method: Record, currency: Record, amount: Decimal,
                          payment_type: str, paid_on: str) -> int:
    """SR (receipt: bank debit, debtors credit) or CR (refund: the reverse), as the seeded ledger posts them."""
    dataset = call.dataset
    rate = Decimal(order["currency"]["exchangeRate"])
    journal_id = _new_id(dataset, "journal")

    def line(nominal_code: str) -> Record:
        line_id = dataset.next_id("journal-line", lambda: max(
            (entry["id"] for journal in dataset["journal"].records() for side in ("debits", "credits")
             for entry in journal[side]), default=0))
        return {"id": line_id, "nominalCode": nominal_code, "transactionAmount": World.money(amount, 2),
                "baseAmount": World.money(amount / rate, 2)}

    bank, debtors = line(method["bankAccountNominalCode"]), line(DEBTORS)
    debits, credits = ([bank], [debtors]) if payment_type == "RECEIPT" else ([debtors], [bank])
    current = order["assignment"]["current"]
    party = order["parties"]["customer"]
    journal = {"id": journal_id, "journalTypeCode": "SR" if payment_type == "RECEIPT" else "CR",
               "orderId": order["id"], "contactId": party["contactId"], "channelId": current["channelId"],
               "leadSourceId": current["leadSourceId"], "projectId": 0}
    if order["invoices"]:
        journal["invoiceReference"] = order["invoices"][0]["invoiceReference"]
    journal.update({"taxDate": paid_on, "dueDate": paid_on, "createdOn": call.now, "createdBy": 1,
                    "currency": {"code": currency["code"], "currencyId": currency["id"],
                                 "exchangeRate": order["currency"]["exchangeRate"]},
                    "debits": debits, "credits": credits})
    dataset["journal"].put(journal)
    return journal_id


def _payment_status(dataset: Dataset, order: Record) -> str:
    sign = {"RECEIPT": 1, "PAYMENT": -1, "AUTH": 0}
    paid = sum((sign[payment_type] * Decimal(amount) for order_id, payment_type, amount in _search_values(
        dataset["customer-payment"], "orderId", "paymentType", "amountPaid") if order_id == order["id"]), Decimal(0))
    if paid <= 0:
        return "UNPAID"
    return "PAID" if paid >= Decimal(order["totalValue"]["total"]) else "PARTIALLY_PAID"


# ---------------------------------------------------------------------------------------------
# The table `_resolve` consults
# ---------------------------------------------------------------------------------------------

WRITES: list[Write] = [
    Write("POST", "contact-service/contact", post_contact, "contact-post"),
    Write("PATCH", "contact-service/contact/{contactId}", patch_contact, "contact-patch"),
    Write("POST", "contact-service/company", post_company, "company-post"),
    Write("PATCH", "contact-service/company/{companyId}", patch_company, "company-patch"),
    Write("POST", "product-service/product", post_product, "product-post"),
    Write("PUT", "product-service/product/{productId}", put_product, "product-put"),
    Write("PUT", "product-service/product-price/{productId}/price-list/{priceListId}", put_product_price,
          "product-price-put"),
    Write("POST", "order-service/order", post_order, "order-post"),
    Write("PUT", "order-service/order/{orderId}", put_order, "order-put"),
    Write("POST", "order-service/order/{orderId}/row", post_order_row, "order-row-post"),
    Write("PATCH", "order-service/order/{orderId}/row/{rowId}", patch_order_row, "order-row-patch"),
    Write("PUT", "order-service/order/{orderId}/status", put_order_status, "order-status-put"),
    Write("POST", "order-service/sales-order", post_sales_order, "sales-order-post"),
    Write("POST", "warehouse-service/order/{orderId}/goods-note/goods-out", post_goods_out_note,
          "goods-out-note-post"),
    Write("POST", "warehouse-service/goods-note/goods-in", post_goods_in_note, "goods-in-note-post"),
    Write("POST", "warehouse-service/warehouse/{warehouseId}/stock-correction", post_stock_correction,
          "stock-correction-post"),
    Write("POST", "accounting-service/customer-payment", post_customer_payment, "customer-payment-post"),
    Write("POST", "integration-service/webhook", post_webhook, "post-webhook"),
    Write("DELETE", "integration-service/webhook/{webhookId}", delete_webhook, "webhook-delete"),
    Write("POST", "integration-service/webhook/{webhookId}/simulate", simulate_webhook, "post-webhook-simulate"),
]


class JournalError(Exception):
    """A `--data-file` that cannot be replayed onto this account."""


class WriteJournal:
    """`--data-file`: every API write as one JSON line, replayed over the same seeded account at start.

    A journal rather than a dump of the dataset: it stays small (one line per write, not the whole
    account), is appended and flushed per write so a killed server loses nothing, and replaying it
    through the same handlers with each write's recorded moment rebuilds the very same records.
    The first line names the account it was written against; a file made for another seed, size,
    account or time zone is refused rather than replayed onto the wrong data.
    """

    def __init__(self, path: Path, account: dict[str, Any]):
        self.path = path
        self.account = account
        self._file: BinaryIO | None = None

    def replay(self, state: MockState) -> int:
        """Apply the file's writes to `state` (creating the file if missing); returns how many."""
        lines = self.path.read_bytes().splitlines() if self.path.exists() else []
        if not lines:
            self.path.write_bytes(orjson.dumps({"brightpearl-mock-journal": 1, **self.account}) + b"\n")
        else:
            header = orjson.loads(lines[0])
            written_for = {key: header.get(key) for key in self.account}
            if written_for != self.account:
                raise JournalError(f"{self.path} holds writes made on {written_for}, not on {self.account}: "
                                   "start with the same --seed/--orders/--account/--timezone, or another file")
        for number, line in enumerate(lines[1:], start=2):
            entry = orjson.loads(line)
            found = find_write(entry["method"], entry["path"])
            try:
                if found is None:
                    raise errors.unknown_uri(entry["path"])
                perform(state, found[0], found[1], entry["body"], entry["now"])
            except ApiError as error:
                raise JournalError(f"{self.path} line {number} ({entry['method']} {entry['path']}) "
                                   f"no longer applies: {error.message}") from None
        self._file = self.path.open("ab")
        return max(0, len(lines) - 1)

    def append(self, method: str, path: str, body: Any, now: str) -> None:
        assert self._file is not None, "replay() opens the journal"
        self._file.write(orjson.dumps({"method": method, "path": path, "body": body, "now": now}) + b"\n")
        self._file.flush()
