"""API calls of incremental syncs of every incremental stream: a first sync, a second with nothing
changed, then a third after the mock changes 37 orders and deletes 5 (and `order_ids` after it).

With nothing changed, each incremental stream should send exactly one search (categories: its one
GET, filtered client-side; the six whose search has `createdOn`, orders, sales orders and credits,
products, contacts and companies, a second one from the cursor on it, for records never updated,
whose `updatedOn` cell is empty) plus the ID-set GETs of the records inside the lookback window.

With `--availability-products 1000,10000` it measures `product_availability_changes` instead, on an
account of each size (the mock seeds 100 products per 1000 orders): a first sync, a sync with nothing
changed, whose calls must not grow with the catalogue, one after a stock correction, and a snapshot
of `product_availability` for comparison.

    python bench/incremental_calls.py [--orders 10000] [--rate-limit 200]
    python bench/incremental_calls.py --availability-products 1000,10000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from mock_server.testing import MockServer

CHANGED, DELETED = 37, 5
AVAILABILITY = "product_availability_changes"
PRODUCTS_PER_THOUSAND_ORDERS = 100  # mock_server.builders.catalogue.build_products


class Connector:
    def __init__(self, mock: MockServer, workdir: Path) -> None:
        self.mock, self.workdir = mock, workdir
        self.command = str(Path(sys.executable).with_name("source-brightpearl"))
        (workdir / "config.json").write_text(json.dumps(mock.connector_config()))
        discovered = subprocess.run(
            [self.command, "discover", "--config", str(workdir / "config.json")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.streams = next(json.loads(line)["catalog"] for line in discovered.splitlines() if '"CATALOG"' in line)[
            "streams"
        ]

    def read(self, names: list[str], mode: str, state: list | None = None) -> tuple[Counter, list, list]:
        """Records per stream, final states and the records of `orders`/`order_ids` (their IDs)."""
        catalog = {
            "streams": [
                {
                    "stream": stream,
                    "sync_mode": mode,
                    "destination_sync_mode": "append_dedup" if mode == "incremental" else "overwrite",
                    "cursor_field": stream.get("default_cursor_field"),
                    "primary_key": stream.get("source_defined_primary_key"),
                }
                for stream in self.streams
                if stream["name"] in names
            ]
        }
        (self.workdir / "catalog.json").write_text(json.dumps(catalog))
        command = [
            self.command,
            "read",
            "--config",
            str(self.workdir / "config.json"),
            "--catalog",
            str(self.workdir / "catalog.json"),
        ]
        if state:
            (self.workdir / "state.json").write_text(json.dumps(state))
            command += ["--state", str(self.workdir / "state.json")]
        records, states, ids = Counter(), {}, []
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
            for line in process.stdout:
                if line.startswith('{"type":"RECORD"'):
                    record = json.loads(line)["record"]
                    records[record["stream"]] += 1
                    if record["stream"] in ("orders", "order_ids"):
                        ids.append(record["data"].get("id") or record["data"].get("orderId"))
                elif line.startswith('{"type":"STATE"'):
                    message = json.loads(line)["state"]
                    states[message["stream"]["stream_descriptor"]["name"]] = message
        return records, list(states.values()), ids


def calls(mock: MockServer) -> Counter:
    return Counter(
        {route.removeprefix("GET "): sum(statuses.values()) for route, statuses in mock.stats()["routes"].items()}
    )


def show(title: str, records: Counter, routes: Counter) -> None:
    print(f"{title}: {sum(routes.values())} calls, {sum(records.values())} records")
    print("  records: " + ", ".join(f"{name} {count}" for name, count in sorted(records.items())))
    for route, count in sorted(routes.items()):
        print(f"  {count:>5}  {route}")


def correct_stock(mock: MockServer) -> int:
    """A stock correction of the first stock-tracked product, through the API: its ID."""
    search = mock.session.get(
        mock.api_url("product-service/product-search"),
        params={"stockTracked": "true", "columns": "productId", "pageSize": 1},
        headers=mock.auth_headers(),
        timeout=30,
    )
    product_id = search.json()["response"]["results"][0][0]
    mock.session.post(
        mock.api_url("warehouse-service/warehouse/1/stock-correction"),
        json={"corrections": [{"productId": product_id, "quantity": 5, "reason": "Found in count"}]},
        headers=mock.auth_headers(),
        timeout=30,
    ).raise_for_status()
    return product_id


def availability_calls(products: int, rate_limit: int) -> int:
    """Prints the calls of each `product_availability_changes` sync on an account of `products`
    products; returns those of the sync with nothing changed."""
    orders = products * 1000 // PRODUCTS_PER_THOUSAND_ORDERS
    with (
        MockServer(orders=orders, rate_limit=rate_limit, startup_timeout=600) as mock,
        tempfile.TemporaryDirectory() as tmp,
    ):
        connector = Connector(mock, Path(tmp))
        tracked = mock.counts()["product-availability"]
        print(f"{AVAILABILITY} at {products} products (--orders {orders}, {tracked} stock-tracked):")
        mock.reset_stats()
        records, state, _ = connector.read([AVAILABILITY], "incremental")
        show("  first sync", records, calls(mock))
        mock.reset_stats()
        records, state, _ = connector.read([AVAILABILITY], "incremental", state)
        unchanged = calls(mock)
        show("  sync with nothing changed", records, unchanged)
        product_id = correct_stock(mock)
        mock.reset_stats()
        records, state, _ = connector.read([AVAILABILITY], "incremental", state)
        show(f"  sync after a stock correction of product {product_id}", records, calls(mock))
        mock.reset_stats()
        records, _, _ = connector.read(["product_availability"], "full_refresh")
        show("  product_availability snapshot, for comparison", records, calls(mock))
    return sum(unchanged.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--rate-limit", type=int, default=200)
    parser.add_argument("--availability-products", help="comma-separated account sizes in products, e.g. 1000,10000")
    args = parser.parse_args()
    if args.availability_products:
        sizes = [int(size) for size in args.availability_products.split(",")]
        unchanged = {size: availability_calls(size, args.rate_limit) for size in sizes}
        print(
            "calls per availability sync with nothing changed: "
            + ", ".join(f"{count} at {size} products" for size, count in unchanged.items())
            + f" (largest / smallest {unchanged[max(sizes)] / unchanged[min(sizes)]:.2f})"
        )
        return
    with (
        MockServer(orders=args.orders, rate_limit=args.rate_limit, startup_timeout=300) as mock,
        tempfile.TemporaryDirectory() as tmp,
    ):
        connector = Connector(mock, Path(tmp))
        incremental = [
            stream["name"] for stream in connector.streams if "incremental" in stream["supported_sync_modes"]
        ]
        print(
            f"--orders {args.orders}, limit {args.rate_limit}/min; {len(incremental)} incremental streams: "
            + ", ".join(incremental)
        )

        mock.reset_stats()
        started = time.perf_counter()
        records, state, _ = connector.read(incremental, "incremental")
        show(f"first sync ({time.perf_counter() - started:.0f} s)", records, calls(mock))

        mock.reset_stats()
        records, state, _ = connector.read(incremental, "incremental", state)
        show("second sync, nothing changed", records, calls(mock))

        mock.advance_clock(3 * 3600)  # the changes land past the lookback window of the last sync
        orders = sorted(set(connector.read(["order_ids"], "full_refresh")[2]))
        changed, deleted = orders[100 : 100 + CHANGED], orders[200 : 200 + DELETED]
        for order_id in changed:
            mock.mutate(resource="order", action="update", id=order_id, changes={"reference": f"changed-{order_id}"})
        for order_id in deleted:
            mock.mutate(resource="order", action="delete", id=order_id)
        mock.reset_stats()
        records, state, synced = connector.read(incremental, "incremental", state)
        show(f"third sync, after {CHANGED} orders changed and {DELETED} deleted", records, calls(mock))
        synced = set(synced)
        print(
            f"  changed orders returned: {len(set(changed) & synced)} of {CHANGED}; "
            f"other orders returned (lookback overlap): {len(synced - set(changed))}"
        )
        mock.reset_stats()
        _, _, listed = connector.read(["order_ids"], "full_refresh")
        print(
            f"order_ids: {len(listed)} IDs in {sum(calls(mock).values())} calls; deleted still listed: "
            f"{len(set(deleted) & set(listed))} of {DELETED}; orders before {len(orders)}, now {len(set(listed))}"
        )


if __name__ == "__main__":
    main()
