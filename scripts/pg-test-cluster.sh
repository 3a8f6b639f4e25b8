#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests: a temp dir, a free port on 127.0.0.1, a random
# superuser password (in the exported URL: do not print it), no durability (fsync off: it is
# deleted afterwards). PG_DURABLE=1 keeps PostgreSQL's durable defaults (fsync,
# synchronous_commit) for benchmarks.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # exports SLT_TEST_POSTGRES_URL, SLT_PG_CLUSTER_DIR,
#                                                # SLT_PG_BIN_DIR (its initdb, pg_ctl, psql)
#   scripts/pg-test-cluster.sh stop "$SLT_PG_CLUSTER_DIR"
#
# PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user (runuser).
# Fails (exit 1, a message on stderr) when PostgreSQL is not installed: a missing PostgreSQL is
# an error, never a silent skip. A start that fails stops what it started and removes its dir.
set -euo pipefail

# The directory holding initdb, pg_ctl and postgres of ONE installation (15 preferred), so the
# three never come from different major versions.
find_bin_dir() {
  local dir
  if command -v initdb >/dev/null 2>&1; then
    dir=$(dirname "$(readlink -f "$(command -v initdb)")")
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return; fi
  fi
  for dir in /usr/lib/postgresql/15/bin /usr/pgsql-15/bin /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"; return
    fi
  done
  echo "pg-test-cluster: PostgreSQL not found (initdb, pg_ctl and postgres of one installation;" \
    "install PostgreSQL 15, e.g. apt-get install postgresql-15)" >&2
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
    bin=$(find_bin_dir)
    if [ "$(id -u)" = 0 ]; then
      # PostgreSQL refuses to run as root.
      command -v runuser >/dev/null 2>&1 \
        || { echo "pg-test-cluster: running as root needs runuser (util-linux)" >&2; exit 1; }
      id postgres >/dev/null 2>&1 \
        || { echo "pg-test-cluster: running as root needs a 'postgres' user to run the cluster" >&2; exit 1; }
    fi
    # As root, the cluster's owner must reach the dir: /tmp, not a private $TMPDIR.
    if [ "$(id -u)" = 0 ]; then dir=$(mktemp -d -p /tmp slt-pg.XXXXXX); else dir=$(mktemp -d -t slt-pg.XXXXXX); fi
    started=0
    # On any failure from here: stop what was started and remove the dir (the caller gets
    # nothing to clean up).
    cleanup_on_failure() {
      local status=$?
      if [ "$status" != 0 ]; then
        if [ "$started" = 1 ] || [ -f "$dir/data/postmaster.pid" ]; then
          as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
      fi
    }
    trap cleanup_on_failure EXIT
    trap 'exit 130' INT TERM
    # Owner-only: the socket dir of a trust-auth superuser is not for other local users.
    chmod 700 "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    # A random superuser password (scram over TCP; peer on the owner-only socket): with trust
    # auth any local user of a shared machine could connect as superuser (and run programs as
    # the cluster's owner with COPY ... TO PROGRAM).
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    printf '%s\n' "$password" >"$dir/pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pwfile"; fi
    chmod 600 "$dir/pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      --pwfile="$dir/pwfile" --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if [ "${PG_DURABLE:-0}" = 1 ]; then durability=""; fi
    # The free port can be taken by someone else before the server binds it: try a few.
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      started=1
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
        "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=400 $durability" \
        >/dev/null 2>&1; then
        break
      fi
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
      started=0
      if [ "$attempt" = 5 ]; then cat "$dir/server.log" >&2; exit 1; fi
    done
    echo "export SLT_PG_CLUSTER_DIR=$dir"
    echo "export SLT_PG_BIN_DIR=$bin"
    echo "export SLT_TEST_POSTGRES_URL=postgres://postgres:$password@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?usage: pg-test-cluster.sh stop DIR}
    bin=$(find_bin_dir)
    if [ -d "$dir/data" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    case "$dir" in */slt-pg.*) rm -rf "$dir" ;; esac
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
