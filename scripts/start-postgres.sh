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
# With --tls, it starts (or reuses) a second, separate server for the TLS tests of
# `jira-notifier-postgres` (feature `rustls`): it listens on 127.0.0.1 only, accepts TLS
# connections only (`hostssl`; plain TCP is rejected), with a certificate for `localhost`
# and 127.0.0.1 signed by a throwaway CA made with openssl at its first start:
#
#     export JIRA_NOTIFIER_PG_TLS="$(scripts/start-postgres.sh --tls)"
#     export JIRA_NOTIFIER_PG_TLS_CA="${TMPDIR:-/tmp}/jira-notifier-pg-tls/tls/ca.crt"
#
# Environment:
#   JIRA_NOTIFIER_PG_DIR       where the data directory, socket and log live
#                              (default: ${TMPDIR:-/tmp}/jira-notifier-pg)
#   JIRA_NOTIFIER_PG_PORT      the port number in the socket's name (default: 5432)
#   JIRA_NOTIFIER_PG_TLS_DIR   the same for the --tls server
#                              (default: ${TMPDIR:-/tmp}/jira-notifier-pg-tls)
#   JIRA_NOTIFIER_PG_TLS_PORT  its TCP port on 127.0.0.1 and socket (default: 5433)
#
# Stop it with: pg_ctl -D "$JIRA_NOTIFIER_PG_DIR/data" stop (as the user running it).
set -euo pipefail

tls=0
case "${1:-}" in
    "") ;;
    --tls) tls=1 ;;
    *)
        echo "usage: $0 [--tls]" >&2
        exit 2
        ;;
esac

if [ "$tls" = 1 ]; then
    dir="${JIRA_NOTIFIER_PG_TLS_DIR:-${TMPDIR:-/tmp}/jira-notifier-pg-tls}"
    port="${JIRA_NOTIFIER_PG_TLS_PORT:-5433}"
else
    dir="${JIRA_NOTIFIER_PG_DIR:-${TMPDIR:-/tmp}/jira-notifier-pg}"
    port="${JIRA_NOTIFIER_PG_PORT:-5432}"
fi
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

# The --tls server's certificates (a CA, and a server certificate it signs: rustls refuses
# a CA certificate as the server's own) and its client authentication file.
tls_dir="$dir/tls"
make_tls_files() {
    command -v openssl >/dev/null 2>&1 || {
        say "--tls needs openssl to make the certificates"
        exit 1
    }
    if [ ! -s "$tls_dir/server.crt" ]; then
        say "making a throwaway CA and a server certificate for localhost in $tls_dir"
        mkdir -p "$tls_dir"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=jira-notifier test CA" \
            -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout "$tls_dir/server.key" -out "$tls_dir/server.csr" 2>/dev/null
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            >"$tls_dir/server.ext"
        openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.crt" -CAkey "$tls_dir/ca.key" \
            -CAcreateserial -days 3650 -extfile "$tls_dir/server.ext" -out "$tls_dir/server.crt" \
            2>/dev/null
        rm -f "$tls_dir/server.csr" "$tls_dir/server.ext" "$tls_dir/ca.key" "$tls_dir/ca.srl"
        chmod 755 "$tls_dir"
        chmod 644 "$tls_dir/ca.crt" "$tls_dir/server.crt"
        chmod 600 "$tls_dir/server.key"
        if is_root; then
            chown "$server_user" "$tls_dir/server.key"
        fi
    fi
    # Local socket: trust; TCP: TLS only.
    printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 trust" \
        "hostnossl all all 127.0.0.1/32 reject" | as_server tee "$dir/pg_hba_tls.conf" >/dev/null
}

if as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "the server in $data is already running"
else
    as_server mkdir -p "$sock"
    say "starting the server in $data (log: $logfile)"
    options="-k '$sock' -p $port -c fsync=off"
    if [ "$tls" = 1 ]; then
        make_tls_files
        options="$options -c listen_addresses=127.0.0.1 -c ssl=on"
        options="$options -c ssl_cert_file='$tls_dir/server.crt' -c ssl_key_file='$tls_dir/server.key'"
        options="$options -c hba_file='$dir/pg_hba_tls.conf'"
    else
        options="$options -c listen_addresses=''"
    fi
    as_server "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 -o "$options" start >&2
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

if [ "$tls" = 1 ]; then
    say "the CA certificate to trust: $tls_dir/ca.crt"
    echo "host=localhost hostaddr=127.0.0.1 port=$port user=postgres dbname=postgres sslmode=require"
else
    echo "host=$sock port=$port user=postgres dbname=postgres"
fi
