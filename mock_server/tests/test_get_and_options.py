"""ID-set GETs, OPTIONS getUris, missing-ID behaviours, and every registry resource served."""

from __future__ import annotations

import pytest

from mock_server.idsets import parse_id_set
from mock_server.registry import RESOURCES


def test_given_ranges_and_a_list_when_getting_orders_then_exactly_those_orders_return(big_api):
    orders = big_api.get("order-service/order/100001-100003,100010").json()["response"]

    assert sorted(order["id"] for order in orders) == [100001, 100002, 100003, 100010]


def test_given_an_order_when_fetched_then_rows_are_a_map_keyed_by_row_id_and_money_is_decimal_strings(big_api):
    order = big_api.get("order-service/order/100001").json()["response"][0]

    assert order["orderRows"] and all(key.isdigit() for key in order["orderRows"])
    row = next(iter(order["orderRows"].values()))
    assert isinstance(row["productPrice"]["value"], str) and "." in row["productPrice"]["value"]
    assert isinstance(order["totalValue"]["total"], str)
    assert "customFields" not in order


def test_given_include_optional_custom_fields_when_getting_an_order_then_custom_fields_are_added(big_api):
    plain = big_api.get("order-service/order/100001-100020").json()["response"]
    with_fields = big_api.get("order-service/order/100001-100020", {"includeOptional": "customFields"}).json()[
        "response"
    ]
    with_nulls = big_api.get(
        "order-service/order/100001-100020", {"includeOptional": "customFields,nullCustomFields"}
    ).json()["response"]

    assert all("customFields" not in order for order in plain)
    assert all(None not in order["customFields"].values() for order in with_fields)
    assert all(
        set(order["customFields"]) >= {"PCF_GIFTMSG", "PCF_PRIORITY"} or order["orderTypeCode"] in ("PO", "PC")
        for order in with_nulls
    )
    assert any(None in order["customFields"].values() for order in with_nulls)


def test_given_201_ids_when_getting_orders_then_the_limit_of_200_is_refused(big_api):
    response = big_api.get("order-service/order/100001-100201")

    assert response.status_code == 400
    assert "at most 200" in response.json()["errors"][0]["message"]
    assert big_api.get("order-service/order/100001-100200").status_code == 200


def test_given_only_missing_ids_when_getting_orders_then_200_with_an_empty_list(big_api):
    response = big_api.get("order-service/order/1-5")

    assert response.status_code == 200
    assert response.json() == {"response": []}


def test_given_some_missing_ids_when_getting_orders_then_the_found_subset_returns(big_api):
    orders = big_api.get("order-service/order/1-3,100001").json()["response"]

    assert [order["id"] for order in orders] == [100001]


def test_given_only_missing_ids_when_getting_contacts_then_404_cmnc_404(big_api):
    response = big_api.get("contact-service/contact/999990-999999")

    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "CMNC-404", "message": "No Contact Found"}]}


def test_given_an_invalid_id_set_when_getting_then_the_error_envelope_answers(big_api):
    response = big_api.get("order-service/order/9-3")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "CMNC-400"


def test_given_options_without_an_id_set_when_called_then_get_uris_cover_every_order_in_chunks_of_200(
    big_api, big_mock
):
    uris = big_api.options("order-service/order").json()["response"]["getUris"]

    ids = [order_id for uri in uris for order_id in parse_id_set(uri.rsplit("/", 1)[1])]
    assert all(uri.startswith("/order/") for uri in uris)
    assert all(len(parse_id_set(uri.rsplit("/", 1)[1])) <= 200 for uri in uris)
    assert sorted(ids) == ids and len(ids) == big_mock.counts()["order"]


def test_given_options_with_an_id_set_when_called_then_missing_ids_are_dropped_from_the_uris(big_api):
    uris = big_api.options("order-service/order/1-3,100001-100004,100008").json()["response"]["getUris"]

    assert uris == ["/order/100001-100004,100008"]


def test_given_a_get_uri_from_options_when_fetched_then_it_returns_those_records(big_api):
    uri = big_api.options("product-service/product").json()["response"]["getUris"][0]

    products = big_api.get(f"product-service{uri}").json()["response"]

    assert sorted(p["id"] for p in products) == parse_id_set(uri.rsplit("/", 1)[1])


SEARCHABLE = [resource for resource in RESOURCES if resource.search]
GETTABLE = [resource for resource in RESOURCES if resource.get]


@pytest.mark.parametrize("resource", SEARCHABLE, ids=lambda r: r.name)
def test_given_any_registry_search_when_paged_then_it_returns_every_search_row(big_api, big_mock, resource):
    rows = big_api.rows(f"{resource.service}-service/{resource.search}")

    assert rows
    id_column = resource.columns[0].name
    assert all(row[id_column] is not None for row in rows)
    if resource.search_rows is None:
        assert len(rows) == big_mock.counts()[resource.name]


@pytest.mark.parametrize("resource", GETTABLE, ids=lambda r: r.name)
def test_given_any_registry_get_when_asked_for_its_first_ids_then_it_answers_in_its_shape(big_api, resource):
    path = resource.get.replace("{parent}", "*")
    uris = big_api.options(f"{resource.service}-service/{path}").json()["response"]["getUris"]
    assert uris, f"OPTIONS lists no {resource.name}"

    body = big_api.get(f"{resource.service}-service{uris[0]}").json()["response"]

    wanted = parse_id_set(uris[0].rsplit("/", 1)[1])
    if resource.as_map:
        assert sorted(int(key) for key in body) == wanted
    else:
        assert sorted(record[resource.id_field] for record in body) == wanted
