#!/usr/bin/env bash
# The project's test command: every test of the workspace on SQLite, the end-to-end suite again
# on PostgreSQL (a throwaway PostgreSQL 15 cluster started here and stopped on exit), then a
# smoke run of the real binaries in dev mode on each backend. Sets up what the tests need first
# (a Python venv with grpcio for the other-language interop test). Run from anywhere:
# `scripts/test.sh`. A missing PostgreSQL is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import grpc, grpc_tools, grpc_health, grpc_reflection, taxii2client, stix2validator" 2>/dev/null; then
  echo "== setting up $venv (grpcio, taxii2-client and stix2-validator for the interop tests)"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi
export SLT_INTEROP_PYTHON="$PWD/$venv/bin/python"

echo "== starting a throwaway PostgreSQL cluster"
unset SLT_TEST_POSTGRES_URL SLT_HUB_DATABASE_URL
cluster=$(scripts/pg-test-cluster.sh start) || { echo "PostgreSQL could not be started: failing"; exit 1; }
eval "$cluster"
trap 'scripts/pg-test-cluster.sh stop "$SLT_PG_CLUSTER_DIR"' EXIT
pg_url=$SLT_TEST_POSTGRES_URL
unset SLT_TEST_POSTGRES_URL
# The client of the same installation as the cluster (psql is not always on PATH).
psql="$SLT_PG_BIN_DIR/psql"
[ -x "$psql" ] || psql=$(command -v psql) || { echo "psql not found: failing"; exit 1; }
# The URL carries the cluster's password: print it without.
echo "   $(printf '%s' "$pg_url" | sed -E 's#://([^:/@]*):[^@]*@#://\1:***@#')"

echo "== cargo test --workspace (SQLite)"
cargo test --workspace --locked

echo "== cargo test -p slt-tests (PostgreSQL: the same end-to-end tests, plus the replica tests)"
SLT_TEST_POSTGRES_URL="$pg_url" cargo test -p slt-tests --locked

echo "== dev-mode smoke test (real binaries, SQLite)"
scripts/smoke-dev.sh

echo "== dev-mode smoke test (real binaries, PostgreSQL via SLT_HUB_DATABASE_URL)"
smoke_db="slt_smoke_$$"
smoke_url="${pg_url%/*}/$smoke_db"
"$psql" -q "$pg_url" -c "CREATE DATABASE $smoke_db"
SLT_HUB_DATABASE_URL="$smoke_url" scripts/smoke-dev.sh
stored=$("$psql" -qAt "$smoke_url" -c "SELECT count(*) FROM incidents")
if [ "$stored" -lt 1 ]; then
  echo "smoke: serve --dev did not write to PostgreSQL (SLT_HUB_DATABASE_URL ignored)"; exit 1
fi
echo "ok   serve --dev stored $stored incident(s) in PostgreSQL"
