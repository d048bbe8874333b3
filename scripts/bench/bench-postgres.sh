#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for benchmarks, configured with the repository's production
# settings (postgresql/postgresql.conf: autovacuum, WAL, memory, JIT off), so figures do not depend
# on how the machine's own PostgreSQL is tuned (CI machines may run it with autovacuum off, which
# makes long runs degrade as tables bloat).
#
#   url=$(scripts/bench/bench-postgres.sh start DIR)   # prints the admin URL (trust, 127.0.0.1)
#   scripts/bench/bench-postgres.sh stop DIR
#
# DIR must not exist yet for `start`. Only the connection settings are overridden: port, listen
# address, socket directory, and trust authentication for this local, throwaway cluster (the
# shipped pg_hba.conf requires SCRAM passwords).
set -euo pipefail
# The load mixes every tool, memory and admin included, whatever the default profile lists.
export SCS_TOOLS=${SCS_TOOLS:-all}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
action=${1:?usage: bench-postgres.sh start|stop DIR}
dir=${2:?usage: bench-postgres.sh start|stop DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "bench-postgres: no initdb under /usr/lib/postgresql (run scripts/ensure-postgres.sh first)" >&2; exit 1; }
# PostgreSQL refuses to run as root: run its programs as the postgres user then.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$action" in
start)
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust --data-checksums >/dev/null
    conf=$(realpath postgresql/postgresql.conf)
    cp "$conf" "$dir/production.conf"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/production.conf"
    # initdb's file first, then the production settings, then what a local throwaway cluster needs.
    cat >>"$dir/data/postgresql.conf" <<EOF
include '$dir/production.conf'
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
archive_mode = off
EOF
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: bench-postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
