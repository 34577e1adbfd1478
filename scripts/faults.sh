#!/usr/bin/env bash
# `make faults`: the long crash and fault runs (pytest marker `faults`, left out of
# `make test`), on SQLite, then on PostgreSQL when
# one answers at 127.0.0.1:5432 (scripts/test.sh does the choosing and the summary).
set -u
cd "$(dirname "$0")/.."
exec bash scripts/test.sh tests/faults -m faults "$@"
