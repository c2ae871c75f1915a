#!/usr/bin/env bash
# Browser tests of the web playground (web/): real headless Chromium (Debian's
# `chromium` package; no browser download) driven by playwright-core, against a
# local sr-runner. Installs what is missing, starts the server on a free loopback
# port, runs `node --test` in tests/browser and always stops the server.
# Screenshots land in target/browser-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if [[ ! -x /usr/bin/chromium ]]; then
  as_root=()
  [[ "$(id -u)" == 0 ]] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get install -y --no-install-recommends chromium \
    || { "${as_root[@]}" apt-get update && "${as_root[@]}" apt-get install -y --no-install-recommends chromium; }
fi

# npm ci only when node_modules was not installed from this exact lock file.
stamp=tests/browser/node_modules/.installed-from-lock
if ! cmp -s tests/browser/package-lock.json "$stamp" 2>/dev/null; then
  (cd tests/browser && npm ci --no-audit --no-fund)
  cp tests/browser/package-lock.json "$stamp"
fi

cargo build --quiet

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"
PORT="$port" HOST=127.0.0.1 MAX_SESSIONS=2 RUN_TIMEOUT_SECS=10 RUST_LOG="${RUST_LOG:-warn}" \
  "$root/target/debug/sr-runner" >"$log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

url="http://127.0.0.1:$port"
deadline=$((SECONDS + 120))
until curl -sf "$url/api/health" >/dev/null; do
  if ((SECONDS > deadline)) || ! kill -0 "$server_pid" 2>/dev/null; then
    echo "sr-runner did not come up on $url:"; cat "$log"; exit 1
  fi
  sleep 0.5
done

export SR_RUNNER_URL="$url"
export SCREENSHOT_DIR="$root/target/browser-screenshots"
mkdir -p "$SCREENSHOT_DIR"
status=0
(cd tests/browser && node --test --test-reporter=spec "$@") || status=$?
if ((status != 0)); then
  echo "--- server log (last 60 lines) ---"; tail -n 60 "$log"
fi
echo "screenshots: $SCREENSHOT_DIR"
exit "$status"
