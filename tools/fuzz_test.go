package tools_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// expectedCodes are the codes a call with any arguments may fail with. An
// internal error, or an error without a code, means a bad call reached
// somewhere it should not have.
var expectedCodes = []storage.Code{
	storage.CodeInvalidArgument, storage.CodeNotFound, storage.CodeAlreadyExists, storage.CodeConflict,
	storage.CodeTooLarge, storage.CodePermissionDenied, storage.CodeReadOnly, storage.CodeUnsupported,
}

// FuzzToolCall calls the tools with arbitrary JSON arguments on one server
// (so that state from earlier calls is there to be hit). Every call must
// answer: a result that succeeds, or an error result whose text starts with
// one of the expected codes. Never a protocol error, a panic, an internal
// error or an error without a code.
//
//	go test ./tools -run '^$' -fuzz FuzzToolCall -fuzztime 60s
func FuzzToolCall(f *testing.F) {
	seeds := []struct{ tool, args string }{
		{"whoami", `{}`},
		{"list_kv_namespaces", `{"limit": 5}`},
		{"create_kv_namespace", `{"title": "fuzz"}`},
		{"kv_put", `{"namespace": "seeded", "key": "a/b?c", "value": "v", "expiration_ttl": 60, "metadata": {"x": 1}}`},
		{"kv_put", `{"namespace": "seeded", "key": "bin", "value_base64": "AAEC/w=="}`},
		{"kv_get", `{"namespace": "seeded", "key": "a/b?c", "encoding": "json"}`},
		{"kv_list", `{"namespace": "seeded", "prefix": "a", "limit": 10, "cursor": "bogus"}`},
		{"kv_bulk_put", `{"namespace": "seeded", "entries": [{"key": "k", "value": "dg==", "base64": true}]}`},
		{"kv_bulk_get", `{"namespace": "seeded", "keys": ["k", "nope"]}`},
		{"kv_bulk_delete", `{"namespace": "seeded", "keys": ["k"]}`},
		{"kv_delete", `{"namespace": "seeded", "key": ".."}`},
		{"rename_kv_namespace", `{"namespace": "seeded", "title": "seeded"}`},
		{"delete_kv_namespace", `{"namespace": "fuzz", "confirm": "fuzz"}`},
		{"list_r2_buckets", `{"prefix": "s"}`},
		{"create_r2_bucket", `{"name": "fuzz-bucket", "location_hint": "weur", "jurisdiction": "eu"}`},
		{"r2_upload", `{"bucket": "seeded", "key": "dir/a.txt", "content": "hi", "content_type": "text/plain", "custom_metadata": {"k": "v"}}`},
		{"r2_list", `{"bucket": "seeded", "delimiter": "", "limit": 1}`},
		{"r2_download", `{"bucket": "seeded", "key": "dir/a.txt", "range_start": 1, "range_end": 0}`},
		{"r2_download", `{"bucket": "seeded", "key": "dir/a.txt", "save_to": "../out"}`},
		{"r2_head", `{"bucket": "seeded", "key": "dir/a.txt"}`},
		{"r2_copy", `{"source_bucket": "seeded", "source_key": "dir/a.txt", "bucket": "seeded", "key": "b"}`},
		{"r2_delete", `{"bucket": "seeded", "keys": ["b", ""]}`},
		{"r2_presign", `{"bucket": "seeded", "key": "x", "method": "PUT", "expires_in": 0}`},
		{"delete_r2_bucket", `{"bucket": "fuzz-bucket", "confirm": "fuzz-bucket"}`},
		{"list_d1_databases", `{}`},
		{"create_d1_database", `{"name": "fuzz_db"}`},
		{"d1_query", `{"database": "seeded", "sql": "CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (?)", "params": [1]}`},
		{"d1_query", `{"database": "seeded", "sql": "SELECT * FROM t WHERE x = ?; SELECT zeroblob(4)", "params": [null]}`},
		{"d1_query", `{"database": "seeded", "sql": "ATTACH 'x' AS y"}`},
		{"delete_d1_database", `{"database": "fuzz_db", "confirm": "fuzz_db"}`},
		{"kv_put", `{"namespace": 5, "key": [], "value": {}}`},
		{"nonexistent", `[1, 2]`},
	}
	for _, s := range seeds {
		f.Add(s.tool, s.args)
	}

	c, names := fuzzServer(f)
	f.Fuzz(func(t *testing.T, tool, args string) {
		// Any string picks a tool, so that the fuzzer's mutations of the
		// name still reach one.
		if !slices.Contains(names, tool) {
			tool = names[int(uint(len(tool))+uint(strings.Count(tool, "_")))%len(names)]
		}
		var arguments any
		if err := json.Unmarshal([]byte(args), &arguments); err != nil {
			arguments = args // not JSON: sent as a string
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := mcp.CallToolRequest{}
		req.Params.Name = tool
		req.Params.Arguments = arguments
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("%s(%s): protocol error: %v", tool, args, err)
		}
		if !res.IsError {
			return
		}
		text := mcptest.Text(res)
		code, _, ok := strings.Cut(text, ": ")
		if !ok || !slices.Contains(expectedCodes, storage.Code(code)) {
			t.Fatalf("%s(%s): error without an expected code: %s", tool, args, text)
		}
	})
}

// fuzzServer starts a server with a namespace, a bucket and a database named
// "seeded", and returns a connected client and the names of its tools.
func fuzzServer(f *testing.F) (*client.Client, []string) {
	srv := newServer(f, f, setup{}, f.TempDir(), f.TempDir())
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	s := mcptest.Connect(f, c)
	s.OK("create_kv_namespace", map[string]any{"title": "seeded"})
	s.OK("create_r2_bucket", map[string]any{"name": "seeded"})
	s.OK("create_d1_database", map[string]any{"name": "seeded"})
	var names []string
	for name := range s.Tools {
		names = append(names, name)
	}
	slices.Sort(names)
	return c, names
}
