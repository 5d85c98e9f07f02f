"""Cursor values read without `strptime` (BrightpearlCursorValueConverter): the same datetimes and
errors as the CDK's converter, and no parse per record in a read, against `responses`."""

import _strptime
import re
from typing import Any

import pytest
import responses
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read as entrypoint_read
from airbyte_cdk.test.models import ExpectedOutcome

from source_brightpearl.components import BrightpearlCursorValueConverter
from source_brightpearl.source import SourceBrightpearl
from unit_tests.builders import ConfigBuilder, api_url, order

# The formats of the manifest's `search_cursor`.
CURSOR_FORMATS = ["%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"]
ORDER_SEARCH = re.compile(re.escape(api_url("order-service/order-search")) + r".*")
ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[^?]+")


def _cdk_converter() -> CustomFormatConcurrentStreamStateConverter:
    return CustomFormatConcurrentStreamStateConverter(
        datetime_format="%Y-%m-%dT%H:%M:%S%z", input_datetime_formats=list(CURSOR_FORMATS)
    )


def _outcome(converter: CustomFormatConcurrentStreamStateConverter, value: Any) -> Any:
    try:
        parsed = converter.parse_timestamp(value)
    except ValueError:
        return ValueError
    return parsed, parsed.utcoffset(), converter.output_format(parsed)


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-19T00:55:23.157-06:00",
        "2024-01-19T00:55:23.157-0600",
        "2024-01-19T00:55:23.1+01:00",
        "2024-01-19T00:55:23.123456Z",
        "2024-01-19T00:55:23-0600",
        "2024-01-19T00:55:23+05:30",
        "2024-01-19T00:55:23Z",
    ],
)
def test_given_a_brightpearl_timestamp_when_parsed_then_it_is_the_datetime_and_state_value_the_cdk_reads(value: str):
    assert _outcome(BrightpearlCursorValueConverter(_cdk_converter()), value) == _outcome(_cdk_converter(), value)


@pytest.mark.parametrize(
    "value",
    [
        "2024-1-9T00:55:23-0600",  # strptime takes one-digit months and days
        "2024-01-19T00:55:23+06:00:30",  # and offsets with seconds
        "2024-01-19T00:55:23.1234567Z",  # but not seven fraction digits
        "2024-02-30T00:55:23Z",  # nor a day that does not exist
        "2024-01-19 00:55:23Z",  # nor a space for the T, which fromisoformat would take
        "2024-01-19",
        "",
    ],
)
def test_given_a_value_outside_the_iso_shape_when_parsed_then_the_outcome_is_the_cdks(value: str):
    assert _outcome(BrightpearlCursorValueConverter(_cdk_converter()), value) == _outcome(_cdk_converter(), value)


def _search(order_ids: list[int]) -> dict[str, Any]:
    meta = {
        "morePagesAvailable": False,
        "resultsAvailable": len(order_ids),
        "resultsReturned": len(order_ids),
        "firstResult": 1,
        "lastResult": len(order_ids),
        "columns": [{"name": "orderId"}, {"name": "updatedOn"}, {"name": "createdOn"}],
        "sorting": [],
    }
    rows = [[order_id, "2024-03-05T16:01:02.000Z", "2024-03-01T10:00:00.000Z"] for order_id in order_ids]
    return {"response": {"results": rows, "metaData": meta}, "reference": {}}


def _strptime_calls_reading(order_ids: list[int], monkeypatch: pytest.MonkeyPatch) -> int:
    calls = []
    parse = _strptime._strptime_datetime

    def counted(*args: Any) -> Any:
        calls.append(args)
        return parse(*args)

    config = ConfigBuilder().build()
    catalog = CatalogBuilder().with_stream("orders", SyncMode.incremental).build()
    source = SourceBrightpearl(config=config, catalog=catalog)
    with responses.RequestsMock() as mocked, monkeypatch.context() as patched:
        mocked.get(ORDER_SEARCH, json=_search(order_ids))
        mocked.get(ORDER_GET, json={"response": [order(order_id) for order_id in order_ids]})
        # `datetime.strptime` calls this module function for every parse.
        patched.setattr(_strptime, "_strptime_datetime", counted)
        output = entrypoint_read(source, config, catalog, expected_outcome=ExpectedOutcome.EXPECT_SUCCESS)
    assert sorted(record.record.data["id"] for record in output.records) == order_ids
    return len(calls)


def test_given_more_orders_when_read_then_their_cursor_values_cost_no_more_strptime_calls(
    monkeypatch: pytest.MonkeyPatch,
):
    # Each order is observed twice: by the search's cursor and by the orders stream's.
    assert _strptime_calls_reading([1, 2, 3, 4, 5, 6], monkeypatch) == _strptime_calls_reading([1], monkeypatch)
