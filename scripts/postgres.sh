#!/usr/bin/env bash
# Make a local PostgreSQL available for ondo's PostgreSQL test pass, and print the URL to use.
#
#   url="$(bash scripts/postgres.sh)"; ONDO_TEST_PG_URL="$url" .venv/bin/python -m pytest ...
#
# Idempotent: installs the Debian `postgresql` package only when missing, creates/starts a cluster
# on 127.0.0.1:${ONDO_PG_PORT:-5432} only when none is running, and creates the role and database
# only when absent. The role may create databases (the tests make one per test). Progress goes to
# stderr; stdout is exactly the URL.
set -euo pipefail

PORT="${ONDO_PG_PORT:-5432}"
ROLE="${ONDO_PG_USER:-ondo}"
PASSWORD="${ONDO_PG_PASSWORD:-ondo}"
DB="${ONDO_PG_DB:-ondo}"
URL="postgresql+psycopg://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/${DB}"

log() { echo "postgres.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" = "0" ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else
    log "need root (or passwordless sudo) to run: $*"; exit 1
  fi
}

as_postgres() {
  if [ "$(id -un)" = "postgres" ]; then "$@"; elif [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else
    sudo -n -u postgres "$@"
  fi
}

# 1. the server binaries
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  log "installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  as_root apt-get install -y -qq postgresql >/dev/null
fi
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -1)"

# 2. a running cluster on PORT
ready() { pg_isready -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; }
if ! ready; then
  cluster="$(pg_lsclusters -h | awk -v p="$PORT" '$3 == p {print $1 " " $2; exit}')"
  if [ -z "$cluster" ]; then
    log "creating cluster ${VERSION}/ondo on port ${PORT}"
    as_root pg_createcluster "$VERSION" ondo -p "$PORT" >/dev/null
    cluster="$VERSION ondo"
  fi
  read -r ver name <<<"$cluster"
  conf="/etc/postgresql/${ver}/${name}/postgresql.conf"
  if [ -f "$conf" ] && ! grep -Eq "^listen_addresses *= *'(127.0.0.1|localhost|\*)" "$conf"; then
    echo "listen_addresses = '127.0.0.1'" | as_root tee -a "$conf" >/dev/null
  fi
  log "starting cluster ${ver}/${name}"
  as_root pg_ctlcluster "$ver" "$name" start || true
  for _ in $(seq 1 60); do ready && break; sleep 0.5; done
  ready || { log "PostgreSQL did not come up on 127.0.0.1:${PORT}; see /var/log/postgresql/"; exit 1; }
fi

# 3. role and database
psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -h /var/run/postgresql -d postgres "$@"; }
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}'")" != "1" ]; then
  log "creating role ${ROLE}"
  psql_admin -c "CREATE ROLE \"${ROLE}\" LOGIN CREATEDB PASSWORD '${PASSWORD}'"
else
  psql_admin -c "ALTER ROLE \"${ROLE}\" LOGIN CREATEDB PASSWORD '${PASSWORD}'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '${DB}'")" != "1" ]; then
  log "creating database ${DB}"
  psql_admin -c "CREATE DATABASE \"${DB}\" OWNER \"${ROLE}\""
fi

echo "$URL"
