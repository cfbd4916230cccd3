#!/usr/bin/env bash
# Runs the tests that need a real `wrangler dev` (Cloudflare's workerd runtime
# through Miniflare): the wrangler backend against the Local Explorer API and
# the persisted state, and the behaviour suite against Cloudflare's own
# implementation. wrangler 4.164.0 and Node 22 (wrangler needs >= 22.12) are
# pinned in package-lock.json; the machine's Node only runs npm. workerd's
# and esbuild's binaries arrive as platform packages, so npm 11 skipping
# install scripts does not matter. Offline, wrangler warns once that it cannot
# fetch the request.cf object and works.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
export PATH="$here/node_modules/.bin:$PATH"
export WRANGLER_BIN="$here/node_modules/.bin/wrangler"
export WRANGLER_SEND_METRICS=false
# A test that needs wrangler fails, rather than skips, when it finds none.
export CFSTORAGE_REQUIRE_WRANGLER=1
echo "wrangler $("$WRANGLER_BIN" --version | tail -1) on node $(node --version)"

cd "$root"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
{
  go test -count=1 -v ./internal/wrangler/...
  go test -count=1 -v -run 'Wrangler' ./cmd/mcp-cfstorage
} >"$log" 2>&1 || status=$?
grep -E '^(---|ok|FAIL|panic)|SKIP' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "--- full output ---"; cat "$log"
  exit "$status"
fi
if grep -q 'SKIPPED: needs a real wrangler' "$log"; then
  echo "a test that needs wrangler was skipped although WRANGLER_BIN is set" >&2
  exit 1
fi
