package resources_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// readCodes are the codes a read of any URI may fail with.
var readCodes = []string{
	string(storage.CodeInvalidArgument), string(storage.CodeNotFound), string(storage.CodeTooLarge),
	string(storage.CodePermissionDenied), string(storage.CodeUnsupported),
}

// FuzzResourceRead reads arbitrary URIs from a server holding a namespace,
// a bucket and a database: a read succeeds, is not found (-32002 or
// -32602), or fails with a message that starts with an expected code;
// never an internal error or a panic.
//
//	go test ./resources -run '^$' -fuzz FuzzResourceRead -fuzztime 60s
func FuzzResourceRead(f *testing.F) {
	for _, uri := range []string{
		"r2://seeded/", "r2://seeded/dir/", "r2://seeded/dir/a.txt", "r2://seeded/dir/?cursor=x",
		"kv://seeded/", "kv://seeded/a%2Fb", "kv://seeded/k?cursor=bogus", "kv://0123456789abcdef0123456789abcdef/",
		"d1://seeded/", "d1://seeded/t", "d1://seeded/%22t%22", "d1://seeded/t/extra",
		"r2://", "kv:///", "d1://", "r2://Bad_Bucket/x", "r2://seeded/%zz", "s3://x/y", "",
	} {
		f.Add(uri)
	}
	c := seededClient(f)

	f.Fuzz(func(t *testing.T, uri string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		_, err := c.ReadResource(ctx, req)
		if err == nil || errors.Is(err, mcp.ErrResourceNotFound) || errors.Is(err, mcp.ErrInvalidParams) {
			return
		}
		msg := err.Error()
		if !slices.ContainsFunc(readCodes, func(code string) bool { return strings.Contains(msg, code+": ") }) {
			t.Fatalf("read %q: %v", uri, err)
		}
	})
}

// seededClient connects to a server on a fresh embedded store holding a
// namespace, a bucket and a database named "seeded", with a value, an object
// and a table t (rows 1 and x'00') in them.
func seededClient(f *testing.F) *client.Client {
	srv, closeStore, err := mcptest.LocalServer(f.TempDir(), storage.Policy{}, mcpserver.Options{}, f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(closeStore)
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		f.Fatal(err)
	}
	s := mcptest.Connect(f, c)
	s.OK("create_kv_namespace", map[string]any{"title": "seeded"})
	s.OK("kv_put", map[string]any{"namespace": "seeded", "key": "a/b", "value": "v"})
	s.OK("create_r2_bucket", map[string]any{"name": "seeded"})
	s.OK("r2_upload", map[string]any{"bucket": "seeded", "key": "dir/a.txt", "content": "hi"})
	s.OK("create_d1_database", map[string]any{"name": "seeded"})
	s.OK("d1_query", map[string]any{"database": "seeded", "sql": "CREATE TABLE t (x); INSERT INTO t VALUES (1), (x'00')"})
	return c
}
