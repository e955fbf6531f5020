#!/usr/bin/env bash
# Start/stop real PostgreSQL, MinIO and Elasticsearch 8 on loopback for the test suite.
#
#   scripts/test-servers.sh start   # install (first run only, cached), start, wait healthy,
#                                   # write $RUN/env.sh and print its path on stdout
#   scripts/test-servers.sh stop    # stop exactly what `start` started (idempotent)
#   scripts/test-servers.sh stop-server NAME    # stop one of them, keeping its data
#   scripts/test-servers.sh start-server NAME   # start it again on that data, wait until healthy
#        NAME: postgres | minio | elasticsearch | versitygw (a second S3 server, only ever started
#        by start-server, on JIAOYUN_TEST_VERSITYGW_PORT, with the same keys as MinIO)
#
# Fault tests run a whole private set with their own JIAOYUN_TESTINFRA_RUN and ports, and stop and
# start its servers one by one; the shared servers on the default ports are never touched.
#
# Then:  . "$(scripts/test-servers.sh start)"   (or: . /tmp/jiaoyun-testinfra/env.sh)
#
# Works on a fresh Debian 12 where we are root, with only package registries reachable:
# Debian apt (PostgreSQL, Java, Maven), the Go module proxy (MinIO is built from source)
# and Maven Central through `mvn` (Elasticsearch's integ-test-zip). No Docker.
#
# Exported variables (in $RUN/env.sh):
#   JIAOYUN_TEST_DATABASE_URL       postgresql+asyncpg://jiaoyun:jiaoyun@127.0.0.1:55432/jiaoyun_test
#   JIAOYUN_TEST_S3_ENDPOINT        http://127.0.0.1:59000
#   JIAOYUN_TEST_S3_ACCESS_KEY      jiaoyun
#   JIAOYUN_TEST_S3_SECRET_KEY      jiaoyun-secret
#   JIAOYUN_TEST_ELASTICSEARCH_URL  http://127.0.0.1:59200
# If JIAOYUN_TEST_DATABASE_URL / JIAOYUN_TEST_S3_ENDPOINT / JIAOYUN_TEST_ELASTICSEARCH_URL is
# already set when `start` runs, that server is not started and the value is passed through.
#
# Knobs (environment): JIAOYUN_CACHE_DIR, JIAOYUN_TESTINFRA_RUN, JIAOYUN_TEST_PG_PORT,
# JIAOYUN_TEST_MINIO_PORT, JIAOYUN_TEST_MINIO_CONSOLE_PORT, JIAOYUN_TEST_ES_PORT,
# JIAOYUN_TEST_ES_TRANSPORT_PORT, JIAOYUN_TEST_START_TIMEOUT, JIAOYUN_TEST_MINIO_VERSION,
# JIAOYUN_TEST_ES_JAVA_HOME, JIAOYUN_TEST_VERSITYGW_PORT, JIAOYUN_TEST_VERSITYGW_VERSION.
set -euo pipefail

# --- configuration -------------------------------------------------------------------------

# Downloads and builds live outside the repo so they survive `git clean` and fresh checkouts.
CACHE="${JIAOYUN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jiaoyun-testinfra}"
# Runtime state (data, logs, pids) is throwaway: data dirs are wiped at every start.
RUN="${JIAOYUN_TESTINFRA_RUN:-/tmp/jiaoyun-testinfra}"

PG_PORT="${JIAOYUN_TEST_PG_PORT:-55432}"
MINIO_PORT="${JIAOYUN_TEST_MINIO_PORT:-59000}"
MINIO_CONSOLE_PORT="${JIAOYUN_TEST_MINIO_CONSOLE_PORT:-59001}"
ES_PORT="${JIAOYUN_TEST_ES_PORT:-59200}"
ES_TRANSPORT_PORT="${JIAOYUN_TEST_ES_TRANSPORT_PORT:-59300}"
VERSITYGW_PORT="${JIAOYUN_TEST_VERSITYGW_PORT:-59070}"
TIMEOUT="${JIAOYUN_TEST_START_TIMEOUT:-180}" # seconds each server may take to become healthy

PG_USER=jiaoyun
PG_PASSWORD=jiaoyun
PG_DB=jiaoyun_test
S3_ACCESS_KEY=jiaoyun
S3_SECRET_KEY=jiaoyun-secret

# Postgres and Elasticsearch refuse to run as root, so as root we run them as this user.
SVC_USER=jiaoyun-test

ES_VERSION=8.19.21
# The integ-test-zip is the only ES distribution published to Maven Central. It is "server
# core" plus the modules x-pack-core, x-pack-security, transport-netty4 and apm only. So
# tests against it must not rely on what other modules provide, notably:
#   rest-root        GET / and HEAD / (405 here: the Python client's info()/ping() fail)
#   reindex          _delete_by_query, _update_by_query, _reindex
#   lang-painless    scripts (script_score, scripted updates/sorts)
#   analysis-common  most tokenizers/filters beyond the standard analyzer
#   mapper-extras    scaled_float, search_as_you_type, rank_feature(s), match_only_text
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
ES_DIST="$CACHE/elasticsearch-$ES_VERSION"
ES_JAVA_HOME_DEFAULT="/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture 2>/dev/null || echo amd64)"
ES_JAVA_HOME_USE="${JIAOYUN_TEST_ES_JAVA_HOME:-$ES_JAVA_HOME_DEFAULT}"

# MinIO is built from source with `go install` (the module proxy is the only Go source we can
# reach). Candidates are tried in order; the first that resolves wins and is cached:
#  1. the release we want. The proxy refuses it (403): RELEASE.* tags are not semver.
#  2. the same commit (9e49d5e7a648) as a pseudo-version. The proxy refuses that too (403).
#  3. the pseudo-version the proxy does serve (what `@latest` resolved to, 2026-02-12).
MINIO_MODULE=github.com/minio/minio
if [[ -n "${JIAOYUN_TEST_MINIO_VERSION:-}" ]]; then
    MINIO_VERSIONS=("$JIAOYUN_TEST_MINIO_VERSION")
else
    MINIO_VERSIONS=(
        RELEASE.2025-10-15T17-29-55Z
        v0.0.0-20251015172955-9e49d5e7a648
        v0.0.0-20260212201848-7aac2a2c5b7c
    )
fi
MINIO_BIN="$CACHE/bin/minio"

# versitygw: a second, independent S3 implementation (the blob store must not depend on MinIO's
# quirks). Built like MinIO; the fallback is the newest release the module proxy listed.
VERSITYGW_MODULE=github.com/versity/versitygw/cmd/versitygw
if [[ -n "${JIAOYUN_TEST_VERSITYGW_VERSION:-}" ]]; then
    VERSITYGW_VERSIONS=("$JIAOYUN_TEST_VERSITYGW_VERSION")
else
    VERSITYGW_VERSIONS=(v1.7.0)
fi
VERSITYGW_BIN="$CACHE/bin/versitygw"

PG_DIR="$RUN/postgres"
MINIO_DIR="$RUN/minio"
ES_DIR="$RUN/elasticsearch"
VERSITYGW_DIR="$RUN/versitygw"
PID_DIR="$RUN/pids"    # pids of what *we* launched (root-owned, read by `stop`)
ENV_FILE="$RUN/env.sh"

IS_ROOT=0
[[ $EUID -eq 0 ]] && IS_ROOT=1

# --- helpers ---------------------------------------------------------------------------------

# Progress goes to stderr so that stdout carries only the env-file path.
log() { printf '[test-servers] %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

# Print the tail of a server log, then fail (the EXIT trap in `start` stops the others).
fail_with_log() {
    local msg=$1 logfile=$2
    log "ERROR: $msg"
    if [[ -f "$logfile" ]]; then
        log "---- last 60 lines of $logfile ----"
        tail -n 60 "$logfile" >&2 || true
        log "---- end of $logfile ----"
    fi
    exit 1
}

# go's errors name the proxy's URL; keep registry host names out of our output.
redact_urls() { sed -E 's#[a-z]+://[^/ ]+#<registry>#g'; }

# Run a command as the service user when we are root (setpriv is in util-linux, which is
# Essential on Debian, unlike sudo). HOME points somewhere writable for that user.
AS_SVC=()
if ((IS_ROOT)); then
    AS_SVC=(setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups --
        env HOME="$RUN" USER="$SVC_USER" LOGNAME="$SVC_USER")
fi
as_svc() { "${AS_SVC[@]}" "$@"; }

# A directory the service user owns (for data that Postgres/ES write).
svc_dir() {
    mkdir -p "$@"
    if ((IS_ROOT)); then chown "$SVC_USER:$SVC_USER" "$@"; fi
}

# True if a live (non-zombie) process has this pid. Reads /proc: procps may not be installed.
pid_alive() {
    local pid=$1 state
    [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/stat" ]] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n "$state" && "$state" != Z ]]
}

# True if the process' command line mentions $2 (guards against pid reuse after a reboot).
pid_matches() {
    local pid=$1 pattern=$2
    pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

# Process group id of a pid (field 5 of /proc/pid/stat).
pid_pgid() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f3; }

# True if something already listens on 127.0.0.1:$1 (bash /dev/tcp: no extra tools needed).
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_port() {
    local port=$1 what=$2
    port_busy "$port" && die "port $port ($what) is already in use by another process; stop it or set the matching JIAOYUN_TEST_*_PORT"
    return 0
}

# Send TERM to a process we launched (and its process group when it leads one: we start
# MinIO/ES under setsid, so the group is exactly their process tree), wait, then KILL.
kill_launched() {
    local name=$1 pidfile=$2 pattern=$3 pid pgid target i
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if pid_matches "$pid" "$pattern"; then
        pgid=$(pid_pgid "$pid")
        target=$pid
        [[ "$pgid" == "$pid" ]] && target="-$pid"
        log "stopping $name (pid $pid)"
        kill -TERM -- "$target" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do
            pid_alive "$pid" || break
            sleep 0.5
        done
        if pid_alive "$pid"; then
            log "$name did not exit after 30s; sending KILL"
            kill -KILL -- "$target" 2>/dev/null || true
            sleep 0.5
        fi
        # Children of a group leader that already exited would have been caught by the
        # group signal; make sure nothing is left in the group either way.
        [[ "$target" == -* ]] && kill -KILL -- "$target" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# --- installation (first run only; results cached in $CACHE) ---------------------------------

pg_bin_dir() {
    local initdb # newest major version if several are installed
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [[ -x "$initdb" ]] && dirname "$initdb"
}

# Collect missing Debian packages and install them in a single apt run.
install_packages() {
    local pkgs=()
    command -v curl >/dev/null || pkgs+=(curl) # health checks
    if ((WANT_PG)) && [[ -z "$(pg_bin_dir)" ]]; then
        pkgs+=(postgresql)
    fi
    if ((WANT_ES)); then
        [[ -x "$ES_JAVA_HOME_USE/bin/java" ]] || pkgs+=(openjdk-17-jre-headless)
        if [[ ! -x "$ES_DIST/bin/elasticsearch" ]]; then
            command -v unzip >/dev/null || pkgs+=(unzip)
            command -v mvn >/dev/null || pkgs+=(maven)
        fi
    fi
    ((${#pkgs[@]})) || return 0
    ((IS_ROOT)) || die "missing Debian packages: ${pkgs[*]} (install them, or run this script as root)"
    log "installing Debian packages: ${pkgs[*]}"
    # Slim Debian images drop /usr/share/man; the openjdk postinst fails without man1.
    mkdir -p /usr/share/man/man1
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
}

ensure_svc_user() {
    ((IS_ROOT)) || return 0
    id -u "$SVC_USER" >/dev/null 2>&1 && return 0
    log "creating system user $SVC_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$SVC_USER"
}

go_cmd() {
    if command -v go >/dev/null; then
        command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then
        echo /usr/local/go/bin/go
    else
        # Debian 12's golang-go is 1.19: too old for MinIO and too old to fetch a newer
        # toolchain itself (GOTOOLCHAIN needs go >= 1.21), so there is nothing to apt-get.
        die "no 'go' found (need Go >= 1.21 to build MinIO); install Go or put it on PATH"
    fi
}

# go install MODULE@VERSION for the first version that builds; the binary is cached as BIN.
ensure_go_binary() {
    local name=$1 module=$2 bin=$3 go buildlog v built
    shift 3
    [[ -x "$bin" ]] && return 0
    buildlog="$CACHE/logs/$name-build.log"
    built="$CACHE/bin.tmp.$name"
    go=$(go_cmd)
    mkdir -p "$CACHE/bin" "$CACHE/logs"
    # A lock so that two concurrent first runs don't both spend minutes building.
    exec 8>"$CACHE/.$name-build.lock"
    flock 8
    if [[ -x "$bin" ]]; then # built by whoever held the lock before us
        exec 8>&-
        return 0
    fi
    : >"$buildlog"
    for v in "$@"; do
        log "building $name $module@$v with go install (a few minutes on first run; log: $buildlog)"
        rm -rf "$built"
        # Build into a temp GOBIN and move: never leave a half-written binary in the cache.
        if CGO_ENABLED=0 GOBIN="$built" "$go" install "$module@$v" >>"$buildlog" 2>&1; then
            mv "$built/$(basename "$module")" "$bin"
            rm -rf "$built"
            echo "$module@$v" >"$bin.version"
            log "built $name $v"
            exec 8>&-
            return 0
        fi
        log "  $v failed: $(tail -n 2 "$buildlog" | redact_urls | tr '\n' ' ')"
    done
    exec 8>&-
    log "---- last 40 lines of $buildlog ----"
    tail -n 40 "$buildlog" | redact_urls >&2 || true
    die "could not build $name from any of: $*"
}

ensure_minio() { ensure_go_binary minio "$MINIO_MODULE" "$MINIO_BIN" "${MINIO_VERSIONS[@]}"; }

ensure_versitygw() { ensure_go_binary versitygw "$VERSITYGW_MODULE" "$VERSITYGW_BIN" "${VERSITYGW_VERSIONS[@]}"; }

ensure_elasticsearch() {
    [[ -x "$ES_DIST/bin/elasticsearch" ]] && return 0
    local dl="$CACHE/downloads" zip tmp mvnlog
    zip="$dl/elasticsearch-$ES_VERSION.zip"
    mkdir -p "$dl"
    if [[ ! -s "$zip" ]]; then
        mkdir -p "$CACHE/logs"
        mvnlog="$CACHE/logs/mvn-elasticsearch.log"
        log "fetching $ES_ARTIFACT with mvn (log: $mvnlog)"
        # Plain `mvn` with its default configuration: resolves from Maven Central (or
        # whatever mirror the machine's settings.xml names) and reuses ~/.m2 if present.
        if ! (cd "$dl" && mvn -B dependency:copy -Dartifact="$ES_ARTIFACT" -DoutputDirectory="$dl") >"$mvnlog" 2>&1; then
            log "---- last 40 lines of $mvnlog ----"
            tail -n 40 "$mvnlog" | redact_urls >&2 || true
            die "mvn could not fetch $ES_ARTIFACT"
        fi
    fi
    [[ -s "$zip" ]] || die "expected $zip after mvn dependency:copy"
    log "unpacking Elasticsearch $ES_VERSION into $CACHE"
    tmp="$CACHE/.es-unpack.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    unzip -q "$zip" -d "$tmp"
    # Read-only for the service user: ES never writes into its home with our settings
    # (config, data, logs and tmp all point into $RUN).
    chmod -R a+rX "$tmp"
    rm -rf "$ES_DIST"
    mv "$tmp/elasticsearch-$ES_VERSION" "$ES_DIST"
    rm -rf "$tmp"
}

# --- stop ------------------------------------------------------------------------------------

stop_postgres() {
    local data="$PG_DIR/data" bin pid
    [[ -f "$data/postmaster.pid" ]] || return 0
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    if pid_matches "$pid" postgres; then
        log "stopping PostgreSQL (pid $pid)"
        bin=$(pg_bin_dir || true)
        # -m immediate: the data is thrown away anyway, so skip the shutdown checkpoint.
        if [[ -z "$bin" ]] || ! (cd / && as_svc "$bin/pg_ctl" -D "$data" stop -m immediate -w -t 30 >/dev/null 2>&1); then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$data/postmaster.pid"
}

stop_elasticsearch() {
    kill_launched Elasticsearch "$PID_DIR/elasticsearch.pid" elasticsearch
    # The ES CLI launcher forks the server JVM; its own pid file catches a server whose
    # launcher died.
    kill_launched "Elasticsearch server" "$ES_DIR/es.pid" elasticsearch
}

stop_all() {
    [[ -d "$RUN" ]] || return 0
    rm -f "$ENV_FILE" # never leave exports pointing at servers that are gone
    stop_elasticsearch
    kill_launched MinIO "$PID_DIR/minio.pid" minio
    kill_launched versitygw "$PID_DIR/versitygw.pid" versitygw
    stop_postgres
}

# --- start -----------------------------------------------------------------------------------

start_elasticsearch() {
    local conf="$ES_DIR/config"
    rm -rf "$ES_DIR"
    svc_dir "$ES_DIR" "$ES_DIR/data" "$ES_DIR/logs" "$ES_DIR/tmp"

    # The cache is usually under /root (mode 700), which the service user cannot traverse.
    # Then give it a hard-linked view of the distribution under $RUN (instant, no extra
    # space); fall back to a real copy if the cache is on another filesystem.
    if ! (cd / && as_svc test -r "$ES_DIST/lib" -a -x "$ES_DIST/bin/elasticsearch"); then
        local home="$ES_DIR/home"
        cp -al "$ES_DIST" "$home" 2>/dev/null || { rm -rf "$home" && cp -a "$ES_DIST" "$home"; }
    fi

    # Private config dir per run (ES creates its keystore there at startup).
    cp -r "$ES_DIST/config" "$conf"
    cat >"$conf/elasticsearch.yml" <<EOF
# Generated by scripts/test-servers.sh; wiped at every start.
cluster.name: jiaoyun-test
node.name: jiaoyun-test
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $ES_DIR/data
path.logs: $ES_DIR/logs
# Test machines often have full-ish disks; never let the watermark block writes.
cluster.routing.allocation.disk.threshold_enabled: false
# Tests delete index patterns (DELETE /test-*).
action.destructive_requires_name: false
# The integ-test-zip ships x-pack-security, so this setting is accepted; without it ES 8
# would demand TLS + passwords. Plain HTTP, no auth.
xpack.security.enabled: false
EOF
    if ((IS_ROOT)); then chown -R "$SVC_USER:$SVC_USER" "$conf"; fi
    launch_elasticsearch
}

# Start ES on whatever $ES_DIR holds (fresh from start_elasticsearch, or kept by stop-server).
launch_elasticsearch() {
    local conf="$ES_DIR/config" home="$ES_DIST"
    [[ -d "$ES_DIR/home" ]] && home="$ES_DIR/home"
    log "starting Elasticsearch $ES_VERSION on 127.0.0.1:$ES_PORT"
    # setsid: own process group, so `stop` can signal the launcher and the server JVM together.
    # All output goes to a log: nothing may hold the caller's stdout/stderr pipes open.
    (
        cd "$ES_DIR"
        export ES_JAVA_HOME="$ES_JAVA_HOME_USE" ES_PATH_CONF="$conf" ES_TMPDIR="$ES_DIR/tmp"
        export ES_JAVA_OPTS="-Xms512m -Xmx512m"
        exec setsid "${AS_SVC[@]}" "$home/bin/elasticsearch" -p "$ES_DIR/es.pid"
    ) </dev/null >"$ES_DIR/stdout.log" 2>&1 &
    echo $! >"$PID_DIR/elasticsearch.pid"
    ES_PID=$!
    ES_T0=$SECONDS
}

start_minio() {
    rm -rf "$MINIO_DIR"
    mkdir -p "$MINIO_DIR/data"
    launch_minio
}

launch_minio() {
    log "starting MinIO on 127.0.0.1:$MINIO_PORT"
    # MinIO is happy as root, and its binary sits in the (possibly root-only) cache, so it
    # runs as the invoking user.
    (
        export MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY"
        export MINIO_UPDATE=off # no update checks from a test server
        exec setsid "$MINIO_BIN" server "$MINIO_DIR/data" \
            --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT"
    ) </dev/null >>"$MINIO_DIR/minio.log" 2>&1 &
    echo $! >"$PID_DIR/minio.pid"
    MINIO_PID=$!
    MINIO_T0=$SECONDS
}

# Postgres starts in about a second, so this one runs synchronously while ES/MinIO boot.
start_postgres() {
    local bin data="$PG_DIR/data" logfile="$PG_DIR/postgres.log" t0=$SECONDS
    bin=$(pg_bin_dir) || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    rm -rf "$PG_DIR"
    svc_dir "$PG_DIR" "$PG_DIR/socket"
    echo "$PG_PASSWORD" >"$PG_DIR/pwfile"
    if ((IS_ROOT)); then chown "$SVC_USER:$SVC_USER" "$PG_DIR/pwfile"; fi

    log "initdb + starting PostgreSQL ($(basename "$(dirname "$bin")")) on 127.0.0.1:$PG_PORT"
    # Trust auth: it's a loopback-only throwaway cluster; the password is still set so that
    # clients sending one (the URL carries it) are fine either way. C locale: needs no
    # generated locales on a fresh machine.
    (cd "$PG_DIR" && as_svc "$bin/initdb" -D "$data" -U "$PG_USER" --pwfile="$PG_DIR/pwfile" \
        --auth=trust -E UTF8 --no-locale --no-sync) >"$PG_DIR/initdb.log" 2>&1 ||
        fail_with_log "initdb failed" "$PG_DIR/initdb.log"
    rm -f "$PG_DIR/pwfile"
    # Durability off: this is test data, speed matters more.
    cat >>"$data/postgresql.conf" <<EOF

# --- scripts/test-servers.sh ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR/socket'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    launch_postgres
    "$bin/psql" -v ON_ERROR_STOP=1 -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres \
        -c "CREATE DATABASE $PG_DB" >"$PG_DIR/createdb.log" 2>&1 ||
        fail_with_log "could not create database $PG_DB" "$PG_DIR/createdb.log"
    log "PostgreSQL healthy after $((SECONDS - t0))s"
}

# pg_ctl start on the data dir as it is; waits until the server accepts connections.
launch_postgres() {
    local bin data="$PG_DIR/data" logfile="$PG_DIR/postgres.log"
    bin=$(pg_bin_dir) || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    (cd "$PG_DIR" && as_svc "$bin/pg_ctl" -D "$data" -l "$logfile" -w -t "$TIMEOUT" start) \
        >"$PG_DIR/pg_ctl.log" 2>&1 || fail_with_log "PostgreSQL did not start" "$logfile"
}

# A throwaway posix-backed gateway; its data lives only as long as $RUN.
launch_versitygw() {
    mkdir -p "$VERSITYGW_DIR/data"
    log "starting versitygw on 127.0.0.1:$VERSITYGW_PORT"
    (
        export ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY"
        exec setsid "$VERSITYGW_BIN" --port "127.0.0.1:$VERSITYGW_PORT" posix "$VERSITYGW_DIR/data"
    ) </dev/null >>"$VERSITYGW_DIR/versitygw.log" 2>&1 &
    echo $! >"$PID_DIR/versitygw.pid"
    VERSITYGW_PID=$!
    VERSITYGW_T0=$SECONDS
}

# Poll `probe` until it succeeds; fail loudly if the process dies or the deadline passes.
wait_healthy() {
    local name=$1 probe=$2 pid=$3 t0=$4 logfile=$5
    until $probe; do
        pid_alive "$pid" || fail_with_log "$name exited during startup" "$logfile"
        ((SECONDS - t0 < TIMEOUT)) || fail_with_log "$name not healthy after ${TIMEOUT}s" "$logfile"
        sleep 0.5
    done
    log "$name healthy after $((SECONDS - t0))s"
}

minio_healthy() {
    curl -fsS -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/live" 2>/dev/null &&
        curl -fsS -o /dev/null "http://127.0.0.1:$MINIO_PORT/minio/health/ready" 2>/dev/null
}

postgres_healthy() {
    local bin
    bin=$(pg_bin_dir) && "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
}

versitygw_healthy() {
    # Any HTTP answer (an unsigned request gets 403) means it is serving.
    curl -sS -o /dev/null "http://127.0.0.1:$VERSITYGW_PORT/" 2>/dev/null
}

es_healthy() {
    # Note: GET / is 405 on the integ-test-zip (the root endpoint lives in the absent
    # rest-root module), so we probe cluster health instead.
    curl -fsS -o /dev/null \
        "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null
}

write_env_file() {
    local tmp="$ENV_FILE.tmp"
    {
        echo "# Generated by scripts/test-servers.sh start; removed by stop."
        printf 'export %s=%q\n' JIAOYUN_TEST_DATABASE_URL "$DATABASE_URL"
        printf 'export %s=%q\n' JIAOYUN_TEST_S3_ENDPOINT "$S3_ENDPOINT"
        [[ -n "$S3_KEY" ]] && printf 'export %s=%q\n' JIAOYUN_TEST_S3_ACCESS_KEY "$S3_KEY"
        [[ -n "$S3_SECRET" ]] && printf 'export %s=%q\n' JIAOYUN_TEST_S3_SECRET_KEY "$S3_SECRET"
        printf 'export %s=%q\n' JIAOYUN_TEST_ELASTICSEARCH_URL "$ES_URL"
    } >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$ENV_FILE"
}

on_start_exit() {
    local rc=$?
    if ((rc != 0)); then
        log "start failed; stopping whatever was started (logs stay in $RUN)"
        stop_all || true
    fi
    exit "$rc"
}

cmd_start() {
    local t0=$SECONDS
    # Servers whose URL the caller already provides are not started (pass-through).
    WANT_PG=1 WANT_MINIO=1 WANT_ES=1
    [[ -n "${JIAOYUN_TEST_DATABASE_URL:-}" ]] && WANT_PG=0
    [[ -n "${JIAOYUN_TEST_S3_ENDPOINT:-}" ]] && WANT_MINIO=0
    [[ -n "${JIAOYUN_TEST_ELASTICSEARCH_URL:-}" ]] && WANT_ES=0

    mkdir -p "$RUN" "$PID_DIR"
    chmod 755 "$RUN"
    # Servers run with cwd=$RUN: the service user can't stat the caller's cwd (e.g. /root).
    cd "$RUN"
    # Stale servers from a previous run that was never stopped; with every URL passed through there
    # is nothing to start, and the servers running may well be someone else's run: leave them alone.
    if ((WANT_PG || WANT_MINIO || WANT_ES)); then
        stop_all
    fi
    trap on_start_exit EXIT

    # Check every port before launching anything: a foreign server on one of them would
    # otherwise answer our health checks, or make one server fail after others started.
    if ((WANT_ES)); then
        require_free_port "$ES_PORT" "Elasticsearch HTTP"
        require_free_port "$ES_TRANSPORT_PORT" "Elasticsearch transport"
    fi
    if ((WANT_MINIO)); then
        require_free_port "$MINIO_PORT" "MinIO API"
        require_free_port "$MINIO_CONSOLE_PORT" "MinIO console"
    fi
    ((WANT_PG)) && require_free_port "$PG_PORT" PostgreSQL

    install_packages
    ensure_svc_user
    if ((WANT_MINIO)); then
        ensure_minio
        # Which link of the fallback chain this cache holds: every run says it (README, "MinIO").
        log "MinIO build in use: $(cat "$MINIO_BIN.version" 2>/dev/null || echo 'unknown (built before versions were recorded)')"
    fi
    ((WANT_ES)) && ensure_elasticsearch

    # ES boots slowest (~15-25 s), so launch it first and let the others start meanwhile.
    ((WANT_ES)) && start_elasticsearch
    ((WANT_MINIO)) && start_minio
    ((WANT_PG)) && start_postgres
    ((WANT_MINIO)) && wait_healthy MinIO minio_healthy "$MINIO_PID" "$MINIO_T0" "$MINIO_DIR/minio.log"
    ((WANT_ES)) && wait_healthy Elasticsearch es_healthy "$ES_PID" "$ES_T0" "$ES_DIR/stdout.log"

    DATABASE_URL="${JIAOYUN_TEST_DATABASE_URL:-postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB}"
    ES_URL="${JIAOYUN_TEST_ELASTICSEARCH_URL:-http://127.0.0.1:$ES_PORT}"
    if ((WANT_MINIO)); then
        S3_ENDPOINT="http://127.0.0.1:$MINIO_PORT" S3_KEY=$S3_ACCESS_KEY S3_SECRET=$S3_SECRET_KEY
    else
        # External S3: only pass through the credentials the caller gave.
        S3_ENDPOINT=$JIAOYUN_TEST_S3_ENDPOINT
        S3_KEY="${JIAOYUN_TEST_S3_ACCESS_KEY:-}" S3_SECRET="${JIAOYUN_TEST_S3_SECRET_KEY:-}"
    fi
    write_env_file
    trap - EXIT
    log "all servers up in $((SECONDS - t0))s; exports written to $ENV_FILE"
    echo "$ENV_FILE"
}

cmd_stop() {
    stop_all
    log "stopped"
}

cmd_stop_server() {
    local name=$1
    case "$name" in
    postgres) stop_postgres ;;
    minio) kill_launched MinIO "$PID_DIR/minio.pid" minio ;;
    elasticsearch) stop_elasticsearch ;;
    versitygw) kill_launched versitygw "$PID_DIR/versitygw.pid" versitygw ;;
    *) die "unknown server '$name' (postgres, minio, elasticsearch, versitygw)" ;;
    esac
    log "$name stopped (data kept in $RUN)"
}

cmd_start_server() {
    local name=$1 t0=$SECONDS
    mkdir -p "$RUN" "$PID_DIR"
    cd "$RUN"
    case "$name" in
    postgres)
        [[ -f "$PG_DIR/data/PG_VERSION" ]] || die "no PostgreSQL data in $PG_DIR: run start first"
        require_free_port "$PG_PORT" PostgreSQL
        launch_postgres
        wait_healthy PostgreSQL postgres_healthy "$(head -n 1 "$PG_DIR/data/postmaster.pid")" "$t0" \
            "$PG_DIR/postgres.log"
        ;;
    minio)
        [[ -d "$MINIO_DIR/data" ]] || die "no MinIO data in $MINIO_DIR: run start first"
        require_free_port "$MINIO_PORT" "MinIO API"
        require_free_port "$MINIO_CONSOLE_PORT" "MinIO console"
        launch_minio
        wait_healthy MinIO minio_healthy "$MINIO_PID" "$MINIO_T0" "$MINIO_DIR/minio.log"
        ;;
    elasticsearch)
        [[ -d "$ES_DIR/config" ]] || die "no Elasticsearch data in $ES_DIR: run start first"
        require_free_port "$ES_PORT" "Elasticsearch HTTP"
        require_free_port "$ES_TRANSPORT_PORT" "Elasticsearch transport"
        launch_elasticsearch
        wait_healthy Elasticsearch es_healthy "$ES_PID" "$ES_T0" "$ES_DIR/stdout.log"
        ;;
    versitygw)
        require_free_port "$VERSITYGW_PORT" versitygw
        ensure_versitygw
        launch_versitygw
        wait_healthy versitygw versitygw_healthy "$VERSITYGW_PID" "$VERSITYGW_T0" "$VERSITYGW_DIR/versitygw.log"
        ;;
    *) die "unknown server '$name' (postgres, minio, elasticsearch, versitygw)" ;;
    esac
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
stop-server) cmd_stop_server "${2:-}" ;;
start-server) cmd_start_server "${2:-}" ;;
*)
    echo "usage: $0 start|stop|stop-server NAME|start-server NAME" >&2
    exit 2
    ;;
esac
