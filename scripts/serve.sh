#!/usr/bin/env bash
# Install Headwater into .venv and start it on embedded defaults:
# SQLite metadata and a local Iceberg warehouse under ./headwater-data, API on 127.0.0.1:8080.
source "$(dirname "$0")/_env.sh"
exec .venv/bin/headwater serve "$@"
