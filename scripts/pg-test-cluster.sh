#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests: a temp dir, a free port on 127.0.0.1, trust
# auth on loopback only, no durability (fsync off: it is deleted afterwards). PG_DURABLE=1 keeps
# PostgreSQL's durable defaults (fsync, synchronous_commit) for benchmarks.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # exports SLT_TEST_POSTGRES_URL, SLT_PG_CLUSTER_DIR
#   scripts/pg-test-cluster.sh stop "$SLT_PG_CLUSTER_DIR"
#
# PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user (runuser).
# Fails (exit 1, a message on stderr) when PostgreSQL is not installed: a missing PostgreSQL is
# an error, never a silent skip.
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for dir in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    if [ -x "$dir/$name" ]; then echo "$dir/$name"; return; fi
  done
  echo "pg-test-cluster: '$name' not found (install PostgreSQL 15: initdb, pg_ctl, postgres)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-}" in
  start)
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    dir=$(mktemp -d -t slt-pg.XXXXXX)
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    as_owner "$initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if [ "${PG_DURABLE:-0}" = 1 ]; then durability=""; fi
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
      "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=400 $durability" \
      >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "export SLT_PG_CLUSTER_DIR=$dir"
    echo "export SLT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?usage: pg-test-cluster.sh stop DIR}
    pg_ctl=$(find_bin pg_ctl)
    if [ -d "$dir/data" ]; then
      as_owner "$pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    case "$dir" in */slt-pg.*) rm -rf "$dir" ;; esac
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
