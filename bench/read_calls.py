"""API calls, records and wall time of a full `read` of every stream, next to the fewest calls possible.

The minimum for a search-then-GET stream is ceil(rows / 500) search pages + ceil(IDs / 200) ID-set GETs;
`order_rows` costs nothing beyond `orders`; a small reference resource is one GET.

    python bench/read_calls.py [--orders 10000]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from mock_server.testing import MockServer

# stream -> (mock resource whose IDs it reads, how its calls are made)
STREAMS = {"orders": ("order", "search+get"), "order_rows": ("order", "free"), "products": ("product", "search+get"),
           "contacts": ("contact", "search+get"), "warehouses": ("warehouse", "get-all"),
           "order_statuses": ("order-status", "get-all")}


def minimum_calls(counts: dict[str, int]) -> dict[str, int]:
    minimum = {}
    for stream, (resource, shape) in STREAMS.items():
        records = counts[resource]
        minimum[stream] = {"search+get": math.ceil(records / 500) + math.ceil(records / 200),
                           "get-all": 1, "free": 0}[shape]
    return minimum


def run_read(mock: MockServer, workdir: Path) -> tuple[Counter, float]:
    config = {"account_code": mock.account, "api_domain": mock.base_url,
              "credentials": {"auth_type": "account_token", "app_ref": mock.app_ref, "account_token": mock.account_token}}
    (workdir / "config.json").write_text(json.dumps(config))
    connector = str(Path(sys.executable).with_name("source-brightpearl"))
    discovered = subprocess.run([connector, "discover", "--config", str(workdir / "config.json")],
                                capture_output=True, text=True, check=True).stdout
    catalog = next(json.loads(line)["catalog"] for line in discovered.splitlines() if '"CATALOG"' in line)
    configured = {"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                              for stream in catalog["streams"]]}
    (workdir / "catalog.json").write_text(json.dumps(configured))
    mock.reset_stats()
    records: Counter = Counter()
    started = time.perf_counter()
    with subprocess.Popen([connector, "read", "--config", str(workdir / "config.json"), "--catalog",
                           str(workdir / "catalog.json")], stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            if line.startswith('{"type":"RECORD"'):
                records[json.loads(line)["record"]["stream"]] += 1
    return records, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10000)
    args = parser.parse_args()
    with MockServer(orders=args.orders, rate_limit=0, startup_timeout=300) as mock, tempfile.TemporaryDirectory() as tmp:
        records, wall = run_read(mock, Path(tmp))
        routes = mock.stats()["routes"]
        counts = mock.counts()
    calls = sum(sum(statuses.values()) for statuses in routes.values())
    minimum = minimum_calls(counts)
    print(f"read of every stream against --orders {args.orders} (rate limit off): {wall:.1f} s, "
          f"{sum(records.values())} records ({sum(records.values()) / wall:.0f}/s)")
    for stream in STREAMS:
        print(f"  {stream:<15} {records[stream]:>7} records   minimum calls {minimum[stream]:>4}")
    print("calls per route:")
    for route, statuses in routes.items():
        print(f"  {route:<45} {statuses}")
    print(f"API calls {calls}, minimum {sum(minimum.values())}, ratio {calls / sum(minimum.values()):.2f}")


if __name__ == "__main__":
    main()
