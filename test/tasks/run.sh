#!/usr/bin/env bash
# Runs uploads and downloads as tool-call tasks through a real client: the
# official MCP TypeScript SDK (pinned in package-lock.json), whose Client has
# client-side tasks (experimental.tasks: callToolStream, getTask, cancelTask),
# over stdio and Streamable HTTP against the built binary
# (cmd/mcp-cfstorage/tasks_sdk_e2e_test.go drives client.mjs). The machine's
# Node (>= 20) runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

cd "$here"
timeout 600 npm ci --no-audit --no-fund --loglevel=error
export CFSTORAGE_TASKS_CLIENT="$here"
# A test that needs the client fails, rather than skips, when it finds none.
export CFSTORAGE_REQUIRE_TASKS_CLIENT=1
echo "@modelcontextprotocol/sdk $(node -p 'require("./node_modules/@modelcontextprotocol/sdk/package.json").version') on node $(node --version)"

cd "$root"
go test -count=1 -v -run 'TestTransferTasksWithTheTypeScriptSDK' ./cmd/mcp-cfstorage
