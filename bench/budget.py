"""Calls, throttled answers and wall time of an incremental sync of orders, products and contacts under
Brightpearl's budget (200 calls a rolling minute, or the raised limit of `--rate-limit`), alone and with
another client drawing on the budget.

The floor is calls / limit per minute; with the default reserve of 20 the steady pace is limit - 20 a minute.
At raised limits (Brightpearl raises OAuth instance apps' on request) the connector's CPU, not the
budget, can set the pace: the ratio to the floor says which. Fewer calls than the limit fit in one rolling
minute and are never paced, so there the ratio is the connector's own speed: the pace printed beside it (calls
a minute over the whole sync) above the limit means the limit would set the pace of a longer sync.

    python bench/budget.py [--orders 10000] [--syncs 3] [--other-client-per-minute 60] [--rate-limit 2000]
                           [--runtime declarative]

`--runtime declarative` runs Airbyte's declarative runtime (`source-declarative-manifest` with the manifest and
components.py given by path, as Airbyte's low-code connectors run) instead of the package's `source-brightpearl`.
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

import requests

from mock_server.testing import MockServer

STREAMS = [("orders", "id"), ("products", "id"), ("contacts", "contactId")]
PACKAGE = Path(__file__).resolve().parent.parent / "source_brightpearl"
BRIGHTPEARL_LIMIT_PER_MINUTE = 200
RESERVE_PER_MINUTE = 20  # the connector's default rate_limit_reserve


def read_command(runtime: str) -> list[str]:
    """The `read` command of a runtime, without its --config, --catalog and --state."""
    if runtime == "package":
        return [str(Path(sys.executable).with_name("source-brightpearl")), "read"]
    return [
        str(Path(sys.executable).with_name("source-declarative-manifest")),
        "read",
        "--manifest-path",
        str(PACKAGE / "manifest.yaml"),
        "--components-path",
        str(PACKAGE / "components.py"),
    ]


def sync(mock: MockServer, workdir: Path, state: list | None, runtime: str) -> tuple[int, list]:
    config = mock.connector_config()
    catalog = {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["incremental"]},
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "cursor_field": ["updatedOn"],
                "primary_key": [[key]],
            }
            for name, key in STREAMS
        ]
    }
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    command = [
        *read_command(runtime),
        "--config",
        str(workdir / "config.json"),
        "--catalog",
        str(workdir / "catalog.json"),
    ]
    if state:
        (workdir / "state.json").write_text(json.dumps(state))
        command += ["--state", str(workdir / "state.json")]
    records, states = 0, {}
    # The declarative runtime runs the components.py it is given only with this set.
    environment = {**os.environ, "AIRBYTE_ENABLE_UNSAFE_CODE": "true"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment) as process:
        for line in process.stdout:
            if line.startswith('{"type":"RECORD"'):
                records += 1
            elif line.startswith('{"type":"STATE"'):
                message = json.loads(line)["state"]
                states[message["stream"]["stream_descriptor"]["name"]] = message
    return records, list(states.values())


def other_client(mock: MockServer, per_minute: int, stop: threading.Event, counts: dict) -> None:
    """Another app on the account: `per_minute` calls a minute, evenly spread."""
    session = requests.Session()
    while not stop.wait(60 / per_minute):
        response = session.get(mock.api_url("order-service/order-status"), headers=mock.auth_headers(), timeout=30)
        counts[response.status_code] = counts.get(response.status_code, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--syncs", type=int, default=3, help="first syncs run back to back, each from scratch")
    parser.add_argument("--other-client-per-minute", type=int, default=0)
    parser.add_argument("--runtime", choices=["package", "declarative"], default="package")
    parser.add_argument("--rate-limit", type=int, default=BRIGHTPEARL_LIMIT_PER_MINUTE, help="calls a rolling minute")
    args = parser.parse_args()
    with (
        MockServer(orders=args.orders, rate_limit=args.rate_limit, startup_timeout=300) as mock,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stop, other_counts = threading.Event(), {}
        if args.other_client_per_minute:
            threading.Thread(
                target=other_client, args=(mock, args.other_client_per_minute, stop, other_counts), daemon=True
            ).start()
        mock.reset_stats()
        started = time.perf_counter()
        records = 0
        for _ in range(args.syncs):
            synced, state = sync(mock, Path(tmp), None, args.runtime)
            records += synced
        wall = time.perf_counter() - started
        stop.set()
        routes = mock.stats()["routes"]
    connector = {route: statuses for route, statuses in routes.items() if "order-status" not in route}
    calls = sum(sum(s.values()) for s in connector.values())
    throttled = sum(s.get("503", 0) + s.get("429", 0) for s in connector.values())
    floor = calls / args.rate_limit * 60
    paced = args.rate_limit - RESERVE_PER_MINUTE
    print(
        f"{args.runtime} runtime, {args.syncs} full incremental-mode syncs, --orders {args.orders}, limit {args.rate_limit}/min, other client "
        f"{args.other_client_per_minute}/min: {records} records, {calls} connector calls, {throttled} throttled "
        f"({100 * throttled / max(calls, 1):.2f} %), wall {wall:.0f} s, floor calls/{args.rate_limit} per min "
        f"{floor:.0f} s (ratio {wall / floor:.2f}); with the reserve ({paced}/min) {calls / paced * 60:.0f} s; "
        f"pace {calls / wall * 60:.0f} calls a minute, start-up included"
    )
    if other_counts:
        print(f"other client answers: {other_counts}")


if __name__ == "__main__":
    main()
