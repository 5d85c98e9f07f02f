"""Records per second of a connector `read` of `orders` (rate limit off) against a bare `requests` + `orjson`
loop fetching the same search pages and ID-set GETs from the same mock in the same run, and writing one
JSON line per record as any connector must; the whole `read` process beside the 2020 Singer tap's
figures (issue 18); and the connector's start-up time (`spec`).

    python bench/throughput.py [--orders 10000] [--spec-runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import requests

from mock_server.idsets import format_id_set
from mock_server.testing import MockServer

CONNECTOR = [sys.executable, "-c", "from source_brightpearl.run import run; run()"]
SEARCH_PAGE = 500
ID_SET = 200
# The whole-process time of a read of orders by a 2020 Singer tap for Brightpearl (plain `requests`,
# stdlib `json`, the same 200-ID GETs), measured beside this connector on one mock (issue 18);
# the goals: faster at 10k orders, 1.5x faster at 100k.
SINGER_TAP_SECONDS = {10000: 3.7, 100000: 37.0}
SINGER_TAP_SPEED_UP_GOAL = {10000: "> 1.00x", 100000: ">= 1.50x"}


def connector_read(mock: MockServer, workdir: Path) -> tuple[int, float, float, float]:
    """Records, the wall time of the whole `read` process, that of the read after start-up, and the
    process's CPU time (user + system: steadier than wall times on a shared machine)."""
    config = mock.connector_config(rate_limit_reserve=0)
    catalog = {
        "streams": [
            {
                "stream": {"name": "orders", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            }
        ]
    }
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    started = time.perf_counter()
    process = subprocess.Popen(
        [*CONNECTOR, "read", "--config", str(workdir / "config.json"), "--catalog", str(workdir / "catalog.json")],
        stdout=subprocess.PIPE,
    )
    records, first_message_at = 0, None
    for line in process.stdout:
        # The first message (the stream's STARTED status) comes once the source is built and before
        # its first request: what follows is the read itself.
        first_message_at = first_message_at or time.perf_counter()
        records += line.startswith(b'{"type":"RECORD"')
    # wait4 gives this child's own rusage, not the sum over every child this script has had
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise RuntimeError(f"read exited with status {status}")
    finished = time.perf_counter()
    return records, finished - started, finished - first_message_at, usage.ru_utime + usage.ru_stime


def bare_loop(mock: MockServer) -> tuple[int, float, float]:
    """The same requests the connector sends for a full read of orders (search pages of IDs, then ID
    sets), each record written as one JSON line of an Airbyte RECORD message (to /dev/null: what
    reads the connector's stdout is not the connector's cost either); records, wall and CPU time."""
    session, headers = requests.Session(), mock.auth_headers()
    with open(os.devnull, "wb") as output:
        started, cpu_started = time.perf_counter(), time.process_time()
        ids, first = [], 1
        while True:
            page = orjson.loads(
                session.get(
                    mock.api_url("order-service/order-search"),
                    headers=headers,
                    params={"pageSize": SEARCH_PAGE, "firstResult": first, "columns": "orderId"},
                ).content
            )
            ids += [row[0] for row in page["response"]["results"]]
            if not page["response"]["metaData"]["morePagesAvailable"]:
                break
            first += SEARCH_PAGE
        records = 0
        for start in range(0, len(ids), ID_SET):
            id_set = format_id_set(ids[start : start + ID_SET])
            body = orjson.loads(session.get(mock.api_url(f"order-service/order/{id_set}"), headers=headers).content)
            for order in body["response"]:
                message = {"stream": "orders", "data": order, "emitted_at": time.time_ns() // 1_000_000}
                output.write(orjson.dumps({"type": "RECORD", "record": message}) + b"\n")
                records += 1
        return records, time.perf_counter() - started, time.process_time() - cpu_started


def spec_startup(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*CONNECTOR, "spec"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--spec-runs", type=int, default=5)
    args = parser.parse_args()
    # Seeding 100k orders takes about 45 s alone, longer on a busy machine.
    with (
        MockServer(orders=args.orders, rate_limit=0, startup_timeout=600) as mock,
        tempfile.TemporaryDirectory() as workdir,
    ):
        bare_loop(mock)  # warm the mock's caches so neither side pays for them
        mock.reset_stats()
        connector_records, process_seconds, connector_seconds, connector_cpu = connector_read(mock, Path(workdir))
        connector_calls = mock.stats()["total"]
        mock.reset_stats()
        bare_records, bare_seconds, bare_cpu = bare_loop(mock)
        bare_calls = mock.stats()["total"]
    startup = spec_startup(args.spec_runs)
    connector_rate, bare_rate = connector_records / connector_seconds, bare_records / bare_seconds
    print(f"orders: {args.orders}, rate limit off")
    print(
        f"connector read : {connector_records} records in {connector_seconds:.2f} s = {connector_rate:,.0f} records/s"
        f" ({connector_calls} calls; from its first message, after start-up)"
    )
    print(
        f"connector total: {process_seconds:.2f} s = {connector_records / process_seconds:,.0f} records/s"
        " (the whole process, start-up included)"
    )
    print(
        f"bare loop      : {bare_records} records in {bare_seconds:.2f} s = {bare_rate:,.0f} records/s"
        f" ({bare_calls} calls)"
    )
    print(f"ratio connector / bare: {connector_rate / bare_rate:.2f} (goal >= 0.5)")
    print(
        f"CPU (user + sys): connector process {connector_cpu:.2f} s, bare loop {bare_cpu:.2f} s "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    if args.orders in SINGER_TAP_SECONDS:
        tap_seconds, speed_up_goal = SINGER_TAP_SECONDS[args.orders], SINGER_TAP_SPEED_UP_GOAL[args.orders]
        print(
            f"whole read process vs the 2020 Singer tap: {process_seconds:.2f} s vs {tap_seconds:.1f} s "
            f"(its figure from issue 18) = {tap_seconds / process_seconds:.2f}x faster (goal {speed_up_goal})"
        )
    print(
        f"start-up (spec, {args.spec_runs} runs): median {statistics.median(startup):.2f} s, min {min(startup):.2f} s"
    )


if __name__ == "__main__":
    main()
