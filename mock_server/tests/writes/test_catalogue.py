"""Product writes: POST and PUT of products and price-list prices, what they refuse, what reads see."""

from __future__ import annotations

import pytest

from .conftest import availability_of, error_of, product_body


def test_given_a_product_body_when_posted_then_search_finds_it_by_sku_with_its_category(client):
    body = product_body("Ripstop Backpack")

    product_id = client.created("product-service/product", body)

    rows = client.rows("product-service/product-search", SKU=body["identity"]["sku"])
    assert [(row["productId"], row["productName"], row["brightpearlCategoryCode"]) for row in rows] == [
        (product_id, "Ripstop Backpack", 610)
    ]
    assert client.get_one(f"product-service/product/{product_id}")["financialDetails"]["taxCode"] == {
        "id": 3,
        "code": "T8",
    }


def test_given_a_posted_product_when_its_prices_and_availability_are_read_then_unpriced_and_empty(client):
    product_id = client.created("product-service/product", product_body())

    prices = client.get_one(f"product-service/product-price/{product_id}")["priceLists"]
    availability = availability_of(client, product_id)

    assert {price["quantityPrice"].__len__() for price in prices} == {0}
    assert availability["total"] == {"inStock": 0, "onHand": 0, "allocated": 0, "inTransit": 0}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"brandId": None}, "PRDC-014"),
        ({"brandId": 99}, "PRDC-015"),
        ({"salesChannels": [{"productName": "X", "categories": [{"categoryCode": "999"}]}]}, "PRDC-019"),
        ({"financialDetails": {"taxCode": {"id": 42}}}, "PRDC-018"),
        ({"primarySupplierId": 999999}, "PRDC-022"),
    ],
)
def test_given_an_invalid_product_when_posted_then_400_with_the_code(client, change, code):
    assert error_of(client.send("POST", "product-service/product", product_body(**change))) == (400, code)


def test_given_a_sku_in_use_when_another_product_is_posted_with_it_then_400_prdc_021(client):
    body = product_body()
    client.created("product-service/product", body)

    assert error_of(client.send("POST", "product-service/product", body)) == (400, "PRDC-021")


def test_given_a_product_when_put_then_the_named_parts_change_and_updated_on_moves(client, mock):
    product_id = client.created("product-service/product", product_body())
    before = client.get_one(f"product-service/product/{product_id}")
    mock.advance_clock(60)

    response = client.send("PUT", f"product-service/product/{product_id}", {"status": "ARCHIVED", "brandId": 2})

    after = client.get_one(f"product-service/product/{product_id}")
    assert (response.status_code, response.json()) == (200, {})
    assert (after["status"], after["brandId"], after["identity"]) == ("ARCHIVED", 2, before["identity"])
    assert after["version"] > before["version"]
    assert client.rows("product-service/product-search", productId=product_id)[0]["productStatus"] == "ARCHIVED"


def test_given_an_unknown_product_when_put_then_404(client):
    assert error_of(client.send("PUT", "product-service/product/999999", {"status": "LIVE"})) == (404, "CMNC-404")


def test_given_quantity_breaks_when_a_price_list_price_is_put_then_the_price_get_returns_them(client):
    product_id = client.created("product-service/product", product_body())

    response = client.send(
        "PUT",
        f"product-service/product-price/{product_id}/price-list/3",
        {"quantityPrice": {"10": "9.5", "1": "12.00"}},
    )

    lists = {p["priceListId"]: p for p in client.get_one(f"product-service/product-price/{product_id}")["priceLists"]}
    assert response.status_code == 200
    assert lists[3]["quantityPrice"] == {"1": "12.0000", "10": "9.5000"}
    assert lists[2]["quantityPrice"] == {}


@pytest.mark.parametrize(
    ("path_list", "body", "code"),
    [
        (99, {"quantityPrice": {"1": "1.00"}}, "PRDC-030"),
        (2, {"quantityPrice": {"0": "1.00"}}, "PRDC-031"),
        (2, {"quantityPrice": {"1": "cheap"}}, "PRDC-031"),
        (2, {"quantityPrice": {}}, "PRDC-031"),
    ],
)
def test_given_a_bad_price_when_put_then_400_with_the_code(client, path_list, body, code):
    product_id = client.created("product-service/product", product_body())

    response = client.send("PUT", f"product-service/product-price/{product_id}/price-list/{path_list}", body)

    assert error_of(response) == (400, code)
