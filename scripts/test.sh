#!/usr/bin/env bash
# Fresh machine -> the whole test suite: mock server, connector unit tests, integration tests.
source "$(dirname "$0")/bootstrap.sh" dev
exec .venv/bin/python -m pytest "$@"
