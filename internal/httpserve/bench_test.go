package httpserve_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/httpserve"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// BenchmarkKVGetHTTP50: kv_get over Streamable HTTP from 50 concurrent
// clients, each with its own session, on the embedded backend. It reports
// calls per second and the 99th-percentile latency.
func BenchmarkKVGetHTTP50(b *testing.B) {
	f := start(b, httpserve.Options{})
	setup := connect(b, f.url+"/mcp", nil)
	setup.OK("create_kv_namespace", map[string]any{"title": "bench"})
	setup.OK("kv_put", map[string]any{"namespace": "bench", "key": "site-title", "value": "My Cloudflare Site"})
	const clients = 50
	sessions := make([]*mcptest.Session, clients)
	for i := range sessions {
		sessions[i] = connect(b, f.url+"/mcp", nil)
	}
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := mcp.CallToolRequest{}
			req.Params.Name = "kv_get"
			req.Params.Arguments = map[string]any{"namespace": "bench", "key": "site-title"}
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				res, err := sessions[c].Client.CallTool(context.Background(), req)
				if err != nil || res.IsError {
					b.Errorf("kv_get: %v %v", err, res)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}
