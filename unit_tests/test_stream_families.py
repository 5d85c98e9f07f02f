"""One behaviour per stream family: how each kind of Brightpearl answer becomes records."""

import re
from urllib.parse import parse_qs, urlsplit

import responses

from unit_tests.builders import ConfigBuilder, api_url, run_command, run_read, search_body


def _search(mocked, path, id_column, ids):
    mocked.add(responses.GET, api_url(path), json=search_body(id_column, ids, 1, len(ids)))


def _get(mocked, path, body):
    mocked.add(responses.GET, re.compile(re.escape(api_url(path)) + r"(/.*)?$"), json={"response": body})


def _query(call):
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def test_given_goods_out_notes_keyed_by_id_when_read_then_each_note_carries_its_id_and_its_row_lines_a_row_id():
    note = {
        "orderId": 7,
        "orderRows": {
            "31": [{"productId": 5, "quantity": 2, "locationId": 9}, {"productId": 5, "quantity": 1, "locationId": 10}]
        },
    }
    with responses.RequestsMock() as mocked:
        _search(mocked, "warehouse-service/goods-note/goods-out-search", "goodsOutNoteId", [12])
        _get(mocked, "warehouse-service/order/*/goods-note/goods-out", {"12": note})
        output = run_read(ConfigBuilder().build(), "goods_out_notes")
    [record] = [message.record.data for message in output.records]
    assert record["goodsOutNoteId"] == 12
    assert record["orderRows"] == [
        {"productId": 5, "quantity": 2, "locationId": 9, "orderRowId": 31},
        {"productId": 5, "quantity": 1, "locationId": 10, "orderRowId": 31},
    ]


def test_given_availability_map_when_read_then_one_row_per_product_and_warehouse():
    availability = {
        "1140": {
            "total": {"inStock": 37},
            "warehouses": {"1": {"inStock": 30}, "4": {"inStock": 7}},
            "breakDownByLocation": {"1": {"101": {"inStock": 30}}, "4": {"401": {"inStock": 7}}},
        }
    }
    with responses.RequestsMock() as mocked:
        _search(mocked, "product-service/product-search", "productId", [1140])
        _get(mocked, "warehouse-service/product-availability", availability)
        output = run_read(ConfigBuilder().build(), "product_availability")
    rows = sorted(
        (m.record.data["productId"], m.record.data["warehouseId"], m.record.data["inStock"]) for m in output.records
    )
    assert rows == [(1140, 1, 30), (1140, 4, 7)]


def test_given_availability_by_location_when_read_then_one_row_per_product_warehouse_and_location():
    availability = {
        "1140": {
            "warehouses": {"1": {"inStock": 30}},
            "breakDownByLocation": {"1": {"101": {"inStock": 20}, "102": {"inStock": 10}}},
        }
    }
    with responses.RequestsMock() as mocked:
        _search(mocked, "product-service/product-search", "productId", [1140])
        _get(mocked, "warehouse-service/product-availability", availability)
        output = run_read(ConfigBuilder().build(), "product_availability_by_location")
        availability_call = next(c for c in mocked.calls if "product-availability" in c.request.url)
    rows = sorted(
        (m.record.data["warehouseId"], m.record.data["locationId"], m.record.data["inStock"]) for m in output.records
    )
    assert rows == [(1, 101, 20), (1, 102, 10)]
    assert _query(availability_call)["includeOptional"] == "breakDownByLocation"


def test_given_product_prices_when_read_then_one_row_per_product_and_price_list_with_the_product_id():
    prices = [
        {
            "productId": 1001,
            "priceLists": [
                {"priceListId": 1, "quantityPrice": {"1": "18.5598"}},
                {"priceListId": 2, "quantityPrice": {"1": "44.19", "10": "39.77"}},
            ],
        }
    ]
    with responses.RequestsMock() as mocked:
        _search(mocked, "product-service/product-search", "productId", [1001])
        _get(mocked, "product-service/product-price", prices)
        output = run_read(ConfigBuilder().build(), "product_prices")
    rows = {
        (m.record.data["productId"], m.record.data["priceListId"]): m.record.data["quantityPrice"]
        for m in output.records
    }
    assert rows == {(1001, 1): {"1": "18.5598"}, (1001, 2): {"1": "44.19", "10": "39.77"}}


def test_given_a_search_only_resource_when_read_then_every_column_is_asked_and_becomes_a_field():
    body = search_body("journalRowId", [1], 1, 1)
    body["response"]["metaData"]["columns"] = [
        {"name": "journalId"},
        {"name": "journalDebit"},
        {"name": "journalRowId"},
    ]
    body["response"]["results"] = [[7, "525.24", 1]]
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, api_url("accounting-service/journal-search"), json=body)
        output = run_read(ConfigBuilder().build(), "journals")
        search_call = mocked.calls[0]
    assert [m.record.data for m in output.records] == [{"journalId": 7, "journalDebit": "525.24", "journalRowId": 1}]
    assert "columns" not in _query(search_call)


def test_given_sales_credits_when_read_then_ids_come_from_the_order_search_filtered_to_type_3():
    with responses.RequestsMock() as mocked:
        _search(mocked, "order-service/order-search", "orderId", [100009])
        _get(mocked, "order-service/sales-credit", [{"id": 100009}])
        output = run_read(ConfigBuilder().build(), "sales_credits")
        search_call = mocked.calls[0]
    assert _query(search_call)["orderTypeId"] == "3"
    assert [m.record.data["id"] for m in output.records] == [100009]


def test_given_tags_keyed_by_id_when_read_then_one_record_per_tag():
    with responses.RequestsMock() as mocked:
        _get(
            mocked, "contact-service/tag", {"1": {"tagId": 1, "tagName": "VIP"}, "2": {"tagId": 2, "tagName": "Net 30"}}
        )
        output = run_read(ConfigBuilder().build(), "tags")
    assert sorted(m.record.data["tagName"] for m in output.records) == ["Net 30", "VIP"]


def _custom_field_metadata(mocked, path, fields):
    mocked.add(responses.GET, api_url(path), json={"response": fields})


def test_given_product_custom_fields_of_each_type_when_discover_then_each_is_a_typed_property():
    fields = [
        {"id": 1, "code": "PCF_TEXT", "name": "Text", "customFieldType": "TEXT"},
        {"id": 2, "code": "PCF_NOTE", "name": "Note", "customFieldType": "TEXTAREA"},
        {"id": 3, "code": "PCF_INT", "name": "Int", "customFieldType": "INTEGER"},
        {"id": 4, "code": "PCF_YES", "name": "Yes", "customFieldType": "YESNO"},
        {"id": 5, "code": "PCF_DATE", "name": "Date", "customFieldType": "DATE"},
        {
            "id": 6,
            "code": "PCF_PICK",
            "name": "Pick",
            "customFieldType": "SELECT",
            "options": {"11": {"id": 11, "value": "Slim"}},
        },
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        _custom_field_metadata(mocked, "product-service/product/custom-field-meta-data", fields)
        _custom_field_metadata(mocked, "order-service/sale/custom-field-meta-data", [])
        _custom_field_metadata(mocked, "order-service/purchase/custom-field-meta-data", [])
        output = run_command("discover", ConfigBuilder().build())
    products = next(s for s in output.catalog.catalog.streams if s.name == "products")
    typed = products.json_schema["properties"]["customFields"]["properties"]
    assert {code: (schema["type"], schema.get("format")) for code, schema in typed.items()} == {
        "PCF_TEXT": (["null", "string"], None),
        "PCF_NOTE": (["null", "string"], None),
        "PCF_INT": (["null", "integer"], None),
        "PCF_YES": (["null", "boolean"], None),
        "PCF_DATE": (["null", "string"], None),
        "PCF_PICK": (["null", "object"], None),
    }


def test_given_order_custom_fields_of_sales_and_purchases_when_discover_then_orders_type_both():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        _custom_field_metadata(mocked, "product-service/product/custom-field-meta-data", [])
        _custom_field_metadata(
            mocked,
            "order-service/sale/custom-field-meta-data",
            [{"id": 20, "code": "PCF_GIFT", "name": "Gift", "customFieldType": "TEXTAREA"}],
        )
        _custom_field_metadata(
            mocked,
            "order-service/purchase/custom-field-meta-data",
            [{"id": 41, "code": "PCF_BOX", "name": "Box", "customFieldType": "TEXT"}],
        )
        output = run_command("discover", ConfigBuilder().build())
    orders = next(s for s in output.catalog.catalog.streams if s.name == "orders")
    assert sorted(orders.json_schema["properties"]["customFields"]["properties"]) == ["PCF_BOX", "PCF_GIFT"]


def test_given_custom_field_metadata_unavailable_when_discover_then_products_still_discovered_with_a_warning():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses.GET, re.compile(r".*custom-field-meta-data$"), status=500, body="<html>oops</html>")
        output = run_command("discover", ConfigBuilder().build())
    products = next(s for s in output.catalog.catalog.streams if s.name == "products")
    assert products.json_schema["properties"]["customFields"].get("properties", {}) == {}
    assert any("Custom fields are left untyped" in log.log.message for log in output.logs)
