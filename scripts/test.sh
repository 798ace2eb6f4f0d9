#!/usr/bin/env bash
# Install everything the tests need (venv, PostgreSQL, Redis, the BigQuery emulator) and run the whole suite.
source "$(dirname "$0")/_env.sh"
bash scripts/services.sh
if [ -f scripts/install-bqemulator.sh ]; then
  bash scripts/install-bqemulator.sh
fi
.venv/bin/ruff check src tests bench
.venv/bin/mypy
# Compiled once here: with PYTHONDONTWRITEBYTECODE set, each of the suite's many server, worker and
# CLI processes would otherwise compile Headwater's sources again as it imports them.
.venv/bin/python -m compileall -q -j 0 src > /dev/null
# The slowest tests are listed at the end, so the suite's time can be watched and trimmed where it goes.
exec .venv/bin/python -m pytest -q --durations=30 "$@"
