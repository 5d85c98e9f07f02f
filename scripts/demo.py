"""The main job: sync a seeded mock Brightpearl account into a local DuckDB file with PyAirbyte.

Starts `brightpearl-mock` on a free loopback port (with the real 200 calls/min budget), runs
`source-brightpearl` through PyAirbyte's `local_executable` path into PyAirbyte's DuckDB cache, then
prints one row per stream with its row count and how to query the file.

    python scripts/demo.py [--orders 2000] [--db .demo/brightpearl.duckdb]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

# PyAirbyte must not look for Airbyte's online registry or send telemetry: this demo is offline.
os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
warnings.filterwarnings("ignore", category=FutureWarning)

import airbyte  # noqa: E402
from airbyte.caches import DuckDBCache  # noqa: E402

from mock_server.testing import MockServer  # noqa: E402

SCHEMA = "main"


def connector_executable() -> str:
    """The `source-brightpearl` script installed beside this interpreter."""
    beside = Path(sys.executable).with_name("source-brightpearl")
    found = str(beside) if beside.exists() else shutil.which("source-brightpearl")
    if not found:
        sys.exit("source-brightpearl is not installed: run `pip install -e '.[demo]'` first")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="size of the seeded mock account")
    parser.add_argument("--db", type=Path, default=Path(".demo/brightpearl.duckdb"), help="DuckDB file to write")
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    for stale in args.db.parent.glob(args.db.name + "*"):
        stale.unlink()

    print(f"Starting the mock Brightpearl account 'acme' with {args.orders} orders...", flush=True)
    with MockServer(orders=args.orders, rate_limit=200) as mock:
        source = airbyte.get_source(
            "source-brightpearl", config=mock.connector_config(), local_executable=connector_executable()
        )
        source.check()
        source.select_all_streams()
        started = time.perf_counter()
        result = source.read(cache=DuckDBCache(db_path=args.db, schema_name=SCHEMA), force_full_refresh=True)
        elapsed = time.perf_counter() - started
        calls = mock.stats()["total"]

    counts = {name: len(dataset) for name, dataset in result.streams.items()}
    width = max(map(len, counts))
    print(f"\nSynced {sum(counts.values())} rows in {elapsed:.0f} s with {calls} API calls into {args.db}:\n")
    print(f"  {'stream':<{width}}  rows")
    for name, count in counts.items():
        print(f"  {name:<{width}}  {count}")
    example = f"SELECT ordertypecode, count(*) AS orders FROM {SCHEMA}.orders GROUP BY 1"
    print(
        f"\nQuery it, e.g.:\n  .venv/bin/python -c \"import duckdb; db = duckdb.connect('{args.db}', "
        f"read_only=True); db.sql('{example}').show()\""
    )


if __name__ == "__main__":
    main()
