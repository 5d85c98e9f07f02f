"""Peak RSS of a connector `read` of `orders` + `order_rows` at two account sizes, and their ratio
(the goals: at most 120 MB at 100k orders, and at most +10 % from the smaller to the larger).

Beside each peak: how much of the RSS was files mapped (shared libraries), sampled from /proc where there is one.
How much of a library the kernel keeps resident differs from kernel to kernel (a 13 MB library the connector no
longer loads counted 9 MB on one), so that share is what to compare first when two machines disagree.

    python bench/memory.py [--small 10000] [--large 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mock_server.testing import MockServer

CONNECTOR = [sys.executable, "-c", "from source_brightpearl.run import run; run()"]
STREAMS = ["orders", "order_rows"]


def read_peak_rss_mb(orders: int) -> tuple[float, int, float, float | None]:
    """Peak RSS (MB) of one read in a child process, the records it emitted, its wall time, and the
    file-backed RSS (MB) when the sampled RSS was highest (None without /proc)."""
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
        sampled: dict[str, float] = {}
        sampler = threading.Thread(target=sample_rss_split, args=(process, sampled), daemon=True)
        sampler.start()
        records = sum(1 for line in process.stdout if line.startswith(b'{"type":"RECORD"'))
        # wait4 gives this child's own rusage, not the maximum over every child this script has had
        _, status, usage = os.wait4(process.pid, 0)
        sampler.join(timeout=5)
        if status:
            raise RuntimeError(f"read exited with status {status}")
        file_backed = sampled["RssFile"] / 1024 if "RssFile" in sampled else None
        return usage.ru_maxrss / 1024, records, time.perf_counter() - started, file_backed


def sample_rss_split(process: subprocess.Popen, highest: dict[str, float]) -> None:
    """Every 20 ms while the process runs: its /proc status lines (kB) at the highest VmRSS seen, into `highest`."""
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                now = {
                    key: float(value.split()[0])
                    for key, _, value in (line.partition(":") for line in status)
                    if key in ("VmRSS", "RssFile")
                }
        except (OSError, ValueError, IndexError):  # no /proc (macOS), or the process just ended
            return
        if now.get("VmRSS", 0) > highest.get("VmRSS", 0):
            highest.clear()
            highest.update(now)
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10000)
    parser.add_argument("--large", type=int, default=100000)
    args = parser.parse_args()
    figures = {}
    for orders in (args.small, args.large):
        peak, records, seconds, file_backed = read_peak_rss_mb(orders)
        figures[orders] = peak
        split = f" (files mapped: {file_backed:.0f} MB at the sampled peak)" if file_backed is not None else ""
        print(
            f"--orders {orders}: peak RSS {peak:.0f} MB, {records} records ({', '.join(STREAMS)}) in {seconds:.0f} s"
            f"{split}"
        )
    ratio = figures[args.large] / figures[args.small]
    print(f"ratio {args.large} / {args.small}: {ratio:.2f} (goals: ratio <= 1.10, peak <= 120 MB at 100k orders)")


if __name__ == "__main__":
    main()
