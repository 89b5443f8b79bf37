#!/usr/bin/env bash
# Debian packages the tests use: Chromium (browser tests) and Korean fonts for screenshots.
# PostgreSQL is installed and started by scripts/postgres.sh (CI's second pass).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s fonts-nanum >/dev/null 2>&1 || need+=(fonts-nanum)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ]; then
  echo "missing Debian packages: ${need[*]} (run as root to install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
