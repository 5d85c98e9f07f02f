"""API calls, records and wall time of a full `read` of every stream, next to the fewest calls possible.

Per stream, the minimum is what Brightpearl cannot do with less:
- search then ID-set GET: the search's pages asking only the ID column, then ceil(IDs / 200) GETs
  (500 for goods-out notes);
- search only (the search row is the record): the search's pages;
- a search's pages: 1 for its first 500 rows, then one per 499: each page after the first is asked
  from the last row read, the one row of overlap that shows whether records deleted meanwhile moved
  rows past it (plain offset paging, ceil(rows / 500), would lose them); at most one call more per
  search below 250,000 rows, which the last line counts;
- with `--start-date` (one before the seeded history, so every record is still read) the searches
  are filtered, and the six whose search has `createdOn` (orders, sales orders and credits,
  products, contacts, companies) search a second time, from the start date on `createdOn`, for the
  records never updated, whose `updatedOn` cell is empty;
- small reference resources: one GET without an ID set;
- child rows (order rows, prices per price list, availability per warehouse or location): no call
  beyond their parent's, whose search is counted once even when two streams share it.
Calls are attributed to streams by the request line the mock logs (`--log-requests`).

    python bench/read_calls.py [--orders 10000] [--rate-limit 200] [--start-date 2020-01-01T00:00:00Z]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mock_server.testing import MockServer


@dataclass(frozen=True)
class Stream:
    """How a stream reads: `search` (path, filters) feeding `get` (path, batch), or `get_all`.

    `requests` matches the logged request lines (path?query) the stream alone sends; `records` counts
    what the mock holds for it, from the mock's own API.
    """

    requests: str
    search: tuple | None = None  # (path, {filter: value})
    get: tuple | None = None  # (path, IDs per GET, mock resource)
    get_all: str | None = None
    child_of: str | None = None
    records: Callable[[Mock], int] | None = None
    # With a start date, the search runs again from it on `createdOn`.
    created_pass: bool = False


def _search(path: str, **filters: str) -> tuple:
    return (path, filters)


STREAMS: dict[str, Stream] = {
    "orders": Stream(
        r"order-service/order-search\?(?!.*orderTypeId).*updatedOn|order-service/order/\d",
        search=_search("order-service/order-search"),
        get=("order-service/order", 200, "order"),
        created_pass=True,
    ),
    "order_rows": Stream(r"^$", child_of="orders"),
    "sales_orders": Stream(
        r"sales-order-search|sales-order/",
        search=_search("order-service/sales-order-search"),
        get=("order-service/sales-order", 200, "sales-order"),
        created_pass=True,
    ),
    "sales_credits": Stream(
        r"order-search\?.*orderTypeId=3|sales-credit/",
        search=_search("order-service/order-search", orderTypeId="3"),
        get=("order-service/sales-credit", 200, "sales-credit"),
        created_pass=True,
    ),
    "order_notes": Stream(r"order-note-search", search=_search("order-service/order-note-search")),
    "order_types": Stream(r"order-type\b", get_all="order-service/order-type"),
    "order_statuses": Stream(r"order-status\b", get_all="order-service/order-status"),
    "order_stock_statuses": Stream(r"order-stock-status", get_all="order-service/order-stock-status"),
    "order_shipping_statuses": Stream(r"order-shipping-status", get_all="order-service/order-shipping-status"),
    "sales_order_custom_fields": Stream(r"sale/custom-field", get_all="order-service/sale/custom-field-meta-data"),
    "purchase_order_custom_fields": Stream(
        r"purchase/custom-field", get_all="order-service/purchase/custom-field-meta-data"
    ),
    "goods_out_notes": Stream(
        r"goods-out",
        search=_search("warehouse-service/goods-note/goods-out-search"),
        get=("warehouse-service/order/*/goods-note/goods-out", 500, "goods-out-note"),
    ),
    "goods_in_notes": Stream(
        r"goods-in",
        search=_search("warehouse-service/goods-in-search"),
        get=("warehouse-service/order/*/goods-note/goods-in", 200, "goods-in-note"),
    ),
    "goods_movements": Stream(
        r"goods-movement-search\?(?!.*goodsNoteTypeCode)", search=_search("warehouse-service/goods-movement-search")
    ),
    "stock_corrections": Stream(
        r"goods-movement-search\?.*goodsNoteTypeCode=SC|stock-correction",
        search=_search("warehouse-service/goods-movement-search", goodsNoteTypeCode="SC"),
        get=("warehouse-service/warehouse/*/stock-correction", 200, "stock-correction"),
    ),
    "product_availability": Stream(
        r"product-search\?.*stockTracked|product-availability",
        search=_search("product-service/product-search", stockTracked="true"),
        get=("warehouse-service/product-availability", 200, "product-availability"),
    ),
    "product_availability_totals": Stream(r"^$", child_of="product_availability"),
    "product_availability_by_location": Stream(r"^$", child_of="product_availability"),
    "warehouses": Stream(r"warehouse-service/warehouse/?(\?|$)", get_all="warehouse-service/warehouse"),
    "locations": Stream(r"location-search", search=_search("warehouse-service/location-search")),
    "zones": Stream(r"zone-search", search=_search("warehouse-service/zone-search")),
    "shipping_methods": Stream(r"shipping-method", get_all="warehouse-service/shipping-method"),
    "products": Stream(
        r"product-service/product-search\?.*updatedOn|product-service/product/\d",
        search=_search("product-service/product-search"),
        get=("product-service/product", 200, "product"),
        created_pass=True,
    ),
    # Shares the product search with `product_ids` (cached): only its price GETs are its own.
    "product_prices": Stream(r"product-price/", get=("product-service/product-price", 200, "product-price")),
    "price_lists": Stream(r"price-list", get_all="product-service/price-list"),
    "brands": Stream(r"product-service/brand\b", get_all="product-service/brand"),
    "categories": Stream(r"brightpearl-category", get_all="product-service/brightpearl-category"),
    "collections": Stream(r"collection-search", search=_search("product-service/collection-search")),
    "options": Stream(r"option-search", search=_search("product-service/option-search")),
    "option_values": Stream(r"option-value-search", search=_search("product-service/option-value-search")),
    "product_types": Stream(r"product-type\b", get_all="product-service/product-type"),
    "seasons": Stream(r"product-service/season", get_all="product-service/season"),
    "channels": Stream(r"product-service/channel/?(\?|$)", get_all="product-service/channel"),
    "channel_brands": Stream(r"channel-brand", get_all="product-service/channel-brand"),
    "product_custom_fields": Stream(r"product/custom-field", get_all="product-service/product/custom-field-meta-data"),
    "contacts": Stream(
        r"contact-search\?.*updatedOn|contact-service/contact/\d",
        search=_search("contact-service/contact-search"),
        get=("contact-service/contact", 200, "contact"),
        created_pass=True,
    ),
    "companies": Stream(
        r"company",
        search=_search("contact-service/company-search"),
        get=("contact-service/company", 200, "company"),
        created_pass=True,
    ),
    "contact_groups": Stream(r"contact-group-search", search=_search("contact-service/contact-group-search")),
    "contact_group_members": Stream(
        r"contact-group-member-search", search=_search("contact-service/contact-group-member-search")
    ),
    "lead_sources": Stream(r"lead-source", get_all="contact-service/lead-source"),
    "tags": Stream(r"contact-service/tag", get_all="contact-service/tag"),
    "customer_custom_fields": Stream(
        r"customer/custom-field", get_all="contact-service/customer/custom-field-meta-data"
    ),
    "supplier_custom_fields": Stream(
        r"supplier/custom-field", get_all="contact-service/supplier/custom-field-meta-data"
    ),
    "journals": Stream(r"journal-search", search=_search("accounting-service/journal-search")),
    "customer_payments": Stream(
        r"customer-payment-search", search=_search("accounting-service/customer-payment-search")
    ),
    "supplier_payments": Stream(
        r"supplier-payment-search", search=_search("accounting-service/supplier-payment-search")
    ),
    "nominal_codes": Stream(r"nominal-code", get_all="accounting-service/nominal-code"),
    "tax_codes": Stream(r"tax-code", get_all="accounting-service/tax-code"),
    "accounting_periods": Stream(r"accounting-period", get_all="accounting-service/accounting-period"),
    "currencies": Stream(r"accounting-service/currency", get_all="accounting-service/currency"),
    "exchange_rates": Stream(r"exchange-rate", get_all="accounting-service/exchange-rate"),
    "payment_methods": Stream(r"payment-method-search", search=_search("accounting-service/payment-method-search")),
    "webhooks": Stream(r"webhook", get_all="integration-service/webhook"),
    # Every ID, for delete detection: the search alone, ID column only.
    "order_ids": Stream(
        r"order-service/order-search\?(?!.*(updatedOn|orderTypeId))", search=_search("order-service/order-search")
    ),
    "product_ids": Stream(
        r"product-service/product-search\?(?!.*(updatedOn|stockTracked))",
        search=_search("product-service/product-search"),
    ),
    "contact_ids": Stream(r"contact-search\?(?!.*updatedOn)", search=_search("contact-service/contact-search")),
}


class Mock:
    """What the mock holds, asked through its own API (searches with countOnly, GETs)."""

    def __init__(self, mock: MockServer) -> None:
        self.mock = mock
        self.counts = mock.counts()

    def get(self, path: str) -> object:
        response = self.mock.session.get(self.mock.api_url(path), headers=self.mock.auth_headers())
        response.raise_for_status()
        return response.json()["response"]

    def search_rows(self, path: str, filters: dict) -> int:
        query = "&".join([f"{key}={value}" for key, value in filters.items()] + ["countOnly=true"])
        return self.get(f"{path}?{query}")["metaData"]["resultsAvailable"]


PAGE_SIZE = 500


def search_pages(rows: int, overlap: int = 1) -> int:
    """Calls of a search of `rows` rows, each page after the first asked from the last row read."""
    return 1 if rows <= PAGE_SIZE else 1 + math.ceil((rows - PAGE_SIZE) / (PAGE_SIZE - overlap))


def minimum_calls(stream: Stream, mock: Mock, start_date: str | None, overlap: int = 1) -> int:
    if stream.child_of:
        return 0
    if stream.get_all:
        return 1
    calls = 0
    if stream.search:
        passes = 2 if stream.created_pass and start_date else 1
        calls = passes * search_pages(mock.search_rows(*stream.search), overlap)
    if stream.get:
        _, batch, resource = stream.get
        calls += math.ceil(mock.counts[resource] / batch)
    return calls


def run_read(
    mock: MockServer, workdir: Path, request_lines: list[str], start_date: str | None
) -> tuple[Counter, float]:
    config = {
        "account_code": mock.account,
        "api_domain": mock.base_url,
        "credentials": {"auth_type": "account_token", "app_ref": mock.app_ref, "account_token": mock.account_token},
    }
    if start_date:
        config["start_date"] = start_date
    (workdir / "config.json").write_text(json.dumps(config))
    connector = str(Path(sys.executable).with_name("source-brightpearl"))
    discovered = subprocess.run(
        [connector, "discover", "--config", str(workdir / "config.json")], capture_output=True, text=True, check=True
    ).stdout
    catalog = next(json.loads(line)["catalog"] for line in discovered.splitlines() if '"CATALOG"' in line)
    configured = {
        "streams": [
            {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for stream in catalog["streams"]
        ]
    }
    (workdir / "catalog.json").write_text(json.dumps(configured))
    time.sleep(0.5)  # the discover's last log lines
    request_lines.clear()  # only the read's calls count
    records: Counter = Counter()
    started = time.perf_counter()
    with subprocess.Popen(
        [connector, "read", "--config", str(workdir / "config.json"), "--catalog", str(workdir / "catalog.json")],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        for line in process.stdout:
            if line.startswith('{"type":"RECORD"'):
                records[json.loads(line)["record"]["stream"]] += 1
    return records, time.perf_counter() - started


THROTTLED = ("-> 503", "-> 429")


def collect_request_lines(mock: MockServer) -> list[str]:
    """The mock's `--log-requests` lines (`GET /public-api/acme/path?query -> 200 …`), drained as they come;
    a throttled answer's line ends in THROTTLED[…]."""
    lines: list[str] = []

    def drain() -> None:
        for line in mock._process.stdout:  # the mock's stdout and stderr, piped by MockServer
            if line.startswith(("GET ", "OPTIONS ")):
                path = line.split(" ")[1].split(f"/public-api/{mock.account}/", 1)[-1]
                lines.append(path + (" " + THROTTLED[0] if any(code in line for code in THROTTLED) else ""))

    threading.Thread(target=drain, daemon=True).start()
    return lines


def calls_per_stream(request_lines: list[str]) -> tuple[Counter, list[str]]:
    calls: Counter = Counter()
    unattributed = []
    for line in request_lines:
        owners = [name for name, stream in STREAMS.items() if re.search(stream.requests, line)]
        if len(owners) == 1:
            calls[owners[0]] += 1
        else:
            unattributed.append(f"{line} -> {owners or 'no stream'}")
    return calls, unattributed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument(
        "--rate-limit", type=int, default=0, help="the mock's calls a minute (Brightpearl: 200); 0 is off"
    )
    parser.add_argument("--start-date", help="the config's start_date, before 2024 (the seeded history); default: none")
    args = parser.parse_args()
    with (
        MockServer(
            orders=args.orders, rate_limit=args.rate_limit, startup_timeout=300, extra_args=["--log-requests"]
        ) as mock,
        tempfile.TemporaryDirectory() as tmp,
    ):
        request_lines = collect_request_lines(mock)
        records, wall = run_read(mock, Path(tmp), request_lines, args.start_date)
        time.sleep(0.5)  # the last log lines
        read_lines = list(request_lines)
        mock_view = Mock(mock)
        minimum = {name: minimum_calls(stream, mock_view, args.start_date) for name, stream in STREAMS.items()}
        offset_paging = sum(minimum_calls(stream, mock_view, args.start_date, overlap=0) for stream in STREAMS.values())
    throttled = [line for line in read_lines if line.endswith(THROTTLED)]
    calls, unattributed = calls_per_stream([line for line in read_lines if not line.endswith(THROTTLED)])
    limit = f"{args.rate_limit}/min" if args.rate_limit else "off"
    start = f", start date {args.start_date}" if args.start_date else ""
    print(
        f"read of every stream against --orders {args.orders} (rate limit {limit}{start}): {wall:.1f} s, "
        f"{sum(records.values())} records ({sum(records.values()) / wall:.0f}/s)"
    )
    print(f"  {'stream':<34} {'records':>8} {'calls':>6} {'minimum':>8}")
    for name in STREAMS:
        flag = "" if calls[name] == minimum[name] else "   <- above the minimum"
        print(f"  {name:<34} {records[name]:>8} {calls[name]:>6} {minimum[name]:>8}{flag}")
    for line in unattributed:
        print(f"  unattributed: {line}")
    total, least = len(read_lines) - len(throttled), sum(minimum.values())
    print(
        f"API calls {total}, minimum {least}, ratio {total / least:.2f}; "
        f"throttled answers (sent again, not counted above) {len(throttled)}"
    )
    print(
        f"paging overlap: minimum {least} against {offset_paging} with plain offset paging "
        f"(+{least - offset_paging} calls, {100 * (least - offset_paging) / offset_paging:.1f} %)"
    )


if __name__ == "__main__":
    main()
