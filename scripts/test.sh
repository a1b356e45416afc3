#!/usr/bin/env bash
# Runs the whole suite: lint, types, layer contracts, then pytest against SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports
exec .venv/bin/pytest "$@"
