#!/usr/bin/env bash
# Runs the consoles' browser tests: headless Chromium, driven by playwright-core, against a
# running whistle with demo data.
#
#   services/web/tests/run.sh BASE_URL
#
#   CHROMIUM           the browser (default: chromium on the PATH, Debian's package)
#   SCREENSHOTS        where each console's screenshot goes (default docs/screenshots)
#
# Installs playwright-core (pinned by services/web/package-lock.json) with npm when it is
# missing, and Chromium from Debian's packages (through deploy/dev-services.sh) when there is
# none. Exits non-zero when a test fails or when either cannot be installed.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
web=$(cd "$here/.." && pwd)
root=$(cd "$web/../.." && pwd)

if ! command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; then
    "$root/deploy/dev-services.sh"
fi
lock="$web/package-lock.json"
stamp="$web/node_modules/.installed-from-lock"
if [[ ! -f "$stamp" ]] || ! cmp -s "$lock" "$stamp"; then
    echo "browser tests: installing playwright-core with npm ci" >&2
    (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund >&2)
    cp "$lock" "$stamp"
fi

export WHISTLE_URL=$1
export CHROMIUM=${CHROMIUM:-$(command -v chromium)}
export SCREENSHOTS=${SCREENSHOTS:-$root/docs/screenshots}
mkdir -p "$SCREENSHOTS"
cd "$here"
exec node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs
