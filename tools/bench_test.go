package tools

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// BenchmarkKVGetCall: one kv_get of a small value through its tool handler
// (binding and checking the arguments, the storage call, the result and its
// output-schema check), against its floor, the storage calls alone
// (resolving the namespace, reading the value), alternating in the same
// loop. It reports both, x-floor, and the output-schema check on its own
// (check-ns), the part DESIGN says tests need and production only logs.
func BenchmarkKVGetCall(b *testing.B) {
	ctx := context.Background()
	backend := local.New(b.TempDir())
	b.Cleanup(func() { backend.Close() })
	store := storage.Guard(backend, storage.Policy{})
	ns, err := store.KV().CreateNamespace(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	const value = "My Cloudflare Site"
	if err := store.KV().Put(ctx, ns.ID, storage.KVPut{Key: "site-title", Body: strings.NewReader(value), Size: int64(len(value))}); err != nil {
		b.Fatal(err)
	}
	all, err := All(Deps{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	var handler func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
	for _, t := range all {
		if t.Def.Name == "kv_get" {
			handler = t.Handler
		}
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "kv_get"
	req.Params.Arguments = map[string]any{"namespace": "bench", "key": "site-title"}
	req.Params.RawArguments = json.RawMessage(`{"namespace":"bench","key":"site-title"}`)
	storageOnly := func() {
		ns, err := store.Namespace(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		v, err := store.KV().Get(ctx, ns.ID, "site-title")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(v.Body); err != nil {
			b.Fatal(err)
		}
		v.Body.Close()
	}
	check := &call[kvGetIn, kvGetOut]{name: "kv_get", out: lazySchema{name: "kv_get.out", raw: []byte(generatedSchemas["kv_get"].out)}}
	_, text, err := successResult(kvGetOut{Found: true, Key: "site-title", Content: "in the text block", Encoding: "text", Size: 18, value: "My Cloudflare Site"})
	if err != nil {
		b.Fatal(err)
	}
	check.checkOutput(text) // compile the schema outside the loop, as the first call does
	var floor, checks time.Duration
	for b.Loop() {
		b.StopTimer()
		t0 := time.Now()
		storageOnly()
		t1 := time.Now()
		check.checkOutput(text)
		t2 := time.Now()
		floor, checks = floor+t1.Sub(t0), checks+t2.Sub(t1)
		b.StartTimer()
		res, err := handler(ctx, req)
		if err != nil || res.IsError {
			b.Fatalf("kv_get: %v %v", err, res)
		}
	}
	perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(perOp(floor), "storage-ns")
	b.ReportMetric(perOp(checks), "check-ns")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perOp(floor), "x-floor")
}
