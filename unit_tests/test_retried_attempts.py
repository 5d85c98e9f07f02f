"""A retried attempt carries the states of the streams the failed one finished: child rows read out
of their parents must still come from the parents, not from a URL Brightpearl does not have."""

import re

import pytest
import responses
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.state_builder import StateBuilder

from source_brightpearl.source import SourceBrightpearl
from unit_tests.builders import ConfigBuilder, api_url, search_body

# What the CDK emits at the end of a full-refresh stream, and the platform hands back on a retry.
FULL_REFRESH_DONE = {"__ab_no_cursor_state_message": True}
AVAILABILITY = {
    "1140": {
        "total": {"inStock": 30},
        "warehouses": {"1": {"inStock": 30}},
        "breakDownByLocation": {"1": {"101": {"inStock": 30}}},
    }
}
PRICES = [{"productId": 1140, "priceLists": [{"priceListId": 2, "quantityPrice": {"1": "44.19"}}]}]


def _read_with_state(stream: str):
    config = ConfigBuilder().build()
    catalog = CatalogBuilder().with_stream(stream, SyncMode.full_refresh).build()
    state = StateBuilder().with_stream_state(stream, FULL_REFRESH_DONE).build()
    return read(SourceBrightpearl(config=config, catalog=catalog, state=state), config, catalog, state=state)


@pytest.mark.parametrize(
    "stream, parent_path, parent_body",
    [
        ("product_prices", "product-service/product-price", PRICES),
        ("product_availability", "warehouse-service/product-availability", AVAILABILITY),
        ("product_availability_totals", "warehouse-service/product-availability", AVAILABILITY),
        ("product_availability_by_location", "warehouse-service/product-availability", AVAILABILITY),
    ],
)
def test_given_a_full_refresh_child_stream_with_a_carried_state_when_read_then_its_rows_come_from_the_parent(
    stream, parent_path, parent_body
):
    with responses.RequestsMock() as mocked:
        mocked.add(
            responses.GET, api_url("product-service/product-search"), json=search_body("productId", [1140], 1, 1)
        )
        # Only ID-set GETs exist; a request without IDs would not match and fail the read.
        mocked.add(
            responses.GET,
            re.compile(re.escape(api_url(parent_path)) + r"/1140(\?.*)?$"),
            json={"response": parent_body},
        )
        output = _read_with_state(stream)

    assert not output.errors, [error.trace.error.message for error in output.errors]
    assert [record.record.data["productId"] for record in output.records] == [1140]
