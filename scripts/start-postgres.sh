#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the `postgres` feature's tests and prints the
# connection string to use on stdout (everything else goes to stderr):
#
#     export JIRA_NOTIFIER_PG="$(scripts/start-postgres.sh)"
#
# Idempotent: a server this script already started is reused, a stopped one is started
# again. If no PostgreSQL server binaries are found, Debian's `postgresql` package is
# installed with apt-get (as root only).
#
# The server is private to the tests: its own data directory (initdb), no TCP listener, a
# Unix socket in its own directory, `trust` authentication (any local user may connect
# as the superuser `postgres`) and `fsync=off`. Never point it at data you want to keep.
# The server refuses to run as root, so when run by root it runs as the `postgres` user.
#
# Environment:
#   JIRA_NOTIFIER_PG_DIR   where the data directory, socket and log live
#                          (default: ${TMPDIR:-/tmp}/jira-notifier-pg)
#   JIRA_NOTIFIER_PG_PORT  the port number in the socket's name (default: 5432)
#
# Stop it with: pg_ctl -D "$JIRA_NOTIFIER_PG_DIR/data" stop (as the user running it).
set -euo pipefail

dir="${JIRA_NOTIFIER_PG_DIR:-${TMPDIR:-/tmp}/jira-notifier-pg}"
port="${JIRA_NOTIFIER_PG_PORT:-5432}"
data="$dir/data"
sock="$dir/socket"
logfile="$dir/server.log"
server_user=postgres

say() { echo "start-postgres: $*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

# The directory holding initdb and pg_ctl: Debian's newest version, else pg_config's, else PATH's.
find_bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir)"
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

# Runs a command as the user the server runs as.
as_server() {
    if is_root; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$server_user" -- "$@"
        else
            su -s /bin/sh "$server_user" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

if ! bindir="$(find_bindir)"; then
    if ! is_root; then
        say "no PostgreSQL server found; install Debian's postgresql package (as root) and run again"
        exit 1
    fi
    say "no PostgreSQL server found: installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
    bindir="$(find_bindir)" || {
        say "the postgresql package was installed but no server binaries were found"
        exit 1
    }
fi

if is_root && ! id "$server_user" >/dev/null 2>&1; then
    say "creating the system user $server_user"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$server_user"
fi

mkdir -p "$dir"
if is_root; then
    chown "$server_user" "$dir"
fi
# The socket directory must be reachable by the user running the tests.
chmod 755 "$dir"

if [ -s "$data/PG_VERSION" ]; then
    # Use the binaries of the version that made the data directory, if they are here.
    made_by="$(cat "$data/PG_VERSION")"
    if [ -x "/usr/lib/postgresql/$made_by/bin/pg_ctl" ]; then
        bindir="/usr/lib/postgresql/$made_by/bin"
    fi
else
    say "creating a cluster in $data with $bindir/initdb"
    as_server "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 >&2
fi

if as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "the server in $data is already running"
else
    as_server mkdir -p "$sock"
    say "starting the server in $data (log: $logfile)"
    as_server "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
        -o "-c listen_addresses='' -k '$sock' -p $port -c fsync=off" start >&2
fi

# pg_ctl -w waits already; this also covers a server that another run is still starting.
ready=0
for _ in $(seq 1 60); do
    if "$bindir/pg_isready" -q -h "$sock" -p "$port" -U postgres -d postgres; then
        ready=1
        break
    fi
    sleep 1
done
if [ "$ready" != 1 ]; then
    say "the server did not become ready; see $logfile"
    exit 1
fi

echo "host=$sock port=$port user=postgres dbname=postgres"
