#!/usr/bin/env bash
# Make a local PostgreSQL available for ondo's PostgreSQL test pass, and print the URL to use.
#
#   url="$(bash scripts/postgres.sh)"; ONDO_TEST_PG_URL="$url" .venv/bin/python -m pytest ...
#   bash scripts/postgres.sh --fresh     # throw the test cluster away and start an empty one (CI)
#   bash scripts/postgres.sh --stop      # stop the test cluster
#
# The server is a throwaway cluster this script owns, in its own data directory
# (${ONDO_PG_DATA:-/var/tmp/ondo-pg}) on 127.0.0.1:${ONDO_PG_PORT:-54329}, never the machine's own
# Debian cluster: its databases are test scratch, so it runs with fsync off, and a data directory
# that will not start (a killed run, a machine image copied mid-write) is wiped and created again
# instead of being recovered. The Debian `postgresql` package is installed only when missing.
# Progress goes to stderr; stdout is exactly the URL.
set -euo pipefail

PORT="${ONDO_PG_PORT:-54329}"
DATA="${ONDO_PG_DATA:-/var/tmp/ondo-pg}"
ROLE="${ONDO_PG_USER:-ondo}"
PASSWORD="${ONDO_PG_PASSWORD:-ondo}"
DB="${ONDO_PG_DB:-ondo}"
URL="postgresql+psycopg://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/${DB}"
MODE="${1:-}"

log() { echo "postgres.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" = "0" ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
    log "need root (or passwordless sudo) to run: $*"; exit 1
  fi
}

# The cluster runs as `postgres` when this script runs as root (PostgreSQL refuses root), else as the caller.
as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# 1. the server binaries
if [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  log "installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  as_root apt-get install -y -qq postgresql >/dev/null
fi
BIN="/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -1)/bin"

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; }
stop() {
  if [ -f "$DATA/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  fi
}

if [ "$MODE" = "--stop" ]; then stop; exit 0; fi
if [ "$MODE" = "--fresh" ]; then stop; rm -rf "$DATA"; fi
if [ -n "$MODE" ] && [ "$MODE" != "--fresh" ]; then log "unknown option: $MODE (use --fresh or --stop)"; exit 2; fi

init_cluster() {
  log "creating a test cluster in ${DATA}"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  if [ "$(id -u)" = "0" ]; then chown postgres: "$DATA"; fi
  chmod 700 "$DATA"
  local pwfile
  pwfile="$(mktemp)"
  echo "$PASSWORD" >"$pwfile"
  if [ "$(id -u)" = "0" ]; then chown postgres: "$pwfile"; fi
  as_owner "$BIN/initdb" -D "$DATA" -U "$ROLE" --pwfile="$pwfile" --auth=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  cat >>"$DATA/postgresql.conf" <<EOF
# ondo test cluster: scratch data, so durability is traded for speed
listen_addresses = '127.0.0.1'
port = ${PORT}
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
}

start() {
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 120 start >/dev/null 2>&1
}

# 2. a running cluster on PORT
if ! ready; then
  [ -f "$DATA/PG_VERSION" ] || init_cluster
  log "starting the test cluster in ${DATA} on 127.0.0.1:${PORT}"
  if ! start; then
    log "the test cluster did not start (see ${DATA}/server.log); creating it again"
    stop
    init_cluster
    start || { log "PostgreSQL did not come up on 127.0.0.1:${PORT}; see ${DATA}/server.log"; exit 1; }
  fi
fi

# 3. the database the URL names (the role is the cluster's superuser, so tests may create databases)
export PGPASSWORD="$PASSWORD"
psql_admin() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres "$@"; }
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" != "1" ]; then
  log "creating database ${DB}"
  psql_admin -c "CREATE DATABASE \"${DB}\""
fi
# Databases a killed test run left behind (a finished run drops its own).
for name in $(psql_admin -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'ondo\_test\_%' OR datname LIKE 'ondo\_tpl\_%'"); do
  psql_admin -c "DROP DATABASE IF EXISTS \"${name}\"" || true
done

echo "$URL"
