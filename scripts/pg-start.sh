#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the MES store tests and print its SQLAlchemy URL.
#
#   export MESTWIN_PG_URL="$(scripts/pg-start.sh)"    # start (or reuse) and print the URL
#   scripts/pg-start.sh stop                           # stop it (the data stay until rm)
#
# The cluster is private to the tests: its own data directory (default /tmp/mestwin-pg),
# TCP on 127.0.0.1 only (default port 5432), its Unix socket inside that directory (mode
# 0700), no fsync (test data are disposable). It needs the server binaries (Debian package
# `postgresql`) but not systemd nor the Debian default cluster. Run as root, the server runs
# as the unprivileged `postgres` user. Safe to run twice, or twice at once: the second run
# reuses the running cluster, role and database and prints the same URL. Only the URL goes
# to stdout; progress and errors go to stderr.
#
# Settings (environment): MESTWIN_PG_DIR, MESTWIN_PG_PORT (used when the cluster is created),
# MESTWIN_PG_BIN (the folder holding initdb and pg_ctl; default: the newest installed).
set -euo pipefail

dir=${MESTWIN_PG_DIR:-/tmp/mestwin-pg}
port=${MESTWIN_PG_PORT:-5432}
db=mestwin_test
role=mestwin
password=mestwin
data=$dir/data

say() { echo "pg-start: $*" >&2; }
die() { say "$*"; exit 1; }

bin=${MESTWIN_PG_BIN:-}
if [ -z "$bin" ]; then
    bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null \
        | sort -V | tail -n 1)
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    die "no PostgreSQL server binaries (apt-get install postgresql, or set MESTWIN_PG_BIN)"
fi

# As root, run the server as `postgres`: PostgreSQL refuses to run as root.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user"
    as_owner=(runuser -u postgres --)
fi

if [ "${1:-start}" = stop ]; then
    if [ -s "$data/postmaster.pid" ]; then
        (cd / && "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -w stop -m fast >/dev/null) || true
    fi
    exit 0
fi
[ "${1:-start}" = start ] || die "usage: $0 [start|stop]"

mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
chmod 700 "$dir"
cd "$dir"

# One run at a time: a second concurrent run waits, then finds everything in place.
exec 9>"$dir/.lock"
flock 9

if [ ! -s "$data/PG_VERSION" ]; then
    say "creating cluster in $data (port $port)"
    rm -rf "$data"
    "${as_owner[@]}" "$bin/initdb" -D "$data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    "${as_owner[@]}" tee -a "$data/postgresql.conf" >/dev/null <<EOF

# mestwin test cluster (scripts/pg-start.sh): loopback only, disposable data.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
# Deliberately not UTC (and not a whole hour): the MES must not depend on the server's zone.
timezone = 'Asia/Kolkata'
EOF
fi

if "${as_owner[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "cluster in $data already running"
else
    say "starting cluster in $data"
    # 9>&-: the server must not inherit (and so hold for ever) the lock of this script.
    "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null 9>&- \
        || { tail -n 20 "$dir/server.log" >&2 || true
             die "the server did not start (port $port in use? set MESTWIN_PG_PORT and" \
                 "remove $dir to make a new cluster)"; }
fi

# The port the running server really uses (4th line of postmaster.pid).
port=$(sed -n 4p "$data/postmaster.pid")
[ -n "$port" ] || die "cannot read the server's port from $data/postmaster.pid"

psql() {
    "${as_owner[@]}" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres \
        -d postgres "$@"
}
if [ -z "$(psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" ]; then
    psql -c "CREATE ROLE $role LOGIN PASSWORD '$password'"
fi
if [ -z "$(psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    psql -c "CREATE DATABASE $db OWNER $role"
fi

echo "postgresql+psycopg://$role:$password@127.0.0.1:$port/$db"
