#!/usr/bin/env bash
# Fresh machine -> a DuckDB file full of (mock) Brightpearl data: installs, starts the mock, syncs, reports.
source "$(dirname "$0")/bootstrap.sh" demo
exec .venv/bin/python scripts/demo.py "$@"
