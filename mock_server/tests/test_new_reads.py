"""The reads third-party clients call beside searches: locations, custom fields, groups, payment methods,
options, collections, and the purchase-order landed-cost search; each with its error shape."""

from __future__ import annotations

import pytest

from mock_server.builders.reference import LOCATIONS_PER_WAREHOUSE
from mock_server.idsets import parse_id_set


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json()["errors"][0]["code"]


def test_given_a_warehouse_when_its_locations_are_read_then_every_location_of_it_and_no_other_returns(api):
    locations = api.get("warehouse-service/warehouse/2/location/").json()["response"]

    assert len(locations) == LOCATIONS_PER_WAREHOUSE and {location["warehouseId"] for location in locations} == {2}
    assert set(locations[0]) >= {"id", "warehouseId", "zoneId", "groupingA", "barcode"}


def test_given_an_id_set_when_a_warehouse_location_get_names_it_then_only_those_locations_return(api):
    locations = api.get("warehouse-service/warehouse/1/location/101-103,110").json()["response"]

    assert [location["id"] for location in locations] == [101, 102, 103, 110]


def test_given_a_bad_id_set_when_reading_locations_then_400_in_the_errors_envelope(api):
    assert _error(api.get("warehouse-service/warehouse/1/location/9-3")) == (400, "CMNC-400")


def test_given_a_warehouse_when_its_default_location_is_read_then_a_location_id_of_that_warehouse_returns(api):
    location_id = api.get("warehouse-service/warehouse/3/location/default").json()["response"]
    locations = api.get("warehouse-service/warehouse/3/location/").json()["response"]

    assert location_id in [location["id"] for location in locations]


def test_given_an_unknown_warehouse_when_its_default_location_is_read_then_404_cmnc_404(api):
    assert _error(api.get("warehouse-service/warehouse/99/location/default")) == (404, "CMNC-404")


@pytest.mark.parametrize(
    ("path", "option"),
    [
        ("order-service/order/100001/custom-field", "customFields"),
        ("product-service/product/1001/custom-field", "customFields"),
    ],
)
def test_given_a_record_when_its_custom_fields_are_read_then_they_are_the_set_values_of_the_record(api, path, option):
    fields = api.get(path).json()["response"]
    record = api.get(path.rsplit("/", 1)[0], {"includeOptional": option}).json()["response"][0]

    assert fields == record["customFields"] and fields and None not in fields.values()


def test_given_a_customer_when_its_custom_fields_are_read_then_they_are_customer_fields(api):
    contact_id = api.rows("contact-service/contact-search", isCustomer="true", columns="contactId")[0]["contactId"]
    customer_codes = {
        field["code"] for field in api.get("contact-service/customer/custom-field-meta-data").json()["response"]
    }

    fields = api.get(f"contact-service/contact/{contact_id}/custom-field").json()["response"]

    assert set(fields) <= customer_codes


def test_given_an_unknown_order_when_its_custom_fields_are_read_then_404_cmnc_404(api):
    assert _error(api.get("order-service/order/999999/custom-field")) == (404, "CMNC-404")


@pytest.mark.parametrize(
    ("path", "count", "key"),
    [
        ("contact-service/contact-group/", 4, "contactGroupId"),
        ("accounting-service/payment-method/", None, "id"),
        ("product-service/option/", 3, "id"),
        ("product-service/collection/", None, "id"),
    ],
)
def test_given_a_small_resource_when_got_without_an_id_set_then_every_record_of_its_search_returns(
    api, path, count, key
):
    records = api.get(path).json()["response"]
    searched = api.rows(path.rstrip("/") + "-search")

    assert sorted(record[key] for record in records) == sorted(row[next(iter(row))] for row in searched)
    assert count is None or len(records) == count


def test_given_an_option_when_its_values_are_got_then_only_that_options_values_return(api):
    values = api.get("product-service/option/2/value/").json()["response"]

    assert values and {value["optionId"] for value in values} == {2}
    assert api.get(f"product-service/option/2/value/{values[0]['optionValueId']}").json()["response"] == values[:1]


def test_given_a_payment_method_id_when_got_then_that_method_returns(api):
    assert [method["id"] for method in api.get("accounting-service/payment-method/2").json()["response"]] == [2]


def test_given_the_landed_cost_search_when_paged_then_one_row_per_purchase_order_product_row(api):
    rows = api.rows("order-service/purchase-order-lc-search")
    purchase_orders = api.rows("order-service/order-search", orderTypeId="2", columns="orderId")

    assert rows and {row["orderId"] for row in rows} <= {order["orderId"] for order in purchase_orders}
    assert all(isinstance(row["currentLandedCosts"], str) and isinstance(row["orderRowId"], int) for row in rows)


def test_given_a_bad_filter_when_searching_landed_costs_then_500_cmnc_018_as_every_search(api):
    assert _error(api.get("order-service/purchase-order-lc-search", {"orderId": "abc"})) == (500, "CMNC-018")


def test_given_a_2kb_id_set_of_huge_ranges_when_getting_orders_then_400_names_the_size_and_the_limit(api):
    response = api.get("order-service/order/" + ",".join(["1-499999"] * 200))

    assert _error(response) == (400, "CMNC-400")
    assert "499999" in response.json()["errors"][0]["message"] and "200" in response.json()["errors"][0]["message"]


def test_given_a_huge_id_set_when_listing_orders_with_options_then_the_existing_ids_are_chunked(api):
    uris = api.options("order-service/order/1-999999999").json()["response"]["getUris"]

    # Other tests of the session's mock may have deleted or added orders: compare with what it holds.
    listed = [order_id for uri in uris for order_id in parse_id_set(uri.removeprefix("/order/"))]
    assert listed == sorted(row["orderId"] for row in api.rows("order-service/order-search", columns="orderId"))
