"""`*-search`: envelope, paging, filters, columns, sorting and the error bodies of the real service."""

from __future__ import annotations

from datetime import datetime

ORDER_SEARCH = "order-service/order-search"


def test_given_a_search_when_called_then_envelope_has_positional_rows_metadata_and_reference_beside_response(big_api):
    body = big_api.search(ORDER_SEARCH, pageSize=3)

    assert set(body) == {"response", "reference"}
    meta = body["response"]["metaData"]
    assert set(meta) == {
        "morePagesAvailable",
        "resultsAvailable",
        "resultsReturned",
        "firstResult",
        "lastResult",
        "columns",
        "sorting",
    }
    assert [c["name"] for c in meta["columns"]][:4] == ["orderId", "orderTypeId", "contactId", "orderStatusId"]
    assert len(meta["columns"]) == 19
    assert set(meta["columns"][0]) == {
        "name",
        "sortable",
        "filterable",
        "reportDataType",
        "referenceData",
        "isFreeTextSearchable",
        "required",
    }
    assert meta["sorting"] == [{"filterable": meta["columns"][0], "direction": "ASC"}]
    assert all(len(row) == 19 for row in body["response"]["results"])
    assert body["reference"]["orderTypeNames"]["1"] == "SALES_ORDER"


def test_given_10k_orders_when_paging_by_last_result_plus_one_then_every_order_arrives_once(big_api, big_mock):
    rows = big_api.rows(ORDER_SEARCH, columns="orderId", pageSize=500)

    ids = [row["orderId"] for row in rows]
    assert len(ids) == big_mock.counts()["order"] == 10000
    assert len(set(ids)) == 10000
    assert ids == sorted(ids)


def test_given_the_last_page_when_read_then_more_pages_is_false_and_last_result_equals_results_available(big_api):
    meta = big_api.search(ORDER_SEARCH, firstResult=9801, pageSize=500)["response"]["metaData"]

    assert meta["morePagesAvailable"] is False
    assert meta["resultsReturned"] == 200
    assert meta["lastResult"] == meta["resultsAvailable"] == 10000


def test_given_no_match_when_searching_then_the_empty_shape_omits_first_and_last_result(big_api):
    meta = big_api.search(ORDER_SEARCH, orderId="1-5")["response"]["metaData"]

    assert meta["resultsAvailable"] == 0 and meta["resultsReturned"] == 0
    assert meta["morePagesAvailable"] is False
    assert "firstResult" not in meta and "lastResult" not in meta
    assert meta["columns"]


def test_given_an_id_set_filter_with_ranges_and_single_ids_when_searching_then_only_those_ids_return(big_api):
    rows = big_api.rows(ORDER_SEARCH, orderId="100001-100005,100009,100200", columns="orderId")

    assert [row["orderId"] for row in rows] == [100001, 100002, 100003, 100004, 100005, 100009, 100200]


def test_given_an_open_ended_period_with_an_unencoded_slash_when_searching_then_only_later_updates_return(big_api):
    since = "2026-06-01T00:00:00Z"

    response = big_api.get(ORDER_SEARCH, f"updatedOn={since}/&columns=orderId,updatedOn")

    rows = response.json()["response"]["results"]
    assert rows
    assert all(
        datetime.fromisoformat(updated) >= datetime.fromisoformat("2026-06-01T00:00:00+00:00") for _, updated in rows
    )
    everything = big_api.rows(ORDER_SEARCH, columns="orderId,updatedOn")
    expected = [
        r
        for r in everything
        if datetime.fromisoformat(r["updatedOn"]) >= datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    ]
    assert response.json()["response"]["metaData"]["resultsAvailable"] == len(expected)


def test_given_a_closed_period_when_searching_then_both_bounds_apply(big_api):
    rows = big_api.rows(
        ORDER_SEARCH, createdOn="2025-01-01T00:00:00Z/2025-01-31T23:59:59Z", columns="orderId,createdOn"
    )

    assert rows
    for row in rows:
        created = datetime.fromisoformat(row["createdOn"])
        assert (
            datetime.fromisoformat("2025-01-01T00:00:00+00:00")
            <= created
            <= datetime.fromisoformat("2025-01-31T23:59:59+00:00")
        )


def test_given_a_period_with_only_an_end_when_searching_then_earlier_rows_return(big_api):
    rows = big_api.rows(ORDER_SEARCH, createdOn="/2024-01-05", columns="orderId,createdOn")

    assert rows
    assert all(row["createdOn"] < "2024-01-06" for row in rows)


def test_given_integer_and_boolean_filters_when_searching_then_rows_match_exactly(big_api):
    completed = big_api.rows(ORDER_SEARCH, orderStatusId=5, columns="orderId,orderStatusId")
    suppliers = big_api.rows("contact-service/contact-search", isSupplier="true", columns="contactId,isSupplier")

    assert completed and all(row["orderStatusId"] == 5 for row in completed)
    assert suppliers and all(row["isSupplier"] is True for row in suppliers)


def test_given_a_search_string_filter_when_searching_then_it_matches_a_case_insensitive_substring(big_api):
    rows = big_api.rows("product-service/product-search", productName="apron", columns="productId,productName")

    assert rows and all("apron" in row["productName"].lower() for row in rows)


def test_given_filters_on_two_columns_when_searching_then_both_must_match(big_api):
    rows = big_api.rows(ORDER_SEARCH, orderTypeId=2, orderStatusId=9, columns="orderId,orderTypeId,orderStatusId")

    assert rows and all(row["orderTypeId"] == 2 and row["orderStatusId"] == 9 for row in rows)


def test_given_columns_when_searching_then_only_those_columns_return_in_the_order_asked(big_api):
    body = big_api.search(ORDER_SEARCH, columns="updatedOn,orderId", pageSize=2)

    assert [c["name"] for c in body["response"]["metaData"]["columns"]] == ["updatedOn", "orderId"]
    assert all(isinstance(row[1], int) and isinstance(row[0], str) for row in body["response"]["results"])
    assert body["reference"] == {}


def test_given_pipe_and_dot_sort_forms_when_searching_then_both_sort_descending(big_api):
    by_pipe = big_api.search(ORDER_SEARCH, sort="updatedOn|DESC", columns="orderId,updatedOn", pageSize=50)
    by_dot = big_api.search(ORDER_SEARCH, sort="updatedOn.DESC", columns="orderId,updatedOn", pageSize=50)

    stamps = [datetime.fromisoformat(row[1]) for row in by_pipe["response"]["results"]]
    assert stamps == sorted(stamps, reverse=True)
    assert by_pipe["response"]["results"] == by_dot["response"]["results"]
    assert by_pipe["response"]["metaData"]["sorting"][0]["direction"] == "DESC"
    assert by_pipe["response"]["metaData"]["sorting"][0]["filterable"]["name"] == "updatedOn"


def test_given_a_filter_value_that_does_not_parse_when_searching_then_500_cmnc_018_like_the_real_service(big_api):
    for params, kind in (
        ("orderStatusId=BAD", "INTEGER"),
        ("orderId=abc", "IDSET"),
        ("updatedOn=yesterday/", "PERIOD"),
    ):
        response = big_api.get(ORDER_SEARCH, params)

        assert response.status_code == 500
        error = response.json()["errors"][0]
        assert error["code"] == "CMNC-018"
        assert error["message"].endswith(f"cannot be parsed as: {kind}")


def test_given_a_page_size_over_500_or_not_a_number_when_searching_then_the_error_envelope_answers(big_api):
    for page_size in ("501", "ten", "0"):
        response = big_api.get(ORDER_SEARCH, {"pageSize": page_size})

        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "CMNC-400"


def test_given_an_unknown_column_or_sort_when_searching_then_the_error_envelope_names_it(big_api):
    unknown_column = big_api.get(ORDER_SEARCH, {"columns": "orderId,nope"})
    unknown_sort = big_api.get(ORDER_SEARCH, {"sort": "nope.ASC"})

    assert unknown_column.status_code == unknown_sort.status_code == 400
    assert "nope" in unknown_column.json()["errors"][0]["message"]
    assert "nope" in unknown_sort.json()["errors"][0]["message"]


def test_given_page_size_omitted_when_searching_then_500_rows_return(big_api):
    assert big_api.search(ORDER_SEARCH)["response"]["metaData"]["resultsReturned"] == 500


def test_given_a_product_search_when_called_then_the_reference_maps_each_product_to_its_categories(big_api):
    body = big_api.search("product-service/product-search", pageSize=5, columns="productId")

    membership = body["reference"]["productCategoryMembership"]
    assert set(membership) == {str(row[0]) for row in body["response"]["results"]}
    assert all(isinstance(code, int) for codes in membership.values() for code in codes)
