#!/usr/bin/env bash
# ensure-postgres.sh — make a PostgreSQL server reachable for the test suite.
#
# On success prints exactly one line on stdout: the admin URL
#     postgres://postgres@127.0.0.1:5432/postgres
# (or $SCS_TEST_POSTGRES_URL when that is set). Everything else goes to stderr.
#
# What it does, in order, stopping as soon as the server is usable:
#   1. SCS_TEST_POSTGRES_URL set      -> only verify it (select 1, pg_trgm) and print it.
#   2. server already answers on 127.0.0.1:5432 with trust auth -> nothing to do.
#   3. no server binaries              -> apt-get install postgresql postgresql-contrib.
#   4. no cluster on port 5432         -> pg_createcluster <ver> main --port=5432 with
#                                         trust auth for local and host connections.
#   5. cluster not running             -> pg_ctlcluster --skip-systemctl-redirect ... start
#                                         (no systemd on the CI machines).
#   6. wait up to 30 s for readiness.
#   7. TCP login refused by auth       -> prepend trust rules for 127.0.0.1/32 and ::1/128
#                                         to that cluster's pg_hba.conf and reload.
#   8. check that the pg_trgm extension is available.
#
# Steps 3-7 change the machine; they need root (CI and the dev machines run as root).
set -euo pipefail

# Keep stdout clean: everything goes to stderr, the final URL goes to fd 3.
exec 3>&1 1>&2

readonly PG_HOST=127.0.0.1
readonly PG_PORT=5432
readonly ADMIN_URL="postgres://postgres@${PG_HOST}:${PG_PORT}/postgres"
readonly READY_TIMEOUT=30
readonly HBA_MARKER="# added by shared-context-server scripts/ensure-postgres.sh: trust TCP logins from localhost (tests)"

log() { printf 'ensure-postgres: %s\n' "$*" >&2; }
die() {
    printf 'ensure-postgres: ERROR: %s\n' "$*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command that may leave a daemon behind (postgres, started by
# pg_ctlcluster or by a package's postinst) with every file descriptor above 2
# closed and stdin from /dev/null. Otherwise the daemon inherits fd 3 (our
# caller's $(...) pipe) or a CI runner's pipe and keeps it open forever, and
# whoever reads that pipe hangs.
detached() {
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
        done
        exec "$@" </dev/null
    )
}

need_root() {
    is_root || die "$1 needs root; re-run as root (or start PostgreSQL yourself and set SCS_TEST_POSTGRES_URL)"
}

apt_updated=0
apt_install() {
    need_root "installing $*"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand (this script knows only Debian/Ubuntu)"
    if [ "$apt_updated" -eq 0 ]; then
        log "running apt-get update"
        detached apt-get update || die "apt-get update failed"
        apt_updated=1
    fi
    log "running apt-get install -y $*"
    export DEBIAN_FRONTEND=noninteractive
    detached apt-get install -y --no-install-recommends "$@" ||
        die "apt-get install $* failed"
}

# try_sql URL SQL: run SQL once, without ever prompting for a password.
# Sets SQL_OUT (stdout) and SQL_ERR (stderr); returns psql's exit code.
SQL_OUT=""
SQL_ERR=""
try_sql() {
    local url=$1 sql=$2 errf rc=0
    errf=$(mktemp)
    SQL_OUT=$(PGCONNECT_TIMEOUT=5 psql -w -X -q -A -t -v ON_ERROR_STOP=1 -d "$url" -c "$sql" 2>"$errf" </dev/null) || rc=$?
    SQL_ERR=$(cat "$errf")
    rm -f "$errf"
    return "$rc"
}

# Hide the password (if any) when printing a URL.
redact() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

check_pg_trgm() {
    local url=$1
    try_sql "$url" "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'" ||
        die "could not query pg_available_extensions on $(redact "$url"): $SQL_ERR"
    if [ "$SQL_OUT" = "1" ]; then
        return 0
    fi
    # On Debian 12 pg_trgm ships in postgresql-<ver> itself (it Provides
    # postgresql-contrib-<ver>); a missing one means a non-Debian or stripped
    # install. Installing postgresql-contrib is worth one try when we own the server.
    if [ "$url" = "$ADMIN_URL" ] && is_root && command -v apt-get >/dev/null 2>&1; then
        log "extension pg_trgm is not available; trying to install postgresql-contrib"
        apt_install postgresql-contrib
        try_sql "$url" "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'" ||
            die "could not query pg_available_extensions: $SQL_ERR"
        [ "$SQL_OUT" = "1" ] && return 0
    fi
    die "the PostgreSQL server at $(redact "$url") has no pg_trgm extension available (pg_available_extensions); install the server's contrib modules (Debian: package postgresql-contrib / postgresql-<version>)"
}

done_ok() {
    check_pg_trgm "$1"
    log "PostgreSQL is ready at $(redact "$1")"
    printf '%s\n' "$1" >&3
    exit 0
}

# ---------------------------------------------------------------------------
# 1. Explicit URL: verify only, never touch the machine.
if [ -n "${SCS_TEST_POSTGRES_URL:-}" ]; then
    url=$SCS_TEST_POSTGRES_URL
    command -v psql >/dev/null 2>&1 || apt_install postgresql-client
    log "SCS_TEST_POSTGRES_URL is set; checking $(redact "$url")"
    deadline=$((SECONDS + READY_TIMEOUT))
    until try_sql "$url" 'select 1'; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "cannot connect to SCS_TEST_POSTGRES_URL=$(redact "$url") within ${READY_TIMEOUT}s: $SQL_ERR"
        fi
        sleep 1
    done
    done_ok "$url"
fi

# ---------------------------------------------------------------------------
# 2. Already fine?
if command -v pg_isready >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 &&
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 5 && try_sql "$ADMIN_URL" 'select 1'; then
    done_ok "$ADMIN_URL"
fi
log "no usable PostgreSQL at ${PG_HOST}:${PG_PORT} yet; setting one up"

# ---------------------------------------------------------------------------
# 3. Server binaries and the Debian cluster tools.
have_server_binaries() {
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}
if ! have_server_binaries || ! command -v pg_lsclusters >/dev/null 2>&1 ||
    ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    apt_install postgresql postgresql-contrib
fi
have_server_binaries || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin even after installing"

# Newest installed major version.
newest_version() {
    local d v best=""
    for d in /usr/lib/postgresql/*/bin/postgres; do
        v=${d#/usr/lib/postgresql/}
        v=${v%%/*}
        if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1)" = "$v" ]; then
            best=$v
        fi
    done
    printf '%s' "$best"
}

# Prints "ver name status logfile" of the cluster configured for $PG_PORT, if any.
# pg_lsclusters -h columns: Ver Cluster Port Status Owner DataDir LogFile
cluster_on_port() {
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2, $4, $7; exit }'
}

# ---------------------------------------------------------------------------
# 4. A cluster on port 5432.
info=$(cluster_on_port)
if [ -z "$info" ]; then
    need_root "creating a PostgreSQL cluster"
    ver=$(newest_version)
    name=main
    if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
        name=scs_test # "main" exists but on another port; keep it and add ours
    fi
    existing=$(pg_lsclusters -h 2>/dev/null || true)
    if [ -n "$existing" ]; then
        log "existing clusters (none on port $PG_PORT):"
        printf '%s\n' "$existing" >&2
    fi
    log "creating cluster $ver/$name on port $PG_PORT with trust auth (local and host)"
    # Options before the version/name are pg_createcluster's; after "--" initdb's.
    # With explicit --auth-* pg_createcluster leaves initdb's pg_hba.conf as is.
    # C.UTF-8 always exists on Debian, whatever LANG says.
    detached pg_createcluster --port="$PG_PORT" --locale=C.UTF-8 --start-conf=auto "$ver" "$name" -- \
        --auth-local=trust --auth-host=trust ||
        die "pg_createcluster $ver $name failed"
    info=$(cluster_on_port)
    [ -n "$info" ] || die "created cluster $ver/$name but pg_lsclusters shows no cluster on port $PG_PORT"
fi
read -r ver name status logfile <<<"$info"
log "using cluster $ver/$name (status: $status, log: $logfile)"

# ---------------------------------------------------------------------------
# 5. Start it (no systemd here: skip the systemctl redirect).
show_log_tail() {
    if [ -n "${logfile:-}" ] && [ -r "$logfile" ]; then
        log "last lines of $logfile:"
        tail -n 20 "$logfile" >&2 || true
    fi
}
if ! pg_ctlcluster "$ver" "$name" status >/dev/null 2>&1; then
    need_root "starting PostgreSQL cluster $ver/$name"
    # The socket directory lives on /run, which may be fresh after a reboot.
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql 2>/dev/null || true
    log "starting cluster $ver/$name: pg_ctlcluster --skip-systemctl-redirect $ver $name start"
    if ! detached pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start; then
        show_log_tail
        die "pg_ctlcluster could not start cluster $ver/$name"
    fi
fi

# ---------------------------------------------------------------------------
# 6. Wait for readiness.
deadline=$((SECONDS + READY_TIMEOUT))
until pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        show_log_tail
        die "PostgreSQL cluster $ver/$name is not accepting TCP connections on ${PG_HOST}:${PG_PORT} after ${READY_TIMEOUT}s (check listen_addresses in /etc/postgresql/$ver/$name/postgresql.conf)"
    fi
    sleep 1
done

# ---------------------------------------------------------------------------
# 7. Log in over TCP; fix pg_hba.conf if authentication is what stops us.
is_auth_error() {
    case $1 in
    *"password authentication failed"* | *"no password supplied"* | *"pg_hba.conf"* | \
        *"authentication failed"* | *"password is required"*) return 0 ;;
    *) return 1 ;;
    esac
}

hba_file() {
    local f
    f=$(pg_conftool -s "$ver" "$name" show hba_file 2>/dev/null || true)
    f=${f//\'/}
    [ -n "$f" ] || f=/etc/postgresql/$ver/$name/pg_hba.conf
    printf '%s' "$f"
}

add_trust_rules() {
    local hba tmp
    need_root "editing pg_hba.conf"
    hba=$(hba_file)
    [ -f "$hba" ] || die "pg_hba.conf of cluster $ver/$name not found at $hba"
    if grep -qF "$HBA_MARKER" "$hba"; then
        die "TCP login as postgres is refused although $hba already has this script's trust rules; look at $hba by hand"
    fi
    log "TCP login as postgres was refused by authentication; adding trust rules for 127.0.0.1/32 and ::1/128 at the top of the rules in $hba"
    cp -p "$hba" "$hba.scs-backup" || die "cannot back up $hba"
    tmp=$(mktemp)
    # Insert before the first rule (first line that is neither blank nor a comment),
    # so they take precedence; at the end if the file has no rule at all.
    awk -v marker="$HBA_MARKER" '
        function rules() {
            print marker
            print "host    all             all             127.0.0.1/32            trust"
            print "host    all             all             ::1/128                 trust"
            done = 1
        }
        !done && $0 !~ /^[[:space:]]*(#|$)/ { rules() }
        { print }
        END { if (!done) rules() }
    ' "$hba" >"$tmp" || die "cannot rewrite $hba"
    cat "$tmp" >"$hba" # keeps owner and mode of the original
    rm -f "$tmp"
    log "backup of the previous file: $hba.scs-backup; reloading cluster $ver/$name"
    detached pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload || die "reload of cluster $ver/$name failed"
}

if ! try_sql "$ADMIN_URL" 'select 1'; then
    if is_auth_error "$SQL_ERR"; then
        log "psql said: $SQL_ERR"
        add_trust_rules
        deadline=$((SECONDS + 10))
        until try_sql "$ADMIN_URL" 'select 1'; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                die "still cannot log in as postgres over TCP after editing pg_hba.conf: $SQL_ERR"
            fi
            sleep 1
        done
    else
        show_log_tail
        die "cannot connect to $ADMIN_URL: $SQL_ERR"
    fi
fi

# ---------------------------------------------------------------------------
# 8. pg_trgm, then print the URL.
done_ok "$ADMIN_URL"
