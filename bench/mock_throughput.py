"""How fast the mock serves, so it is never the bottleneck of a connector benchmark.

Prints: start-up time, search pages/s (500 full rows), ID-set GETs/s (200 full orders each) against
`--orders 10000` with the rate limit off, and the mock's start-up time and peak RSS at `--orders 100000`.

    python bench/mock_throughput.py [--seconds 10] [--big-orders 100000]
"""

from __future__ import annotations

import argparse
import http.client
import time
from pathlib import Path
from urllib.parse import urlencode

from mock_server.idsets import format_id_set
from mock_server.testing import MockServer


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def rate(seconds: float, call) -> tuple[float, int]:
    """Calls per second of `call` over about `seconds`, and the bytes it returned."""
    calls = received = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        received += call(calls)
        calls += 1
    return calls / (time.perf_counter() - started), received


def measure(orders: int, seconds: float) -> None:
    started = time.perf_counter()
    with MockServer(orders=orders, rate_limit=0) as mock:
        print(f"start-up --orders {orders}: {time.perf_counter() - started:.1f} s (until /_mock/health answers)")
        # http.client, not requests: the figure is the mock's speed, not the client's
        connection = http.client.HTTPConnection("127.0.0.1", mock.port)
        prefix = f"/public-api/{mock.account}/"
        pages = orders // 500

        def get(path: str) -> int:
            connection.request("GET", prefix + path, headers=mock.auth_headers())
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200, body[:200]
            return len(body)

        def search_page(n: int) -> int:
            return get(
                "order-service/order-search?" + urlencode({"pageSize": 500, "firstResult": (n % pages) * 500 + 1})
            )

        id_sets = [format_id_set(range(100001 + start, 100001 + start + 200)) for start in range(0, orders - 199, 200)]

        def id_set_get(n: int) -> int:
            return get(f"order-service/order/{id_sets[n % len(id_sets)]}")

        page_rate, page_bytes = rate(seconds, search_page)
        get_rate, get_bytes = rate(seconds, id_set_get)
        print(f"search pages/s (500 rows, all 19 columns): {page_rate:.0f}  ({page_bytes / seconds / 1e6:.0f} MB/s)")
        print(
            f"ID-set GETs/s (200 full orders each):      {get_rate:.0f}  ({get_rate * 200:.0f} orders/s, "
            f"{get_bytes / seconds / 1e6:.0f} MB/s)"
        )
        print(f"mock peak RSS --orders {orders}: {peak_rss_mb(mock._process.pid):.0f} MB")


def measure_big(orders: int) -> None:
    started = time.perf_counter()
    with MockServer(orders=orders, rate_limit=0, startup_timeout=600) as mock:
        print(
            f"start-up --orders {orders}: {time.perf_counter() - started:.1f} s; "
            f"peak RSS {peak_rss_mb(mock._process.pid):.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each rate is measured")
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--big-orders", type=int, default=100000, help="0 skips the big start-up/RSS figure")
    args = parser.parse_args()
    measure(args.orders, args.seconds)
    if args.big_orders:
        measure_big(args.big_orders)


if __name__ == "__main__":
    main()
