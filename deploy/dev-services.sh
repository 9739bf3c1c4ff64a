#!/usr/bin/env bash
# Makes sure the servers whistle's tests talk to are running on this machine:
# PostgreSQL on 127.0.0.1:5432 (user postgres, no password) and NATS with JetStream on
# 127.0.0.1:4222. Starts them when they are installed but stopped, installs them from
# Debian's packages when they are missing. Safe to run again and again.
set -euo pipefail

log() { printf 'dev-services: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    log "installing $* from Debian's packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for_port() {
    local port=$1 what=$2
    for _ in $(seq 1 60); do
        port_open "$port" && return 0
        sleep 0.5
    done
    log "$what did not come up on 127.0.0.1:$port within 30 s"
    return 1
}

ensure_postgres() {
    if port_open 5432; then
        return 0
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        apt_install postgresql
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    if [ -z "$version" ]; then
        log "PostgreSQL is installed but has no cluster; create one with pg_createcluster"
        return 1
    fi
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    # The tests connect over TCP as postgres without a password, as on the CI machines.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        log "allowing passwordless connections from 127.0.0.1 (test machine only)"
        as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    fi
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for_port 5432 PostgreSQL
}

ensure_nats() {
    if port_open 4222; then
        return 0
    fi
    if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
        apt_install nats-server
    fi
    local bin
    bin=$(command -v nats-server || echo /usr/sbin/nats-server)
    mkdir -p /tmp/whistle-nats
    log "starting NATS with JetStream"
    as_root start-stop-daemon --start --oknodo --background --exec "$bin" -- \
        -a 127.0.0.1 -p 4222 -js -sd /tmp/whistle-nats -l /tmp/whistle-nats/nats-server.log
    wait_for_port 4222 NATS
}

# The API tests drive whistle with published Python tools (schemathesis, Open311 clients),
# each installed by its own script into a venv under target/: they need Python 3 with venv.
ensure_python() {
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
        return
    fi
    apt_install python3 python3-venv
}

# The consoles' build fetches ECharts with npm, and their browser tests drive Debian's
# Chromium with playwright-core (services/web/tests/run.sh installs that from npm).
ensure_browser() {
    local missing=()
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # Without a CJK font the screenshots show boxes for every Chinese character.
    [ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

ensure_postgres
ensure_nats
ensure_python
ensure_browser
log "PostgreSQL on 127.0.0.1:5432 and NATS on 127.0.0.1:4222 are up; Python 3 with venv, Node.js and Chromium are installed"
