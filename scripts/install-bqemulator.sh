#!/usr/bin/env bash
# Install the BigQuery emulator (bqemulator from PyPI) into its OWN venv.
#
# numpy is installed too: bqemulator 1.4.0 registers numpy-backed DuckDB UDFs at start-up but does
# not declare it.
#
# It must not live in the test venv: it registers a pytest plugin that imports testcontainers and
# breaks every test run. The BigQuery tests start it from this venv (see
# tests/connectors/bigquery/conftest.py). Idempotent: re-running only re-checks the pinned version.
#
# Usage: scripts/install-bqemulator.sh [VENV_DIR]
#   VENV_DIR defaults to $HEADWATER_BQEMULATOR_VENV, else <repo>/.venv-bqemulator.
#   PYTHON selects the interpreter that creates the venv (default: python3).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-${HEADWATER_BQEMULATOR_VENV:-$repo_root/.venv-bqemulator}}"
version="${BQEMULATOR_VERSION:-1.4.0}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
if "$venv/bin/python" -c "import importlib.metadata as m, sys; import numpy; sys.exit(m.version('bqemulator') != '$version')" 2>/dev/null; then
    echo "bqemulator $version already installed in $venv"
    exit 0
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "bqemulator==$version" numpy
echo "bqemulator $version installed in $venv"
