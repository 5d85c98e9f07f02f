#!/usr/bin/env bash
# Fresh machine -> the whole test suite: mock server, connector unit tests, integration tests. Over two workers
# (pytest-xdist), each test module on one worker so its module fixtures start once; `-n 0` after it runs serially.
source "$(dirname "$0")/bootstrap.sh" dev
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
