#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for the demo, the tests and the benchmarks.
#
#   scripts/pgcluster.sh start DIR PORT [postgres options...]   initdb when needed, start
#   scripts/pgcluster.sh stop DIR                               stop (fast), keep the files
#   scripts/pgcluster.sh destroy DIR                            stop and remove DIR
#
# PGBIN names the server's bin/ (default: the system's 15; scripts/postgres.sh
# gives any supported major's). PGCLUSTER_ENV adds variables to the server's
# environment (e.g. RUST_BACKTRACE=1).
#
# PostgreSQL refuses to run as root, so when we are root the server runs as the
# `postgres` user (created by Debian's postgresql package). The cluster trusts
# local connections and listens on 127.0.0.1 only: connect with
#   psql -h 127.0.0.1 -p PORT -U postgres
set -euo pipefail

PGBIN=${PGBIN:-$("$(dirname "$0")/postgres.sh" bindir "${PG:-15}")}

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        sudo -u postgres -- env ${PGCLUSTER_ENV:-} "$@"
    else
        env ${PGCLUSTER_ENV:-} "$@"
    fi
}

# Stops the server of DIR if one runs. A postmaster.pid whose server is gone
# (the machine stopped in the middle of a run) is stale: it is removed, so the
# next run starts clean instead of failing on "could not send stop signal".
stop_server() {
    local pid
    [ -f "$dir/postmaster.pid" ] || return 0
    pid=$(head -n 1 "$dir/postmaster.pid")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    else
        rm -f "$dir/postmaster.pid"
    fi
}

cmd=${1:?usage: pgcluster.sh start|stop|destroy DIR [PORT]}
dir=${2:?usage: pgcluster.sh start|stop|destroy DIR [PORT]}

case "$cmd" in
start)
    port=${3:?usage: pgcluster.sh start DIR PORT}
    shift 3
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
        as_pg "$PGBIN/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
            { cat "$dir.initdb.log" >&2; exit 1; }
    fi
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off $*" start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    stop_server
    ;;
destroy)
    stop_server
    rm -rf "$dir" "$dir.initdb.log"
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
