#!/usr/bin/env bash
# Checks the requests of the Cloudflare REST client (internal/cf) against
# Cloudflare's published API description: Stoplight Prism serves the spec as
# a validating mock (--errors: a request that breaks the spec gets a 4xx and
# an sl-violations header describing the breach), and TestPrism in
# internal/cf sends every REST operation of the backend to it. The spec lives
# in shared/reference beside the repository and is never copied into it.
# Prism 5.14.2 runs on the machine's Node 20 (engines: node >= 18.20.1;
# later releases need Node 24).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
spec="$root/../shared/reference/cloudflare-storage-openapi.json"
work="$(mktemp -d)"
pid=""
stop_prism() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  pid=""
}
trap 'stop_prism; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

if [ ! -f "$spec" ]; then
  # Like the spec tests of internal/cf/cffake: without shared/reference
  # beside the clone there is nothing to check against. Said loudly.
  echo "prism: SKIPPED: the spec is not at $spec (shared/reference beside the repository)" >&2
  exit 0
fi

cd "$here"
timeout 600 npm ci --no-audit --no-fund --loglevel=error
prism="$here/node_modules/.bin/prism"
echo "prism $("$prism" --version) on node $(node --version)"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Start Prism on a free random loopback port; try another port if it does
# not come up (the port was taken in the meantime, say).
url=""
for attempt in 1 2 3; do
  port=$((20000 + RANDOM % 20000))
  if port_open "$port"; then continue; fi
  : >"$work/prism.log"
  "$prism" mock "$spec" --errors --host 127.0.0.1 --port "$port" >"$work/prism.log" 2>&1 &
  pid=$!
  # Prism listens once it has read the spec: a few seconds.
  for _ in $(seq 600); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if port_open "$port" && grep -q "Prism is listening" "$work/prism.log"; then
      url="http://127.0.0.1:$port"
      break
    fi
    sleep 0.1
  done
  if [ -n "$url" ]; then break; fi
  echo "prism: did not start on port $port (attempt $attempt); its log:" >&2
  cat "$work/prism.log" >&2
  stop_prism
done
if [ -z "$url" ]; then
  echo "prism: could not start Prism" >&2
  exit 1
fi
echo "prism listening at $url"

status=0
(cd "$root" && MCP_CFSTORAGE_PRISM_URL="$url" MCP_CFSTORAGE_PRISM_SPEC="$spec" \
  timeout 600 go test -count=1 -timeout 300s -run '^TestPrism$' -v ./internal/cf) >"$work/test.out" 2>&1 || status=$?
cat "$work/test.out"
# The test skips itself without the URL: make sure it ran, and passed.
if [ "$status" -eq 0 ] && ! grep -q '^--- PASS: TestPrism ' "$work/test.out"; then
  echo "prism: TestPrism did not run" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- prism log ---"
  cat "$work/prism.log"
fi
exit "$status"
