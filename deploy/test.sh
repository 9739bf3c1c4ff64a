#!/usr/bin/env bash
# Runs every test of the workspace against real servers (PostgreSQL, NATS), starting or
# installing them first when they are missing.
#
#   WHISTLE_TEST_ADMIN_URL   the PostgreSQL server tests create their databases on
#                            (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/dev-services.sh

export WHISTLE_TEST_ADMIN_URL=${WHISTLE_TEST_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# Every test makes a database of its own (whistle_t_*); drop the ones earlier runs left.
# Without FORCE: a database another test run is still using stays.
leftovers=$(psql "$WHISTLE_TEST_ADMIN_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'whistle\_t\_%'" 2>/dev/null || true)
for db in $leftovers; do
    psql "$WHISTLE_TEST_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
done

if cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doctests; run them first so its summary is the last word.
    cargo test --workspace --locked --doc --quiet
    cargo nextest run --workspace --locked --no-fail-fast "$@"
else
    cargo test --workspace --locked --no-fail-fast "$@"
fi
