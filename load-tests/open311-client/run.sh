#!/usr/bin/env bash
# Drives a running whistle's Open311 GeoReport v2 routes with published client libraries
# (see requirements.txt): lists services, posts a request, reads it back by id and by token,
# in JSON and XML. services/cli/tests/open311.rs runs it against a whistle it starts.
#
#   load-tests/open311-client/run.sh ENDPOINT API_KEY
#
#   e.g. load-tests/open311-client/run.sh http://127.0.0.1:8080/open311/v2 \
#          "$(whistle api-key create --name open311-check)"
#
#   OPEN311_CLIENT_PYTHON  the Python that makes the venv (default python3, 3.9 or newer)
#   CARGO_TARGET_DIR       the libraries are installed into
#                          ${CARGO_TARGET_DIR:-target}/open311-client-venv
#
# Exits 0 when every check passed, 1 when one failed, 2 on wrong arguments, and 3 when the
# libraries cannot be installed (that is a failure, not a skip).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
endpoint=$1
api_key=$2

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
target=$(cd "$target" && pwd)
venv=$target/open311-client-venv
requirements=$here/requirements.txt
python=${OPEN311_CLIENT_PYTHON:-python3}

# Installs once per requirements file: the venv keeps the hash of the file it was made
# from, so editing requirements.txt reinstalls. The lock keeps two test processes from
# building the same venv at once.
install() {
    local wanted
    wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [[ -x $venv/bin/python && -f $venv/.requirements.sha256 ]] &&
        [[ $(cat "$venv/.requirements.sha256") == "$wanted" ]]; then
        return 0
    fi
    echo "open311-client: installing the client libraries from $requirements into $venv" >&2
    local started=$SECONDS
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >&2; then
        echo "open311-client: '$python -m venv' failed; install Python 3 with venv (Debian: apt-get install python3-venv)" >&2
        return 1
    fi
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --requirement "$requirements" >&2; then
        echo "open311-client: pip could not install $requirements; is PyPI reachable?" >&2
        return 1
    fi
    echo "$wanted" >"$venv/.requirements.sha256"
    echo "open311-client: installed in $((SECONDS - started)) s" >&2
}

if command -v flock >/dev/null 2>&1; then
    exec {lock}>"$target/.open311-client.lock"
    flock "$lock"
fi
if ! install; then
    exit 3
fi
if command -v flock >/dev/null 2>&1; then
    exec {lock}>&-
fi

exec "$venv/bin/python" "$here/check.py" "$endpoint" "$api_key"
