#!/usr/bin/env bash
# Fuzzes whistle's HTTP API from its own OpenAPI document with schemathesis: every documented
# operation gets generated requests (valid and invalid), once per bearer token, and the pass
# fails on any 5xx, dropped connection or status the document does not list.
#
#   load-tests/api-fuzz/run.sh BASE_URL SPEC_URL [ROLE=]TOKEN...
#
#   e.g. load-tests/api-fuzz/run.sh http://127.0.0.1:8080 http://127.0.0.1:8080/openapi.json \
#          supervisor="$(whistle token --role supervisor --scope city)" \
#          street="$(whistle token --role street --scope street:wenhualu)"
#
# Each token stands for one role: routes answer each role differently (403, 404 outside its
# scope, the work itself inside it), so every role is a pass of its own. ROLE only names the
# pass in the output.
#
#   API_FUZZ_MAX_EXAMPLES  generated cases per operation and phase (default 30); keeps a pass
#                          of five roles within about three minutes on two cores
#   API_FUZZ_SEED          the generator's seed (default 4617): the same seed and server state
#                          give the same requests
#   API_FUZZ_CHECKS        schemathesis checks (default not_a_server_error,status_code_conformance)
#   API_FUZZ_PYTHON        the Python that makes the venv (default python3, 3.10 or newer)
#   CARGO_TARGET_DIR       schemathesis is installed into ${CARGO_TARGET_DIR:-target}/api-fuzz-venv;
#                          a failed run keeps its JUnit reports in .../api-fuzz/runs/run-*/<role>/
#
# Exits 0 when every pass is clean, 1 when one found a failure, 2 on wrong arguments, and
# non-zero when schemathesis cannot be installed (that is a failure, not a skip).
set -euo pipefail

if [[ $# -lt 3 ]]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
base_url=$1
spec_url=$2
shift 2

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
target=$(cd "$target" && pwd)
venv=$target/api-fuzz-venv
requirements=$here/requirements.txt

max_examples=${API_FUZZ_MAX_EXAMPLES:-30}
seed=${API_FUZZ_SEED:-4617}
checks=${API_FUZZ_CHECKS:-not_a_server_error,status_code_conformance}
python=${API_FUZZ_PYTHON:-python3}

# Install once per requirements file: the stamp holds the hash of the file the venv was made
# from, so editing requirements.txt reinstalls. The lock keeps two test processes (nextest
# runs tests in parallel) from building the same venv at once.
install() {
    local wanted
    wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [[ -x $venv/bin/schemathesis && -f $venv/.requirements.sha256 ]] &&
        [[ $(cat "$venv/.requirements.sha256") == "$wanted" ]]; then
        return 0
    fi
    echo "api-fuzz: installing schemathesis from $requirements into $venv" >&2
    local started=$SECONDS
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >&2; then
        echo "api-fuzz: '$python -m venv' failed; install Python 3 with venv (Debian: apt-get install python3-venv)" >&2
        return 1
    fi
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --requirement "$requirements" >&2; then
        echo "api-fuzz: pip could not install $requirements; is PyPI reachable?" >&2
        return 1
    fi
    echo "$wanted" >"$venv/.requirements.sha256"
    echo "api-fuzz: installed $("$venv/bin/schemathesis" --version) in $((SECONDS - started)) s" >&2
}

mkdir -p "$target/api-fuzz"
if command -v flock >/dev/null 2>&1; then
    exec {lock}>"$target/api-fuzz/.install.lock"
    flock "$lock"
    install
    flock --unlock "$lock"
else
    install
fi

# A directory per run, and in it one per pass: tests run side by side (one server on SQLite,
# one on PostgreSQL), and each pass's config holds its own server's identifiers. schemathesis
# writes caches into its working directory, so it runs there, never in the source tree. Kept
# when a pass fails, for its JUnit report.
runs=$target/api-fuzz/runs
mkdir -p "$runs"
run_dir=$(mktemp -d "$runs/run-XXXXXX")
failed=()
n=0
for arg in "$@"; do
    n=$((n + 1))
    if [[ $arg =~ ^([a-z][a-z0-9_-]*)=(.+)$ ]]; then
        role=${BASH_REMATCH[1]}
        token=${BASH_REMATCH[2]}
    else
        role=token$n
        token=$arg
    fi
    work=$run_dir/$role
    mkdir -p "$work"
    echo "api-fuzz: pass $n of $#: $role ($max_examples examples per operation, seed $seed)" >&2
    started=$SECONDS
    status=0
    # Half the tickets, streets, communities and departments sent are ones this token can
    # see (dictionaries.py). The options, and why:
    #   --exclude-tag live          the server-sent event streams never end, so a request to
    #                               one only ever stops at the timeout
    #   --continue-on-failure       an operation's first failure (say an undocumented 400)
    #                               does not end its testing, which would hide a 5xx behind it
    #   --generation-database none  nothing carried over from an earlier run: the seed alone
    #                               decides what is generated
    #   --request-timeout 10        a hung handler fails the pass instead of stalling it
    #   --workers 2                 the machines have two cores
    "$venv/bin/python" "$here/dictionaries.py" "$base_url" "$token" "$work/schemathesis.toml"
    (
        cd "$work"
        # schemathesis_cli.py: the schemathesis command, with its transports imported first.
        "$venv/bin/python" "$here/schemathesis_cli.py" --config-file "$work/schemathesis.toml" run "$spec_url" \
            --url "$base_url" \
            --header "Authorization: Bearer $token" \
            --checks "$checks" \
            --max-examples "$max_examples" \
            --seed "$seed" \
            --workers 2 \
            --exclude-tag live \
            --request-timeout 10 \
            --continue-on-failure \
            --generation-database none \
            --report junit \
            --report-dir "$work" \
            --no-color
    ) || status=$?
    echo "api-fuzz: $role finished in $((SECONDS - started)) s with exit code $status" >&2
    if [[ $status -ne 0 ]]; then
        failed+=("$role")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "api-fuzz: FAILED for ${failed[*]}; the reports are above, JUnit files under $run_dir/" >&2
    exit 1
fi
rm -rf "$run_dir"
echo "api-fuzz: every pass is clean ($# roles)" >&2
