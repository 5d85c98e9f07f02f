"""Peak RSS of a connector `read` of `orders` + `order_rows` at two account sizes, and their ratio
(the goals: at most 120 MB at 100k orders, and at most +10 % from the smaller to the larger).

    python bench/memory.py [--small 10000] [--large 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mock_server.testing import MockServer

CONNECTOR = [sys.executable, "-c", "from source_brightpearl.run import run; run()"]
STREAMS = ["orders", "order_rows"]


def read_peak_rss_mb(orders: int) -> tuple[float, int, float]:
    """Peak RSS (MB) of one read in a child process, the records it emitted and its wall time."""
    # Seeding 100k orders takes about 45 s alone, longer on a busy machine.
    with MockServer(orders=orders, rate_limit=0, startup_timeout=900) as mock, tempfile.TemporaryDirectory() as workdir:
        config = mock.connector_config(rate_limit_reserve=0)
        catalog = {
            "streams": [
                {
                    "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "overwrite",
                }
                for name in STREAMS
            ]
        }
        (Path(workdir) / "config.json").write_text(json.dumps(config))
        (Path(workdir) / "catalog.json").write_text(json.dumps(catalog))
        started = time.perf_counter()
        process = subprocess.Popen(
            [*CONNECTOR, "read", "--config", f"{workdir}/config.json", "--catalog", f"{workdir}/catalog.json"],
            stdout=subprocess.PIPE,
        )
        records = sum(1 for line in process.stdout if line.startswith(b'{"type":"RECORD"'))
        # wait4 gives this child's own rusage, not the maximum over every child this script has had
        _, status, usage = os.wait4(process.pid, 0)
        if status:
            raise RuntimeError(f"read exited with status {status}")
        return usage.ru_maxrss / 1024, records, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10000)
    parser.add_argument("--large", type=int, default=100000)
    args = parser.parse_args()
    figures = {}
    for orders in (args.small, args.large):
        peak, records, seconds = read_peak_rss_mb(orders)
        figures[orders] = peak
        print(f"--orders {orders}: peak RSS {peak:.0f} MB, {records} records ({', '.join(STREAMS)}) in {seconds:.0f} s")
    ratio = figures[args.large] / figures[args.small]
    print(f"ratio {args.large} / {args.small}: {ratio:.2f} (goals: ratio <= 1.10, peak <= 120 MB at 100k orders)")


if __name__ == "__main__":
    main()
