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
  beyond their parent's, whose search is counted once even when two streams share it;
- `product_availability_changes` reads the GETs of `product_availability` from the cache, and sends
  its searches for changes (goods movements, orders updated and created), always from a cursor: one
  call each, their window being the last `availability_full_refresh_days`.
What each stream sends (searches, their filters and columns, ID-set GETs and their batch size) is read from
the connector's resolved manifest; calls are attributed to streams by the request line the mock logs
(`--log-requests`).

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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl

from airbyte_cdk.sources.declarative.interpolation import InterpolatedString

from mock_server.registry import RESOURCES
from mock_server.testing import MockServer
from source_brightpearl.source import SourceBrightpearl


@dataclass(frozen=True)
class Stream:
    """How a stream reads, as the manifest says: `search` (path, {filter: value}) feeding `get` (path, IDs
    per GET, mock resource), or `get_all`; a `child` reads its parent's responses and sends nothing.

    `columns` is the search's `columns` parameter (none: every column); `records` counts come from the
    mock's own API.
    """

    search: tuple | None = None  # (path, {filter: value})
    columns: str = ""
    get: tuple | None = None  # (path, IDs per GET, mock resource)
    get_all: str | None = None
    child: bool = False
    # With a start date, the search runs again from it on `createdOn`.
    created_pass: bool = False
    # Searches always sent from a cursor, never from the start date: ((path, {filter: value}), columns, passes).
    change_searches: tuple = ()

    def sends(self, request_line: str) -> bool:
        """Whether the logged request line (path?query) is one this stream alone sends."""
        path, _, query = request_line.partition("?")
        if self.get_all is not None:
            return path.rstrip("/") == self.get_all.rstrip("/")
        if self.get and re.fullmatch(re.escape(self.get[0]) + r"/[\d,]+", path):
            return True
        if not self.search or path != self.search[0]:
            return False
        # Paging and the cursor's range filter (`<column>=<from>/`) are the retriever's, not the stream's.
        parameters = {
            key: value for key, value in parse_qsl(query) if key not in SEARCH_PAGING and not value.endswith("/")
        }
        return parameters == {**self.search[1], **({"columns": self.columns} if self.columns else {})}

    def sends_change_search(self, request_line: str, start_date: str | None) -> bool:
        """Whether the line is one of this stream's searches for changes: range-filtered, but not from the
        start date (the other incremental searches' first filter)."""
        path, _, query = request_line.partition("?")
        ranges = [value.removesuffix("/") for _, value in parse_qsl(query) if value.endswith("/")]
        if not ranges or (start_date and _moment(ranges[0]) == _moment(start_date)):
            return False
        parameters = {
            key: value for key, value in parse_qsl(query) if key not in SEARCH_PAGING and not value.endswith("/")
        }
        return any(
            path == search[0] and parameters == {**search[1], **({"columns": columns} if columns else {})}
            for search, columns, _ in self.change_searches
        )


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


SEARCH_PAGING = {"pageSize", "sort", "firstResult"}

# The mock's resource of each ID-set GET path, to count what it holds.
MOCK_RESOURCES = {
    f"{resource.service}-service/{(resource.get or resource.name).replace('{parent}', '*')}": resource.name
    for resource in RESOURCES
}


def _rendered(template: str, parameters: dict) -> str:
    return str(InterpolatedString.create(template, parameters=parameters).eval({}))


def _search(stream: dict) -> tuple[tuple, str]:
    """The (path, filters) and `columns` of a search stream's requests."""
    requester = stream["retriever"]["requester"]
    parameters = {
        key: _rendered(str(value), requester["$parameters"])
        for key, value in requester.get("request_parameters", {}).items()
        if not key.startswith("$")
    }
    columns = parameters.pop("columns", "")
    return (requester["$parameters"]["endpoint"], parameters), columns


def _id_set(stream: dict, catalog_names: set[str]) -> Stream:
    retriever = stream["retriever"]
    batches = retriever["partition_router"]
    parent = batches["underlying_partition_router"]["found_by"]["parent_stream_configs"][0]["stream"]
    resource = retriever["$parameters"]["resource"]
    get = (resource, batches["group_size"], MOCK_RESOURCES[resource])
    if parent["name"] in catalog_names:
        # The search of a stream of its own, cached: the parent's calls count there, once.
        return Stream(get=get)
    search, columns = _search(parent)
    return Stream(
        search=search,
        columns=columns,
        get=get,
        created_pass="createdOn" in parent["retriever"].get("filter_columns", []),
    )


def _change_searches(retriever: dict) -> tuple:
    """The searches of an ID-set stream's further parents (the first is its `search`); a parent that is
    itself an ID-set stream (order rows) counts its own search."""
    batches = retriever.get("partition_router") or {}
    found_by = batches.get("underlying_partition_router", {}).get("found_by", {})
    searches = []
    for config in found_by.get("parent_stream_configs", [])[1:]:
        parent = config["stream"]
        if "partition_router" in parent["retriever"]:
            parent = parent["retriever"]["partition_router"]["underlying_partition_router"]["found_by"]
            parent = parent["parent_stream_configs"][0]["stream"]
        search, columns = _search(parent)
        searches.append((search, columns, len(parent["retriever"].get("filter_columns", [None]))))
    return tuple(searches)


def streams_from_manifest() -> dict[str, Stream]:
    """Each stream's calls, from the connector's resolved manifest."""
    manifest = SourceBrightpearl(config={}).resolved_manifest
    catalog_names = {stream["name"] for stream in manifest["streams"]}
    streams: dict[str, Stream] = {}
    counted_parents: set[str] = set()
    for stream in manifest["streams"]:
        retriever = stream["retriever"]
        kind = retriever.get("class_name", retriever["type"]).rsplit(".", 1)[-1]
        if kind == "BrightpearlParentRowsRetriever":
            # Rows out of a hidden parent's records: the first such stream reads the parent.
            parent = retriever["partition_router"]["parent_stream_configs"][0]["stream"]
            first = parent["name"] not in counted_parents
            counted_parents.add(parent["name"])
            streams[stream["name"]] = _id_set(parent, catalog_names) if first else Stream(child=True)
        elif "cached_responses_of" in retriever:
            streams[stream["name"]] = Stream(child=True, change_searches=_change_searches(retriever))
        elif kind == "BrightpearlIdSetRetriever":
            streams[stream["name"]] = _id_set(stream, catalog_names)
        elif kind == "BrightpearlSearchRetriever":
            search, columns = _search(stream)
            streams[stream["name"]] = Stream(search=search, columns=columns)
        else:
            streams[stream["name"]] = Stream(get_all=retriever["requester"]["$parameters"]["endpoint"])
    return streams


STREAMS = streams_from_manifest()


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
    if stream.child:
        return sum(passes for _, _, passes in stream.change_searches)
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


def calls_per_stream(request_lines: list[str], start_date: str | None) -> tuple[Counter, list[str]]:
    calls: Counter = Counter()
    unattributed = []
    for line in request_lines:
        owners = [name for name, stream in STREAMS.items() if stream.sends_change_search(line, start_date)] or [
            name for name, stream in STREAMS.items() if stream.sends(line)
        ]
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
    calls, unattributed = calls_per_stream(
        [line for line in read_lines if not line.endswith(THROTTLED)], args.start_date
    )
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
