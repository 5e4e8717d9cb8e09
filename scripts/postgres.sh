#!/usr/bin/env bash
# PostgreSQL (Debian's packages) for the warehouse tests and `make bench`.
#   scripts/postgres.sh up      install the server once if missing, init the data dir once, start
#   scripts/postgres.sh down    stop the server this script started
#   scripts/postgres.sh status  exit 0 when a server answers on the port
#   scripts/postgres.sh url     print the SQLAlchemy URL of the test database
# Idempotent. Data under .cache/postgres (PG_HOME); port PG_PORT (55432). Runs as the
# `postgres` user when started as root (PostgreSQL refuses to run as root; CI runs as root).
# Trust authentication on 127.0.0.1 only: a throwaway test server, never a deployment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${PG_PORT:-55432}"
home="${PG_HOME:-$root/.cache/postgres}"
data="$home/data-$port"
logfile="$home/postgres-$port.log"
db="${PG_DATABASE:-territory}"

die() { echo "postgres: $*" >&2; exit 1; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

bindir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -z "$dir" ] || [ ! -x "$dir/pg_ctl" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; run: sudo apt-get install -y postgresql"
    echo "postgres: installing Debian's postgresql package (once)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
      || die "apt-get could not install postgresql"
    dir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  echo "$dir"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

up() {
  if answers; then echo "postgres: already answering on 127.0.0.1:$port"; return 0; fi
  local bin; bin="$(bindir)"
  mkdir -p "$home"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$home" postgres
    chown postgres "$home"
    # The postgres user must be able to reach the data dir through the repo's folders.
    local d="$home"; while [ "$d" != / ]; do d="$(dirname "$d")"; chmod o+x "$d" 2>/dev/null || true; done
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null \
      || die "initdb failed"
  fi
  echo "postgres: starting on 127.0.0.1:$port (log: $logfile)"
  touch "$logfile"; [ "$(id -u)" = 0 ] && chown postgres "$logfile"
  as_owner "$bin/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $data -c fsync=on -c max_connections=50" start >/dev/null \
    || { tail -20 "$logfile" >&2; die "server did not start"; }
  touch "$home/started-$port"
  as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
  echo "postgres: ready, $(url)"
}

down() {
  if [ -f "$home/started-$port" ] && [ -f "$data/postmaster.pid" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null && echo "postgres: stopped"
  else
    echo "postgres: no server started by this script on port $port"
  fi
  rm -f "$home/started-$port"
}

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$port/$db"; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers && echo "postgres: answering on 127.0.0.1:$port" || { echo "postgres: not answering on 127.0.0.1:$port"; exit 1; } ;;
  url) url ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
