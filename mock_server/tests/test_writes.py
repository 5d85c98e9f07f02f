"""Writes over real sockets: each endpoint's effect, what it refuses, and what reads see afterwards."""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
import requests

from mock_server.errors import TOO_MANY_REQUESTS
from mock_server.testing import MockServer, free_port
from mock_server.writes import WRITES

from .conftest import Api


@pytest.fixture(scope="module")
def writable_mock():
    """A mock of its own: writes change the account, and other modules' mocks must not see that."""
    with MockServer(orders=60, rate_limit=0) as mock:
        yield mock


@pytest.fixture
def mock(writable_mock):
    yield writable_mock
    writable_mock.set_rate_limit(0)


class Client(Api):
    """What an integrator's app sends besides GETs: JSON bodies with the same private-app credentials."""

    def send(self, method: str, path: str, body=None, **kwargs) -> requests.Response:
        return self.session.request(method, self.mock.api_url(path), json=body, timeout=30, **kwargs)

    def created(self, path: str, body) -> int:
        response = self.send("POST", path, body)
        assert response.status_code == 200, response.text
        return response.json()["response"]

    def get_one(self, path: str) -> dict:
        response = self.send("GET", path)
        assert response.status_code == 200, response.text
        return response.json()["response"][0]


@pytest.fixture
def client(mock):
    return Client(mock)


def _error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errors"][0]["code"]


CUSTOMER = {"salutation": "Ms", "firstName": "Ada", "lastName": "Byron",
            "communication": {"emails": {"PRI": {"email": "ada@example.org"}}, "telephones": {"PRI": "+1 555 0100"}},
            "financialDetails": {"priceListId": 3, "currencyId": 1}}


# contacts and companies ----------------------------------------------------------------------

def test_given_a_customer_body_when_posted_then_the_new_id_returns_and_its_get_carries_the_fields(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    contact = client.get_one(f"contact-service/contact/{contact_id}")
    assert (contact["contactId"], contact["firstName"], contact["financialDetails"]["priceListId"]) == (
        contact_id, "Ada", 3)
    assert contact["relationshipToAccount"] == {"isSupplier": False, "isStaff": False}
    assert contact["createdOn"] == contact["updatedOn"]


def test_given_a_posted_contact_when_searching_by_its_email_then_the_search_sees_it_at_once(client):
    body = {**CUSTOMER, "communication": {"emails": {"PRI": {"email": "grace.hopper@example.org"}}}}
    contact_id = client.created("contact-service/contact", body)

    rows = client.rows("contact-service/contact-search", primaryEmail="grace.hopper@")

    assert [row["contactId"] for row in rows] == [contact_id]


def test_given_a_posted_contact_never_changed_when_searched_then_its_updated_on_cell_is_null(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    [row] = client.rows("contact-service/contact-search", contactId=contact_id, columns="contactId,createdOn,updatedOn")

    assert row["updatedOn"] is None
    assert client.get_one(f"contact-service/contact/{contact_id}")["updatedOn"] == row["createdOn"]


def test_given_a_supplier_with_an_organisation_when_posted_then_its_company_is_created_and_linked(client):
    body = {"firstName": "Lin", "lastName": "Wu", "relationshipToAccount": {"isSupplier": True},
            "organisation": {"name": "Wu Textiles Ltd"}}
    contact_id = client.created("contact-service/contact", body)

    contact = client.get_one(f"contact-service/contact/{contact_id}")
    company = client.get_one(f"contact-service/company/{contact['companyId']}")
    assert contact["organisation"] == {"organisationId": company["id"], "name": "Wu Textiles Ltd"}
    assert (company["name"], company["primaryContactId"]) == ("Wu Textiles Ltd", contact_id)
    assert client.rows("contact-service/contact-search", contactId=contact_id, isSupplier="true") != []


def test_given_two_contacts_posted_when_compared_then_ids_rise_and_are_never_reused(client):
    first = client.created("contact-service/contact", CUSTOMER)
    second = client.created("contact-service/contact", CUSTOMER)

    assert second == first + 1


@pytest.mark.parametrize(("change", "code"), [
    ({"firstName": "", "lastName": ""}, "CONC-001"),
    ({"communication": {"emails": {"PRI": {"email": "not-an-email"}}}}, "CONC-002"),
    ({"financialDetails": {"priceListId": 99}}, "CONC-003"),
    ({"financialDetails": {"currencyId": 99}}, "CONC-004"),
    ({"financialDetails": {"nominalCode": "0000"}}, "CONC-006"),
    ({"assignment": {"current": {"staffOwnerContactId": 40}}}, "CONC-007"),
    ({"relationshipToAccount": {"isSupplier": "yes"}}, "CMNC-400"),
])
def test_given_an_invalid_contact_when_posted_then_400_with_the_code_and_nothing_is_created(client, mock, change, code):
    before = mock.counts()["contact"]
    body = {**CUSTOMER, **change}

    response = client.send("POST", "contact-service/contact", body)

    assert _error(response) == (400, code)
    assert mock.counts()["contact"] == before


def test_given_a_body_that_is_not_json_when_posted_then_400_saying_so(client):
    response = client.send("POST", "contact-service/contact", data=b"{firstName: Ada")

    assert _error(response) == (400, "CMNC-400")
    assert "not valid JSON" in response.json()["errors"][0]["message"]


def test_given_a_json_patch_when_a_contact_is_patched_then_the_field_changes_and_updated_on_moves(client, mock):
    contact_id = client.created("contact-service/contact", CUSTOMER)
    before = client.get_one(f"contact-service/contact/{contact_id}")
    mock.advance_clock(120)

    response = client.send("PATCH", f"contact-service/contact/{contact_id}",
                           [{"op": "replace", "path": "/lastName", "value": "Lovelace"}])

    after = client.get_one(f"contact-service/contact/{contact_id}")
    assert (response.status_code, response.json()) == (200, {})
    assert after["lastName"] == "Lovelace"
    assert datetime.fromisoformat(after["updatedOn"]) > datetime.fromisoformat(before["updatedOn"])
    assert client.rows("contact-service/contact-search", lastName="Lovelace")[0]["contactId"] == contact_id


def test_given_an_unknown_contact_when_patched_then_404_cmnc_404(client):
    response = client.send("PATCH", "contact-service/contact/999999", [{"op": "replace", "path": "/firstName",
                                                                         "value": "X"}])

    assert _error(response) == (404, "CMNC-404")


def test_given_a_patch_op_on_a_missing_path_when_applied_then_500_cmnc_044_as_recorded(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    response = client.send("PATCH", f"contact-service/contact/{contact_id}",
                           [{"op": "replace", "path": "/no/such/field", "value": 1}])

    assert _error(response) == (500, "CMNC-044")


def test_given_a_patch_that_changes_the_contact_id_when_applied_then_400_and_the_contact_stays(client):
    contact_id = client.created("contact-service/contact", CUSTOMER)

    response = client.send("PATCH", f"contact-service/contact/{contact_id}",
                           [{"op": "replace", "path": "/contactId", "value": 1}])

    assert _error(response) == (400, "CONC-009")
    assert client.get_one(f"contact-service/contact/{contact_id}")["contactId"] == contact_id


def test_given_a_company_when_posted_and_patched_then_search_sees_the_new_name(client):
    company_id = client.created("contact-service/company", {"name": "Orbit Supplies"})

    response = client.send("PATCH", f"contact-service/company/{company_id}",
                           [{"op": "replace", "path": "/name", "value": "Orbit Supplies Ltd"}])

    assert response.status_code == 200
    assert client.rows("contact-service/company-search", companyId=company_id)[0]["name"] == "Orbit Supplies Ltd"


def test_given_a_company_without_a_name_when_posted_then_400_conc_010(client):
    assert _error(client.send("POST", "contact-service/company", {"name": " "})) == (400, "CONC-010")


# products and prices -------------------------------------------------------------------------

def _product(name: str = "Waxed Tote", **changes) -> dict:
    body = {"brandId": 1, "productTypeId": 1, "identity": {"sku": f"SKU-{uuid.uuid4().hex[:10]}"},
            "financialDetails": {"taxCode": {"id": 3}}, "stock": {"stockTracked": True},
            "salesChannels": [{"productName": name, "categories": [{"categoryCode": "610"}]}]}
    body.update(changes)
    return body


def _stocked_product(client, quantity: int = 10, warehouse_id: int = 1) -> int:
    product_id = client.created("product-service/product", _product())
    client.created(f"warehouse-service/warehouse/{warehouse_id}/stock-correction",
                   {"corrections": [{"productId": product_id, "quantity": quantity, "reason": "Opening stock"}]})
    return product_id


def _availability(client, product_id: int) -> dict:
    return client.send("GET", f"warehouse-service/product-availability/{product_id}",
                       params={"includeOptional": "breakDownByLocation"}).json()["response"][str(product_id)]


def test_given_a_product_body_when_posted_then_search_finds_it_by_sku_with_its_category(client):
    body = _product("Ripstop Backpack")

    product_id = client.created("product-service/product", body)

    rows = client.rows("product-service/product-search", SKU=body["identity"]["sku"])
    assert [(row["productId"], row["productName"], row["brightpearlCategoryCode"]) for row in rows] == [
        (product_id, "Ripstop Backpack", 610)]
    assert client.get_one(f"product-service/product/{product_id}")["financialDetails"]["taxCode"] == {
        "id": 3, "code": "T8"}


def test_given_a_posted_product_when_its_prices_and_availability_are_read_then_unpriced_and_empty(client):
    product_id = client.created("product-service/product", _product())

    prices = client.get_one(f"product-service/product-price/{product_id}")["priceLists"]
    availability = _availability(client, product_id)

    assert {price["quantityPrice"].__len__() for price in prices} == {0}
    assert availability["total"] == {"inStock": 0, "onHand": 0, "allocated": 0, "inTransit": 0}


@pytest.mark.parametrize(("change", "code"), [
    ({"brandId": None}, "PRDC-014"),
    ({"brandId": 99}, "PRDC-015"),
    ({"salesChannels": [{"productName": "X", "categories": [{"categoryCode": "999"}]}]}, "PRDC-019"),
    ({"financialDetails": {"taxCode": {"id": 42}}}, "PRDC-018"),
    ({"primarySupplierId": 999999}, "PRDC-022"),
])
def test_given_an_invalid_product_when_posted_then_400_with_the_code(client, change, code):
    assert _error(client.send("POST", "product-service/product", _product(**change))) == (400, code)


def test_given_a_sku_in_use_when_another_product_is_posted_with_it_then_400_prdc_021(client):
    body = _product()
    client.created("product-service/product", body)

    assert _error(client.send("POST", "product-service/product", body)) == (400, "PRDC-021")


def test_given_a_product_when_put_then_the_named_parts_change_and_updated_on_moves(client, mock):
    product_id = client.created("product-service/product", _product())
    before = client.get_one(f"product-service/product/{product_id}")
    mock.advance_clock(60)

    response = client.send("PUT", f"product-service/product/{product_id}", {"status": "ARCHIVED", "brandId": 2})

    after = client.get_one(f"product-service/product/{product_id}")
    assert (response.status_code, response.json()) == (200, {})
    assert (after["status"], after["brandId"], after["identity"]) == ("ARCHIVED", 2, before["identity"])
    assert after["version"] > before["version"]
    assert client.rows("product-service/product-search", productId=product_id)[0]["productStatus"] == "ARCHIVED"


def test_given_an_unknown_product_when_put_then_404(client):
    assert _error(client.send("PUT", "product-service/product/999999", {"status": "LIVE"})) == (404, "CMNC-404")


def test_given_quantity_breaks_when_a_price_list_price_is_put_then_the_price_get_returns_them(client):
    product_id = client.created("product-service/product", _product())

    response = client.send("PUT", f"product-service/product-price/{product_id}/price-list/3",
                           {"quantityPrice": {"10": "9.5", "1": "12.00"}})

    lists = {p["priceListId"]: p for p in client.get_one(f"product-service/product-price/{product_id}")["priceLists"]}
    assert response.status_code == 200
    assert lists[3]["quantityPrice"] == {"1": "12.0000", "10": "9.5000"}
    assert lists[2]["quantityPrice"] == {}


@pytest.mark.parametrize(("path_list", "body", "code"), [
    (99, {"quantityPrice": {"1": "1.00"}}, "PRDC-030"),
    (2, {"quantityPrice": {"0": "1.00"}}, "PRDC-031"),
    (2, {"quantityPrice": {"1": "cheap"}}, "PRDC-031"),
    (2, {"quantityPrice": {}}, "PRDC-031"),
])
def test_given_a_bad_price_when_put_then_400_with_the_code(client, path_list, body, code):
    product_id = client.created("product-service/product", _product())

    response = client.send("PUT", f"product-service/product-price/{product_id}/price-list/{path_list}", body)

    assert _error(response) == (400, code)


# orders --------------------------------------------------------------------------------------

def _customer(client) -> int:
    return client.created("contact-service/contact", CUSTOMER)


def _supplier(client) -> int:
    return client.created("contact-service/contact", {"firstName": "Sam", "lastName": "Supplier",
                                                      "relationshipToAccount": {"isSupplier": True}})


def _sales_order(client, product_id: int, quantity: int = 2, **changes) -> int:
    body = {"orderTypeCode": "SO", "parties": {"customer": {"contactId": _customer(client)}},
            "rows": [{"productId": product_id, "quantity": {"magnitude": str(quantity)}}]}
    body.update(changes)
    return client.created("order-service/order", body)


def _only_row_id(order: dict) -> int:
    return int(next(iter(order["orderRows"])))


def test_given_a_sales_order_with_rows_when_posted_then_rows_are_priced_from_its_price_list_and_totalled(client):
    product_id = client.created("product-service/product", _product())
    client.send("PUT", f"product-service/product-price/{product_id}/price-list/3", {"quantityPrice": {"1": "20.00"}})

    order_id = _sales_order(client, product_id, quantity=3)

    order = client.get_one(f"order-service/order/{order_id}")
    row = order["orderRows"][str(_only_row_id(order))]
    assert (order["orderTypeCode"], order["priceListId"], row["productId"]) == ("SO", 3, product_id)
    assert (row["productPrice"]["value"], row["rowValue"]["rowNet"]["value"], row["rowValue"]["rowTax"]["value"]) == (
        "20.0000", "60.0000", "4.95")
    assert (order["totalValue"]["net"], order["totalValue"]["taxAmount"], order["totalValue"]["total"]) == (
        "60.00", "4.95", "64.95")
    assert (order["stockStatusCode"], order["orderPaymentStatus"]) == ("SON", "UNPAID")


def test_given_a_posted_order_when_searching_then_the_search_and_the_sales_order_view_see_it(client):
    product_id = client.created("product-service/product", _product())

    order_id = _sales_order(client, product_id, reference="WEB-4242")

    rows = client.rows("order-service/order-search", customerRef="WEB-4242")
    assert [row["orderId"] for row in rows] == [order_id]
    assert client.get_one(f"order-service/sales-order/{order_id}")["ref"] == "WEB-4242"


@pytest.mark.parametrize(("change", "code"), [
    ({"orderTypeCode": None}, "ORDC-005"),
    ({"orderTypeCode": "XX"}, "ORDC-006"),
    ({"parties": {"customer": {"contactId": 999999}}}, "ORDC-008"),
    ({"currency": {"orderCurrencyCode": "ZZZ"}}, "ORDC-010"),
    ({"orderStatus": {"orderStatusId": 7}}, "ORDC-012"),
    ({"warehouseId": 99}, "ORDC-013"),
    ({"rows": [{"productId": 999999}]}, "ORDC-020"),
    ({"rows": [{"name": "Gift wrap", "rowValue": {"taxCode": "NOPE"}}]}, "ORDC-023"),
])
def test_given_an_invalid_order_when_posted_then_400_with_the_code_and_no_order_is_made(client, mock, change, code):
    before = mock.counts()["order"]
    body = {"orderTypeCode": "SO", "parties": {"customer": {"contactId": 12}}, **change}

    response = client.send("POST", "order-service/order", {k: v for k, v in body.items() if v is not None})

    assert _error(response) == (400, code)
    assert mock.counts()["order"] == before


def test_given_a_purchase_order_for_a_customer_when_posted_then_400_ordc_009(client):
    body = {"orderTypeCode": "PO", "parties": {"supplier": {"contactId": _customer(client)}}}

    assert _error(client.send("POST", "order-service/order", body)) == (400, "ORDC-009")


def test_given_an_order_when_a_row_is_posted_then_totals_grow_and_updated_on_moves(client, mock):
    order_id = _sales_order(client, client.created("product-service/product", _product()))
    before = client.get_one(f"order-service/order/{order_id}")
    mock.advance_clock(60)

    row_id = client.created(f"order-service/order/{order_id}/row",
                            {"name": "Gift wrap", "quantity": {"magnitude": "1"},
                             "rowValue": {"taxCode": "T0", "rowNet": {"value": "2.50"}}})

    after = client.get_one(f"order-service/order/{order_id}")
    assert after["orderRows"][str(row_id)]["productName"] == "Gift wrap"
    assert Decimal(after["totalValue"]["net"]) == Decimal(before["totalValue"]["net"]) + Decimal("2.50")
    assert datetime.fromisoformat(after["updatedOn"]) > datetime.fromisoformat(before["updatedOn"])


def test_given_a_row_when_its_quantity_is_patched_then_net_tax_and_totals_follow(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()), quantity=1)
    order = client.get_one(f"order-service/order/{order_id}")
    row_id = _only_row_id(order)
    unit = Decimal(order["orderRows"][str(row_id)]["productPrice"]["value"])

    response = client.send("PATCH", f"order-service/order/{order_id}/row/{row_id}",
                           [{"op": "replace", "path": "/quantity/magnitude", "value": "4"}])

    row = client.get_one(f"order-service/order/{order_id}")["orderRows"][str(row_id)]
    after = client.get_one(f"order-service/order/{order_id}")
    assert response.status_code == 200
    assert Decimal(row["rowValue"]["rowNet"]["value"]) == unit * 4
    assert Decimal(after["totalValue"]["net"]) == (unit * 4).quantize(Decimal("0.01"))


def test_given_an_unknown_row_when_patched_then_404(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()))

    response = client.send("PATCH", f"order-service/order/{order_id}/row/1", [{"op": "replace", "path": "/x",
                                                                                "value": 1}])

    assert _error(response) == (404, "CMNC-404")


def test_given_a_status_with_a_note_when_put_then_the_status_changes_and_the_note_is_searchable(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()))

    response = client.send("PUT", f"order-service/order/{order_id}/status",
                           {"orderStatusId": 4, "orderNote": {"text": "Paid by phone", "isPublic": False}})

    assert (response.status_code, response.json()) == (200, {})
    assert client.get_one(f"order-service/order/{order_id}")["orderStatus"] == {"orderStatusId": 4,
                                                                                "name": "Ready to ship"}
    notes = client.rows("order-service/order-note-search", orderId=order_id)
    assert [(note["noteText"], note["orderStatusId"]) for note in notes] == [("Paid by phone", 4)]


def test_given_a_purchase_status_when_put_on_a_sales_order_then_400_ordc_012(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()))

    response = client.send("PUT", f"order-service/order/{order_id}/status", {"orderStatusId": 9})

    assert _error(response) == (400, "ORDC-012")


def test_given_an_order_header_when_put_then_the_reference_changes_in_get_and_search(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()))

    response = client.send("PUT", f"order-service/order/{order_id}",
                           {"reference": "WEB-RENAMED", "delivery": {"shippingMethodId": 3}})

    order = client.get_one(f"order-service/order/{order_id}")
    assert response.status_code == 200
    assert (order["reference"], order["delivery"]["shippingMethodId"]) == ("WEB-RENAMED", 3)
    assert client.rows("order-service/order-search", customerRef="WEB-RENAMED")[0]["orderId"] == order_id


def test_given_rows_or_totals_in_an_order_put_when_sent_then_400_ordc_026(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()))

    response = client.send("PUT", f"order-service/order/{order_id}", {"totalValue": {"total": "0.00"}})

    assert _error(response) == (400, "ORDC-026")


def test_given_the_flat_sales_order_shape_when_posted_then_the_order_and_its_view_agree(client):
    product_id = client.created("product-service/product", _product())

    order_id = client.created("order-service/sales-order", {
        "customer": {"id": _customer(client)}, "ref": "SHOP-77", "channelId": 2,
        "rows": [{"productId": product_id, "quantity": "2", "net": "30.00", "tax": "2.48", "taxCode": "T8"}]})

    order = client.get_one(f"order-service/order/{order_id}")
    view = client.get_one(f"order-service/sales-order/{order_id}")
    assert (order["reference"], order["assignment"]["current"]["channelId"]) == ("SHOP-77", 2)
    assert (view["total"]["net"], view["total"]["tax"], view["rows"][0]["productId"]) == ("30.00", "2.48", product_id)


# stock -----------------------------------------------------------------------------------------

def test_given_a_stock_correction_when_posted_then_availability_and_the_movement_search_show_it(client):
    product_id = client.created("product-service/product", _product())

    note_id = client.created("warehouse-service/warehouse/2/stock-correction",
                             {"corrections": [{"productId": product_id, "quantity": 7, "reason": "Found in count",
                                               "locationId": 205}]})

    availability = _availability(client, product_id)
    assert availability["warehouses"]["2"] == {"inStock": 7, "onHand": 7, "allocated": 0, "inTransit": 0}
    assert availability["breakDownByLocation"] == {"2": {"205": {"inStock": 7, "onHand": 7, "allocated": 0}}}
    movements = client.rows("warehouse-service/goods-movement-search", productId=product_id)
    assert [(m["goodsNoteId"], m["quantity"], m["goodsNoteTypeCode"]) for m in movements] == [(note_id, 7, "SC")]
    assert client.get_one(f"warehouse-service/warehouse/2/stock-correction/{note_id}")["reason"] == "Found in count"


@pytest.mark.parametrize(("line", "code"), [
    ({"quantity": -11, "reason": "Damaged"}, "WHSC-108"),
    ({"quantity": 0, "reason": "Nothing"}, "WHSC-122"),
    ({"quantity": 1, "reason": ""}, "WHSC-123"),
    ({"quantity": 1, "reason": "Count", "locationId": 301}, "WHSC-113"),
    ({"quantity": 1, "reason": "Count", "cost": {"currency": "ZZZ", "value": "1.00"}}, "WHSC-124"),
])
def test_given_an_invalid_correction_when_posted_then_400_and_availability_is_unchanged(client, line, code):
    product_id = _stocked_product(client, quantity=10)

    response = client.send("POST", "warehouse-service/warehouse/1/stock-correction",
                           {"corrections": [{"productId": product_id, **line}]})

    assert _error(response) == (400, code)
    assert _availability(client, product_id)["total"]["inStock"] == 10


def test_given_a_product_not_stock_tracked_when_corrected_then_400_whsc_097(client):
    product_id = client.created("product-service/product", _product(stock={"stockTracked": False}))

    response = client.send("POST", "warehouse-service/warehouse/1/stock-correction",
                           {"corrections": [{"productId": product_id, "quantity": 1, "reason": "Count"}]})

    assert _error(response) == (400, "WHSC-097")


def _goods_out(client, order_id: int, row_id: int, quantity: int, warehouse_id: int = 1) -> requests.Response:
    return client.send("POST", f"warehouse-service/order/{order_id}/goods-note/goods-out",
                       {"warehouses": [{"warehouseId": warehouse_id,
                                        "products": [{"salesOrderRowId": row_id, "quantity": quantity}]}]})


def test_given_a_goods_out_note_when_posted_then_stock_moves_from_on_hand_to_allocated(client):
    product_id = _stocked_product(client, quantity=10)
    order_id = _sales_order(client, product_id, quantity=3)
    row_id = _only_row_id(client.get_one(f"order-service/order/{order_id}"))

    response = _goods_out(client, order_id, row_id, 3)

    note_id = response.json()["response"][0]
    assert _availability(client, product_id)["warehouses"]["1"] == {"inStock": 10, "onHand": 7, "allocated": 3,
                                                                   "inTransit": 0}
    note = client.send("GET", f"warehouse-service/order/{order_id}/goods-note/goods-out/{note_id}").json()
    assert note["response"][str(note_id)]["orderRows"][str(row_id)][0]["quantity"] == 3


def test_given_all_or_part_of_an_order_allocated_when_read_then_its_stock_status_says_so(client):
    product_id = _stocked_product(client, quantity=10)
    order_id = _sales_order(client, product_id, quantity=3)
    row_id = _only_row_id(client.get_one(f"order-service/order/{order_id}"))

    _goods_out(client, order_id, row_id, 1)
    part = client.get_one(f"order-service/order/{order_id}")
    _goods_out(client, order_id, row_id, 2)
    whole = client.get_one(f"order-service/order/{order_id}")

    assert (part["stockStatusCode"], part["allocationStatusCode"]) == ("SPA", "APA")
    assert (whole["stockStatusCode"], whole["allocationStatusCode"]) == ("SOA", "AAA")
    assert client.rows("order-service/order-search", orderId=order_id)[0]["orderStockStatusId"] == 4


@pytest.mark.parametrize(("quantity", "stock", "code"), [(4, 10, "WHSC-107"), (3, 2, "WHSC-108")])
def test_given_more_than_the_row_or_the_stock_when_allocating_then_400_and_nothing_moves(client, quantity, stock,
                                                                                       code):
    product_id = _stocked_product(client, quantity=stock)
    order_id = _sales_order(client, product_id, quantity=3)
    row_id = _only_row_id(client.get_one(f"order-service/order/{order_id}"))

    response = _goods_out(client, order_id, row_id, quantity)

    assert _error(response) == (400, code)
    assert _availability(client, product_id)["total"]["allocated"] == 0


def test_given_a_purchase_order_when_a_goods_out_note_is_posted_then_400_whsc_101(client):
    product_id = _stocked_product(client)
    order_id = client.created("order-service/order", {"orderTypeCode": "PO",
                                                      "parties": {"supplier": {"contactId": _supplier(client)}},
                                                      "rows": [{"productId": product_id}]})
    row_id = _only_row_id(client.get_one(f"order-service/order/{order_id}"))

    assert _error(_goods_out(client, order_id, row_id, 1)) == (400, "WHSC-101")


def _purchase_order(client, product_id: int, quantity: int) -> tuple[int, int]:
    order_id = client.created("order-service/order", {
        "orderTypeCode": "PO", "parties": {"supplier": {"contactId": _supplier(client)}},
        "rows": [{"productId": product_id, "quantity": {"magnitude": str(quantity)}}]})
    return order_id, _only_row_id(client.get_one(f"order-service/order/{order_id}"))


def test_given_a_purchase_order_received_in_full_when_posted_then_stock_rises_and_the_order_is_received(client):
    product_id = client.created("product-service/product", _product())
    order_id, row_id = _purchase_order(client, product_id, 20)

    note_id = client.created("warehouse-service/goods-note/goods-in",
                             {"purchaseOrderId": order_id, "goodsMoved": [{"purchaseOrderRowId": row_id,
                                                                          "quantity": 20}]})

    assert _availability(client, product_id)["total"]["inStock"] == 20
    assert client.get_one(f"order-service/order/{order_id}")["stockStatusCode"] == "POR"
    lines = client.rows("warehouse-service/goods-in-search", purchaseOrderId=order_id)
    assert [(line["batchId"], line["receivedQuantity"]) for line in lines] == [(note_id, 20)]


def test_given_a_part_receipt_when_posted_then_the_order_is_still_not_received(client):
    product_id = client.created("product-service/product", _product())
    order_id, row_id = _purchase_order(client, product_id, 20)

    client.created("warehouse-service/goods-note/goods-in",
                   {"purchaseOrderId": order_id, "goodsMoved": [{"purchaseOrderRowId": row_id, "quantity": 5}]})

    assert client.get_one(f"order-service/order/{order_id}")["stockStatusCode"] == "PON"


def test_given_more_than_is_outstanding_when_receiving_then_400_whsc_112(client):
    product_id = client.created("product-service/product", _product())
    order_id, row_id = _purchase_order(client, product_id, 5)

    response = client.send("POST", "warehouse-service/goods-note/goods-in",
                           {"purchaseOrderId": order_id, "goodsMoved": [{"purchaseOrderRowId": row_id, "quantity": 6}]})

    assert _error(response) == (400, "WHSC-112")


# customer payments -----------------------------------------------------------------------------

def _payment(order_id: int, amount: str, **changes) -> dict:
    return {"orderId": order_id, "paymentMethodCode": "BANK", "paymentType": "RECEIPT", "currencyIsoCode": "USD",
            "amountPaid": amount, "transactionRef": "BT-1", **changes}


def test_given_a_receipt_for_the_whole_total_when_posted_then_the_order_is_paid_and_the_journal_posted(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()))
    total = client.get_one(f"order-service/order/{order_id}")["totalValue"]["total"]

    payment_id = client.created("accounting-service/customer-payment", _payment(order_id, total))

    assert client.get_one(f"order-service/order/{order_id}")["orderPaymentStatus"] == "PAID"
    payment = client.rows("accounting-service/customer-payment-search", paymentId=payment_id)[0]
    lines = client.rows("accounting-service/journal-search", journalId=payment["journalId"])
    assert (payment["orderId"], payment["amountPaid"], payment["paymentType"]) == (order_id, total, "RECEIPT")
    assert [(line["nominalCode"], line["journalDebit"], line["journalCredit"]) for line in lines] == [
        ("1200", total, None), ("1100", None, total)]


def test_given_a_receipt_for_part_of_the_total_when_posted_then_the_order_is_partially_paid(client):
    order_id = _sales_order(client, client.created("product-service/product", _product()))

    client.created("accounting-service/customer-payment", _payment(order_id, "1.00"))

    assert client.get_one(f"order-service/order/{order_id}")["orderPaymentStatus"] == "PARTIALLY_PAID"


@pytest.mark.parametrize(("change", "code"), [
    ({"orderId": 999999}, "ACCC-001"),
    ({"paymentMethodCode": "CASH"}, "ACCC-003"),
    ({"paymentType": "GIFT"}, "ACCC-004"),
    ({"currencyIsoCode": "ZZZ"}, "ACCC-005"),
    ({"currencyIsoCode": "EUR"}, "ACCC-006"),
    ({"amountPaid": "-5"}, "ACCC-007"),
])
def test_given_an_invalid_payment_when_posted_then_400_with_the_code(client, change, code):
    order_id = _sales_order(client, client.created("product-service/product", _product()))

    response = client.send("POST", "accounting-service/customer-payment", _payment(order_id, "1.00", **change))

    assert _error(response) == (400, code)


# events --------------------------------------------------------------------------------------------

@pytest.fixture
def events(client, mock):
    """Subscribe to an event pattern (at a closed port: the delivery log is what is read); unsubscribed after."""
    subscribed = []

    def subscribe(pattern: str):
        webhook_id = client.created("integration-service/webhook", {
            "subscribeTo": pattern, "httpMethod": "GET", "idSetAccepted": True, "qualityOfService": 0,
            "uriTemplate": f"http://127.0.0.1:{free_port()}/hook/${{resource-id}}"})
        subscribed.append(webhook_id)

        def raised() -> list[tuple[str, str]]:
            deliveries = mock.webhook_deliveries()["deliveries"]
            return [(d["event"], d["ids"]) for d in deliveries if d["webhook"] == webhook_id]
        return raised

    yield subscribe
    for webhook_id in subscribed:
        client.send("DELETE", f"integration-service/webhook/{webhook_id}")


def test_given_a_sales_order_subscription_when_one_is_posted_then_sales_order_created_is_raised(client, events):
    raised = events("sales-order")

    order_id = client.created("order-service/sales-order", {"customer": {"id": _customer(client)}, "rows": []})

    assert raised() == [("sales-order.created", str(order_id))]


def test_given_an_on_hand_subscription_when_stock_is_allocated_then_the_product_event_is_raised(client, events):
    product_id = _stocked_product(client, quantity=5)
    order_id = _sales_order(client, product_id, quantity=1)
    raised = events("product.modified.on-hand-modified")

    _goods_out(client, order_id, _only_row_id(client.get_one(f"order-service/order/{order_id}")), 1)

    assert raised() == [("product.modified.on-hand-modified", str(product_id))]


def test_given_a_status_subscription_when_the_status_is_put_then_order_status_event_is_raised(client, events):
    order_id = _sales_order(client, client.created("product-service/product", _product()))
    raised = events("order.modified.order-status")

    client.send("PUT", f"order-service/order/{order_id}/status", {"orderStatusId": 3})

    assert raised() == [("order.modified.order-status", str(order_id))]


# the pipeline ------------------------------------------------------------------------------------

def test_given_the_budget_is_spent_when_writing_then_503_and_nothing_is_written(client, mock):
    mock.set_rate_limit(1)
    client.send("GET", "contact-service/contact-search")
    before = mock.counts()["contact"]

    response = client.send("POST", "contact-service/contact", CUSTOMER)

    assert (response.status_code, response.json()) == (503, {"response": TOO_MANY_REQUESTS})
    assert mock.counts()["contact"] == before


def test_given_no_credentials_when_writing_then_401_and_nothing_is_written(mock):
    before = mock.counts()["contact"]

    response = requests.post(mock.api_url("contact-service/contact"), json=CUSTOMER, timeout=10)

    assert response.status_code == 401
    assert mock.counts()["contact"] == before


def test_given_a_write_when_counted_then_stats_name_the_write_route(client, mock):
    mock.reset_stats()

    client.created("contact-service/contact", CUSTOMER)

    assert mock.stats()["routes"]["POST contact-service/contact"] == {"200": 1}


# --data-file -----------------------------------------------------------------------------------

def test_given_a_data_file_when_the_mock_restarts_then_earlier_writes_are_still_there(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as first:
        client = Client(first)
        contact_id = client.created("contact-service/contact", CUSTOMER)
        client.send("PATCH", f"contact-service/contact/{contact_id}",
                    [{"op": "replace", "path": "/firstName", "value": "Augusta"}])
        order_id = _sales_order(client, _stocked_product(client, quantity=4), quantity=2)
        _goods_out(client, order_id, _only_row_id(client.get_one(f"order-service/order/{order_id}")), 2)
        before = [client.get_one(f"contact-service/contact/{contact_id}"),
                  client.get_one(f"order-service/order/{order_id}")]

    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as second:
        client = Client(second)
        after = [client.get_one(f"contact-service/contact/{contact_id}"),
                 client.get_one(f"order-service/order/{order_id}")]
        next_contact_id = client.created("contact-service/contact", CUSTOMER)

    assert after == before
    assert (after[0]["firstName"], after[1]["stockStatusCode"]) == ("Augusta", "SOA")
    assert next_contact_id > contact_id


def test_given_a_data_file_of_another_account_size_when_starting_then_the_mock_refuses_it(tmp_path):
    data_file = tmp_path / "acme.jsonl"
    with MockServer(orders=20, extra_args=["--data-file", str(data_file)]) as first:
        Client(first).created("contact-service/contact", CUSTOMER)

    with pytest.raises(RuntimeError, match="--data-file: .* holds writes made on"):
        MockServer(orders=30, extra_args=["--data-file", str(data_file)]).start()


# hostile bodies ------------------------------------------------------------------------------------

HOSTILE_VALUES = [None, [], {}, "x", 1, True, -1, 1.5, "1", [None], [[]], {"x": {}}, 100001, 1001, "SO", "USD"]
BODY_KEYS = ["orderTypeCode", "parties", "customer", "rows", "orderStatusId", "orderStatus", "warehouseId",
             "priceListId", "currency", "delivery", "productId", "quantity", "rowValue", "name", "brandId",
             "identity", "salesChannels", "financialDetails", "stock", "quantityPrice", "firstName",
             "communication", "relationshipToAccount", "organisation", "warehouses", "products", "purchaseOrderId",
             "goodsMoved", "corrections", "orderId", "paymentMethodCode", "currencyIsoCode", "amountPaid", "placedOn"]


def _hostile(rng: random.Random, depth: int = 0):
    draw = rng.random()
    if depth < 2 and draw < 0.3:
        return {rng.choice(BODY_KEYS): _hostile(rng, depth + 1) for _ in range(rng.randint(1, 4))}
    if depth < 2 and draw < 0.4:
        return [_hostile(rng, depth + 1) for _ in range(rng.randint(1, 2))]
    return rng.choice(HOSTILE_VALUES)


def test_given_300_hostile_write_bodies_when_sent_then_no_unrequested_5xx_comes_back(client):
    rng = random.Random(20261123)
    unexpected = []

    for _ in range(300):
        write = rng.choice(WRITES)
        path = re.sub(r"\{\w+\}", lambda _: str(rng.choice([1, 2, 1001, 100001, 500001, 999999])), write.path)
        body = _hostile(rng) if rng.random() < 0.5 else {key: _hostile(rng, 1)
                                                          for key in rng.sample(BODY_KEYS, rng.randint(1, 6))}
        response = client.send(write.method, path, data=json.dumps(body),
                               headers={"content-type": "application/json"})
        if response.status_code >= 500 and response.json()["errors"][0]["code"] != "CMNC-044":
            unexpected.append((write.method, path, body, response.status_code, response.text[:200]))

    assert unexpected == []
