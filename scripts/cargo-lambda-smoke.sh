#!/usr/bin/env bash
# Runs the documented cargo-lambda flow for real: `cargo lambda watch` serves the
# function on an emulated Lambda runtime API, `cargo lambda invoke` sends events
# from events/, and the responses are checked. Installs cargo-lambda (PyPI wheel)
# into a cached virtualenv if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LAMBDA_VERSION=1.9.2
venv="${XDG_CACHE_HOME:-$HOME/.cache}/sr-runner/cargo-lambda-venv"
if ! "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
export PATH="$venv/bin:$PATH"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"
# No reload: CI builds once. setsid puts watch and the function in one group to stop.
setsid cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$port" >"$log" 2>&1 &
watch_pid=$!
cleanup() { kill -- "-$watch_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

invoke() {
  cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$port" sr-runner --data-file "events/$1"
}

# Wait for the build and the first successful invocation (cold start).
deadline=$((SECONDS + 600))
until invoke health.json >/dev/null 2>&1; do
  if ((SECONDS > deadline)) || ! kill -0 "$watch_pid" 2>/dev/null; then
    echo "cargo lambda watch did not come up:"; cat "$log"; exit 1
  fi
  sleep 2
done

check() { # event file, expected status, text the body must contain
  local response
  response="$(invoke "$1")"
  python3 - "$1" "$2" "$3" "$response" <<'PY'
import json, sys
name, status, needle, raw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
response = json.loads(raw)
assert response["statusCode"] == status, f"{name}: status {response['statusCode']} != {status}: {raw}"
assert needle in response["body"], f"{name}: {needle!r} not in {response['body']!r}"
print(f"ok  {name}: {status}")
PY
}

check health.json 200 '"status":"ok"'
check once-python.json 200 'Hello, Lambda!'
check once-c.json 200 '42'
check start.json 200 '"waitingForInput":true'
check malformed-json.json 400 '"error"'
check unknown-session.json 404 '"error"'
echo "cargo-lambda flow: all invocations answered as expected"
