"""Paging through `*-search` and fetching full records with ID-set GETs."""

import json
import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from airbyte_cdk.sources.declarative.partition_routers import GroupingPartitionRouter
from airbyte_cdk.sources.utils.transform import TransformConfig, TypeTransformer
from airbyte_cdk.utils.constants import ENV_REQUEST_CACHE_PATH

from source_brightpearl.components import BrightpearlIdBatches, schema_to_normalize_by
from source_brightpearl.source import SourceBrightpearl
from unit_tests.builders import ConfigBuilder, api_url, order, run_read, search_body

ORDER_SEARCH = api_url("order-service/order-search")
ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[0-9,-]+")


def _paged_search(mocked, url, id_column, ids, page_size):
    """Serves `ids` from a search in pages of `page_size`, honouring `firstResult`."""

    def callback(request):
        first = int(parse_qs(urlsplit(request.url).query).get("firstResult", ["1"])[0])
        page = ids[first - 1 : first - 1 + page_size]
        return 200, {}, json.dumps(search_body(id_column, page, first, len(ids)))

    mocked.add_callback(responses.GET, url, callback=callback)


def _live_search(mocked, url, id_column, ids, page_size, changes):
    """`_paged_search` over an account that changes: `changes[n](ids)` edits the rows before the n-th call."""
    calls = 0

    def callback(request):
        nonlocal calls
        calls += 1
        changes.get(calls, lambda rows: None)(ids)
        first = int(parse_qs(urlsplit(request.url).query)["firstResult"][0])
        page = ids[first - 1 : first - 1 + page_size]
        return 200, {}, json.dumps(search_body(id_column, page, first, len(ids)))

    mocked.add_callback(responses.GET, url, callback=callback)


def _search_error(output):
    """The order search's error (the read's closing error repeats it)."""
    return next(message.trace.error for message in output.errors if "order-search" in message.trace.error.message)


def _delete(*deleted):
    return lambda ids: ids.__setitem__(slice(None), [i for i in ids if i not in deleted])


def _order_get(mocked, rows_per_order=0):
    def callback(request):
        ids = [int(i) for i in urlsplit(request.url).path.rsplit("/", 1)[1].split(",")]
        records = [order(i, range(i * 10, i * 10 + rows_per_order)) for i in ids]
        return 200, {}, json.dumps({"response": records})

    mocked.add_callback(responses.GET, ORDER_GET, callback=callback)


def _query(call):
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def _calls_to(mocked, prefix):
    return [call for call in mocked.calls if call.request.url.startswith(prefix)]


def test_given_search_when_read_orders_then_first_page_asks_500_rows_sorted_by_id_from_first_result_1():
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", [1, 2, 3], page_size=500)
        _order_get(mocked)
        run_read(ConfigBuilder().build(), "orders")
        first_search = _calls_to(mocked, ORDER_SEARCH)[0]
    # `updatedOn` (or, never updated, `createdOn`) feeds the search's own incremental state; no
    # filter without a start date or state.
    assert _query(first_search) == {
        "pageSize": "500",
        "firstResult": "1",
        "sort": "orderId.ASC",
        "columns": "orderId,updatedOn,createdOn",
    }


def test_given_two_search_pages_when_read_orders_then_the_second_starts_at_the_last_row_read_and_none_repeats():
    ids = list(range(1, 8))
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", ids, page_size=5)
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders")
        searches = _calls_to(mocked, ORDER_SEARCH)
    assert [_query(call)["firstResult"] for call in searches] == ["1", "5"]
    assert sorted(record.record.data["id"] for record in output.records) == ids


def test_given_rows_deleted_ahead_of_the_second_page_when_read_orders_then_it_steps_back_once_and_all_survivors_arrive():
    ids = list(range(1, 13))
    with responses.RequestsMock() as mocked:
        _live_search(mocked, ORDER_SEARCH, "orderId", ids, page_size=5, changes={2: _delete(2, 3)})
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders")
        searches = _calls_to(mocked, ORDER_SEARCH)
    # The page from row 5 starts at 7: two rows moved up past it; from row 3 it starts at 5 again.
    assert [_query(call)["firstResult"] for call in searches] == ["1", "5", "3", "7"]
    assert {record.record.data["id"] for record in output.records} >= set(ids)


def test_given_the_end_moved_below_the_second_page_when_read_orders_then_the_rows_moved_up_still_arrive():
    ids = list(range(1, 15))
    with responses.RequestsMock() as mocked:
        _live_search(mocked, ORDER_SEARCH, "orderId", ids, page_size=10, changes={2: _delete(1, 2, 3, 4, 5, 6)})
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders")
        searches = _calls_to(mocked, ORDER_SEARCH)
    assert [_query(call)["firstResult"] for call in searches] == ["1", "10", "4"]
    assert {record.record.data["id"] for record in output.records} >= {11, 12, 13, 14}


def test_given_rows_added_ahead_of_the_second_page_when_read_order_notes_then_no_extra_call_and_no_row_twice():
    ids = [1, 2, 4, 5, 6, 7, 8, 9, 10]
    with responses.RequestsMock() as mocked:
        _live_search(
            mocked,
            api_url("order-service/order-note-search"),
            "noteId",
            ids,
            page_size=5,
            changes={2: lambda rows: rows.insert(2, 3)},
        )
        output = run_read(ConfigBuilder().build(), "order_notes")
        searches = _calls_to(mocked, api_url("order-service/order-note-search"))
    assert [_query(call)["firstResult"] for call in searches] == ["1", "5", "9"]
    assert [_query(call)["sort"] for call in searches] == ["noteId.ASC"] * 3
    assert sorted(record.record.data["noteId"] for record in output.records) == [1, 2, 4, 5, 6, 7, 8, 9, 10]


def test_given_more_rows_deleted_ahead_than_a_page_holds_when_read_orders_then_it_fails_as_transient():
    ids = list(range(1, 13))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        _live_search(mocked, ORDER_SEARCH, "orderId", ids, page_size=5, changes={2: _delete(1, 2, 3, 4)})
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders", expect_failure=True)
        searches = _calls_to(mocked, ORDER_SEARCH)
    error = _search_error(output)
    assert error.failure_type.value == "transient_error"
    assert "lost more rows ahead of the page being read than one page holds" in error.message
    assert [_query(call)["firstResult"] for call in searches] == ["1", "5", "2"]


def test_given_full_pages_past_a_results_available_stuck_at_500_when_read_orders_then_every_row_arrives():
    # supplier-payment-search's known quirk: resultsAvailable says 500 whatever the search holds.
    ids = list(range(1, 701))

    def callback(request):
        first = int(parse_qs(urlsplit(request.url).query)["firstResult"][0])
        body = search_body("orderId", ids[first - 1 : first - 1 + 500], first, len(ids))
        body["response"]["metaData"]["resultsAvailable"] = 500
        return 200, {}, json.dumps(body)

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, ORDER_SEARCH, callback=callback)
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders")

    assert sorted(record.record.data["id"] for record in output.records) == ids


def test_given_rows_not_sorted_on_their_id_when_read_orders_then_it_fails_as_a_system_error():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(ORDER_SEARCH, json=search_body("orderId", [3, 1, 2], 1, 3))
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders", expect_failure=True)
    error = _search_error(output)
    assert error.failure_type.value == "system_error"
    assert "did not sort its rows on orderId" in error.message


def test_given_a_search_answer_without_metadata_when_read_orders_then_it_fails_as_transient():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(ORDER_SEARCH, json={"response": None})
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders", expect_failure=True)
    error = _search_error(output)
    assert error.failure_type.value == "transient_error"
    assert "not a search page" in error.message


def test_given_a_start_date_when_read_orders_then_it_searches_from_it_on_updated_on_then_on_created_on():
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", [1, 2], page_size=500)
        _order_get(mocked)
        run_read(ConfigBuilder().with_fields(start_date="2024-05-01T00:00:00Z").build(), "orders")
        searches = _calls_to(mocked, ORDER_SEARCH)
    assert [urlsplit(call.request.url).query.split("&")[0] for call in searches] == [
        "updatedOn=2024-05-01T00:00:00Z/",
        "createdOn=2024-05-01T00:00:00Z/",
    ]


def test_given_empty_search_without_first_and_last_result_when_read_orders_then_no_records_and_no_get():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", [], page_size=500)
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders")
        assert len(_calls_to(mocked, api_url("order-service/order/"))) == 0
    assert output.records == []
    assert output.errors == []


def test_given_search_columns_in_any_order_when_read_then_ids_are_taken_by_column_name():
    body = search_body("orderId", [], 1, 2)
    body["response"]["metaData"]["columns"] = [{"name": "orderTypeId"}, {"name": "orderId"}]
    body["response"]["results"] = [[1, 41], [2, 42]]
    body["response"]["metaData"].update(firstResult=1, lastResult=2, resultsReturned=2, morePagesAvailable=False)
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_SEARCH, json=body)
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders")
    assert sorted(record.record.data["id"] for record in output.records) == [41, 42]


def test_given_450_ids_when_read_orders_then_ids_are_fetched_in_gets_of_at_most_200():
    ids = list(range(1, 451))
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", ids, page_size=500)
        _order_get(mocked)
        output = run_read(ConfigBuilder().build(), "orders")
        gets = _calls_to(mocked, api_url("order-service/order/"))
    batches = [urlsplit(call.request.url).path.rsplit("/", 1)[1].split(",") for call in gets]
    assert sorted(len(batch) for batch in batches) == [50, 200, 200]
    assert sorted(int(i) for batch in batches for i in batch) == ids
    assert len(output.records) == 450


def test_given_order_get_when_read_orders_then_custom_fields_are_requested():
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", [7], page_size=500)
        _order_get(mocked)
        run_read(ConfigBuilder().build(), "orders")
        get = _calls_to(mocked, api_url("order-service/order/"))[0]
    assert _query(get) == {"includeOptional": "customFields"}


def test_given_order_with_row_map_when_read_orders_then_order_rows_is_a_list_with_integer_row_ids():
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", [5], page_size=500)
        _order_get(mocked, rows_per_order=2)
        output = run_read(ConfigBuilder().build(), "orders")
    rows = output.records[0].record.data["orderRows"]
    assert sorted(row["rowId"] for row in rows) == [50, 51]
    assert rows[0]["quantity"] == {"magnitude": "2.0000"}


def test_given_orders_with_rows_when_read_order_rows_then_one_record_per_row_with_order_id_and_row_id():
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, ORDER_SEARCH, "orderId", [5, 6], page_size=500)
        _order_get(mocked, rows_per_order=3)
        output = run_read(ConfigBuilder().build(), "order_rows")
        gets = _calls_to(mocked, api_url("order-service/order/"))
    keys = sorted((r.record.data["orderId"], r.record.data["rowId"]) for r in output.records)
    assert keys == [(5, 50), (5, 51), (5, 52), (6, 60), (6, 61), (6, 62)]
    assert len(gets) == 1, "order rows are read from the orders, not fetched per order"


def test_given_contact_ids_all_deleted_when_read_contacts_then_404_cmnc_404_is_an_empty_result():
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, api_url("contact-service/contact-search"), "contactId", [3, 4], page_size=500)
        mocked.get(
            api_url("contact-service/contact/3,4"),
            status=404,
            json={"errors": [{"code": "CMNC-404", "message": "No Contact Found"}]},
        )
        output = run_read(ConfigBuilder().build(), "contacts")
    assert output.records == []
    assert output.errors == []


def test_given_products_when_read_products_then_product_search_feeds_product_get():
    with responses.RequestsMock() as mocked:
        _paged_search(mocked, api_url("product-service/product-search"), "productId", [1001, 1002], page_size=500)
        mocked.get(
            api_url("product-service/product/1001,1002"),
            json={"response": [{"id": 1002, "updatedOn": "2024-01-01T00:00:00Z"}, {"id": 1001}]},
        )
        output = run_read(ConfigBuilder().build(), "products")
    assert sorted(r.record.data["id"] for r in output.records) == [1001, 1002]


def _dated_search(mocked, ids, page_size):
    """`_paged_search` of orders whose rows carry the dates the search's cursor reads; every third was
    never updated (no `updatedOn`, as real order searches answer)."""

    def callback(request):
        first = int(parse_qs(urlsplit(request.url).query)["firstResult"][0])
        page = ids[first - 1 : first - 1 + page_size]
        body = search_body("orderId", page, first, len(ids))
        body["response"]["metaData"]["columns"] += [{"name": "updatedOn"}, {"name": "createdOn"}]
        body["response"]["results"] = [
            [i, None if i % 3 == 0 else f"2024-03-{i:02d}T10:00:00.000-06:00", f"2024-02-{i:02d}T09:00:00.000-06:00"]
            for i in page
        ]
        return 200, {}, json.dumps(body)

    mocked.add_callback(responses.GET, ORDER_SEARCH, callback=callback)


@pytest.fixture
def own_response_cache(monkeypatch, tmp_path):
    """Searches go through the CDK's response cache, kept in REQUEST_CACHE_PATH (else the folder of an earlier
    test's read): the sources a test builds share this test's answers only."""
    monkeypatch.setenv(ENV_REQUEST_CACHE_PATH, str(tmp_path))


def _order_id_batches(config):
    """The orders stream's ID batches, in a source of its own (each reads its search once)."""
    stream = next(stream for stream in SourceBrightpearl(config=config).streams(config) if stream.name == "orders")
    return stream._stream_partition_generator._stream_slicer._partition_router


def _order_id_router(config):
    """The orders stream's BrightpearlRetriedIdsRouter, in a source of its own (each reads its search once)."""
    return _order_id_batches(config).underlying_partition_router


def _slices_with_search_state(slices, router):
    return [
        (dict(stream_slice.partition), json.loads(json.dumps(router.found_by.get_stream_state())))
        for stream_slice in slices
    ]


def test_given_a_dated_search_in_pages_when_its_ids_are_routed_then_slices_and_search_state_match_the_cdks_router(
    own_response_cache,
):
    config = ConfigBuilder().build()
    ids = list(range(1, 13))
    with responses.RequestsMock() as mocked:
        _dated_search(mocked, ids, page_size=5)
        ours = _order_id_router(config)
        ours_routed = _slices_with_search_state(ours.stream_slices(), ours)
        cdks = _order_id_router(config)
        cdks_routed = _slices_with_search_state(cdks.found_by.stream_slices(), cdks)
    # Each ID with the search's state as it stood when that ID went out, in the CDK's order.
    assert [partition["ids"] for partition, _ in ours_routed] == ids
    assert ours_routed == cdks_routed
    assert ours_routed[-1][1] != ours_routed[0][1]


def _id_sets_with_state(batches):
    """Each ID set with the state its router gives as it goes out (a cursor's parent state)."""
    return [
        (dict(stream_slice.partition), json.loads(json.dumps(batches.get_stream_state())))
        for stream_slice in batches.stream_slices()
    ]


def test_given_a_dated_search_in_pages_when_its_ids_are_batched_then_id_sets_and_state_match_the_cdks_grouping(
    own_response_cache,
):
    config = ConfigBuilder().build()
    with responses.RequestsMock() as mocked:
        _dated_search(mocked, list(range(1, 13)), page_size=5)
        ours = _order_id_batches(config)
        ours.group_size = 5  # several ID sets of the 12 IDs
        ours_batched = _id_sets_with_state(ours)
        cdks = GroupingPartitionRouter(
            group_size=5,
            underlying_partition_router=_order_id_router(config),
            config=config,
            deduplicate=False,
        )
        cdks_batched = _id_sets_with_state(cdks)
    assert type(ours) is BrightpearlIdBatches and isinstance(ours, GroupingPartitionRouter)
    assert [partition["ids"] for partition, _ in ours_batched] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    assert ours_batched == cdks_batched
    assert ours_batched[0][1] != ours_batched[-1][1]
    assert json.dumps(ours.get_stream_state()) == json.dumps(cdks.get_stream_state())


def test_given_a_search_in_pages_when_its_ids_are_routed_then_all_rows_share_one_parent_partition(own_response_cache):
    # An ID batch lists each of its IDs' parent partitions: one empty dict per row was 6 MB per
    # stream at 100k orders, all held while the ID sets wait to be read.
    with responses.RequestsMock() as mocked:
        _dated_search(mocked, list(range(1, 13)), page_size=5)
        router = _order_id_router(ConfigBuilder().build())
        parent_partitions = [stream_slice.partition["parent_slice"] for stream_slice in router.stream_slices()]
    assert len(parent_partitions) == 12
    assert len({id(partition) for partition in parent_partitions}) == 1


@pytest.mark.parametrize(
    ("normalization", "schema_handed_over"),
    [(TransformConfig.NoTransform, {}), (TransformConfig.DefaultSchemaNormalization, {"type": "object"})],
)
def test_given_a_record_selector_when_a_retriever_hands_it_the_schema_then_only_one_that_normalizes_gets_it(
    normalization, schema_handed_over
):
    selector = SimpleNamespace(schema_normalization=TypeTransformer(normalization))

    assert schema_to_normalize_by(selector, {"type": "object"}) == schema_handed_over
