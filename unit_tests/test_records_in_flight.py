"""Records waiting for the main thread are bounded (RECORDS_IN_FLIGHT): when the main thread, which
writes records out, lags the threads reading them, the reading threads wait instead of parsing
ever more records into memory. So are the ID sets waiting for a reading thread (PARTITIONS_IN_FLIGHT):
the thread making them from a search waits instead of making them all. Against `responses`."""

import json
import logging
import queue
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.sources.concurrent_source.concurrent_read_processor import ConcurrentReadProcessor
from airbyte_cdk.sources.concurrent_source.thread_pool_manager import ThreadPoolManager
from airbyte_cdk.test.catalog_builder import CatalogBuilder

from source_brightpearl.source import (
    HAND_OVER_POLL_SECONDS,
    PARTITIONS_IN_FLIGHT,
    RECORDS_IN_FLIGHT,
    PartitionsInFlight,
    ReadAbandoned,
    SourceBrightpearl,
)
from unit_tests.builders import ConfigBuilder, api_url, order, run_read, search_body

ORDER_SEARCH = api_url("order-service/order-search")
ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[0-9,-]+")
# Order rows: an ID set of 200 orders brings 1,000 rows, so two GETs under way bring more than the bound.
ROWS_PER_ORDER = 5
ORDERS = 4 * RECORDS_IN_FLIGHT // ROWS_PER_ORDER


def _serve_orders(mocked: responses.RequestsMock, ids: list[int]) -> None:
    """The search, then the ID sets, answered only once the whole search has been: every ID set is
    then asked for before any of its records reaches the main thread (a quick search, slow GETs)."""
    searched = threading.Event()

    def search(request: Any) -> tuple[int, dict, str]:
        first = int(parse_qs(urlsplit(request.url).query).get("firstResult", ["1"])[0])
        page = search_body("orderId", ids[first - 1 : first + 499], first, len(ids))
        if not page["response"]["metaData"]["morePagesAvailable"]:
            searched.set()
        return 200, {}, json.dumps(page)

    def id_set(request: Any) -> tuple[int, dict, str]:
        searched.wait(timeout=30)
        asked = [int(i) for i in urlsplit(request.url).path.rsplit("/", 1)[1].split(",")]
        return 200, {}, json.dumps({"response": [order(i, range(i * 10, i * 10 + ROWS_PER_ORDER)) for i in asked]})

    mocked.add_callback(responses.GET, ORDER_SEARCH, callback=search)
    mocked.add_callback(responses.GET, ORDER_GET, callback=id_set)


def test_given_a_main_thread_slower_than_the_reads_when_order_rows_are_read_then_at_most_the_bound_wait_for_it(
    monkeypatch: pytest.MonkeyPatch,
):
    waiting = []
    put, on_record = queue.Queue.put, ConcurrentReadProcessor.on_record

    def counted_put(self: queue.Queue, item: Any, *args: Any, **kwargs: Any) -> None:
        put(self, item, *args, **kwargs)
        waiting.append(self.qsize())

    def slow_on_record(self: ConcurrentReadProcessor, record: Any) -> Any:
        time.sleep(0.002)
        return on_record(self, record)

    monkeypatch.setattr(queue.Queue, "put", counted_put)
    monkeypatch.setattr(ConcurrentReadProcessor, "on_record", slow_on_record)
    with responses.RequestsMock() as mocked:
        _serve_orders(mocked, list(range(1, ORDERS + 1)))
        output = run_read(ConfigBuilder().build(), "order_rows")

    assert len(output.records) == ORDERS * ROWS_PER_ORDER
    assert max(waiting) <= RECORDS_IN_FLIGHT


def test_given_more_id_sets_than_the_bound_and_a_lagging_main_thread_when_orders_are_read_then_at_most_the_bound_wait(
    monkeypatch: pytest.MonkeyPatch,
):
    unread = []
    submit, on_record = ThreadPoolManager.submit, ConcurrentReadProcessor.on_record

    def lagging_on_record(self: ConcurrentReadProcessor, record: Any) -> Any:
        # The ID sets the search makes wait on the queue, behind records, for the main thread to submit them.
        time.sleep(0.0001)
        return on_record(self, record)

    def counted_submit(self: ThreadPoolManager, function: Any, *args: Any) -> None:
        submit(self, function, *args)
        unread.append(sum(not future.done() for future in self._futures))

    def search(request: Any) -> tuple[int, dict, str]:
        first = int(parse_qs(urlsplit(request.url).query).get("firstResult", ["1"])[0])
        return 200, {}, json.dumps(search_body("orderId", ids[first - 1 : first + 499], first, len(ids)))

    def id_set(request: Any) -> tuple[int, dict, str]:
        threading.Event().wait(0.005)  # slower than the search's pages, as Brightpearl's 200-order GETs are
        asked = [int(i) for i in urlsplit(request.url).path.rsplit("/", 1)[1].split(",")]
        return 200, {}, json.dumps({"response": [order(i) for i in asked]})

    monkeypatch.setattr(ThreadPoolManager, "submit", counted_submit)
    monkeypatch.setattr(ConcurrentReadProcessor, "on_record", lagging_on_record)
    ids = list(range(1, 200 * 4 * PARTITIONS_IN_FLIGHT + 1))
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.GET, ORDER_SEARCH, callback=search)
        mocked.add_callback(responses.GET, ORDER_GET, callback=id_set)
        output = run_read(ConfigBuilder().build(), "orders")

    assert len(output.records) == len(ids)
    assert max(unread) <= PARTITIONS_IN_FLIGHT


def test_given_the_bound_reached_when_the_read_is_abandoned_then_the_generating_thread_stops_waiting():
    with ThreadPoolExecutor(max_workers=1) as executor:
        pool = PartitionsInFlight(ThreadPoolManager(executor, logging.getLogger("test")), 2, queue.Queue())
        pool._futures.extend([Future(), Future()])
        waits_before = pool.prune_to_validate_has_reached_futures_limit()

        pool.abandon()

        assert waits_before
        with pytest.raises(ReadAbandoned):
            pool.prune_to_validate_has_reached_futures_limit()


def test_given_a_full_queue_when_the_read_is_abandoned_then_a_waiting_put_raises_within_the_poll():
    records = queue.Queue(maxsize=1)
    pool = PartitionsInFlight(ThreadPoolManager(ThreadPoolExecutor(1), logging.getLogger("test")), 2, records)
    records.put("the record that fills it")
    outcome: list[BaseException] = []
    putting = threading.Thread(target=lambda: outcome.append(_raised(lambda: records.put("one more"))))
    putting.start()
    putting.join(timeout=2 * HAND_OVER_POLL_SECONDS)
    still_waiting = putting.is_alive()

    pool.abandon()
    putting.join(timeout=4 * HAND_OVER_POLL_SECONDS)

    assert still_waiting
    assert not putting.is_alive()
    assert isinstance(outcome[0], ReadAbandoned)
    assert records.qsize() == 1


def test_given_an_abandoned_read_when_the_main_thread_puts_without_blocking_then_the_queue_takes_it():
    records = queue.Queue()
    pool = PartitionsInFlight(ThreadPoolManager(ThreadPoolExecutor(1), logging.getLogger("test")), 2, records)

    pool.abandon()
    records.put("a state message", block=False)

    assert records.get_nowait() == "a state message"


def test_given_a_read_left_after_its_first_records_when_it_is_closed_then_its_threads_end_and_its_requests_stop():
    ids = list(range(1, 200 * 4 * PARTITIONS_IN_FLIGHT + 1))
    config = ConfigBuilder().build()
    catalog = CatalogBuilder().with_stream("orders", SyncMode.full_refresh).build()
    with responses.RequestsMock() as mocked:
        _serve_orders_at_once(mocked, ids)
        source = SourceBrightpearl(config=config, catalog=catalog)
        messages = source.read(logging.getLogger("test"), config, catalog, None)
        first_records = [message for message, _ in zip(_records(messages), range(5), strict=False)]
        messages.close()
        ended = _wait_until(lambda: not any(thread.name.startswith("workerpool") for thread in threading.enumerate()))
        calls_after_end = len(mocked.calls)
        time.sleep(2 * HAND_OVER_POLL_SECONDS)

        assert len(first_records) == 5
        assert ended
        assert len(mocked.calls) == calls_after_end
        # The search stopped too: it has a page for every 500 IDs.
        assert calls_after_end < len(ids) // 500


def _raised(call: Any) -> BaseException | None:
    try:
        call()
    except BaseException as error:  # what the thread ended with is the test's outcome
        return error
    return None


def _records(messages: Any) -> Any:
    return (message for message in messages if message.type == Type.RECORD)


def _serve_orders_at_once(mocked: responses.RequestsMock, ids: list[int]) -> None:
    def search(request: Any) -> tuple[int, dict, str]:
        first = int(parse_qs(urlsplit(request.url).query).get("firstResult", ["1"])[0])
        return 200, {}, json.dumps(search_body("orderId", ids[first - 1 : first + 499], first, len(ids)))

    def id_set(request: Any) -> tuple[int, dict, str]:
        asked = [int(i) for i in urlsplit(request.url).path.rsplit("/", 1)[1].split(",")]
        return 200, {}, json.dumps({"response": [order(i) for i in asked]})

    mocked.add_callback(responses.GET, ORDER_SEARCH, callback=search)
    mocked.add_callback(responses.GET, ORDER_GET, callback=id_set)


def _wait_until(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
