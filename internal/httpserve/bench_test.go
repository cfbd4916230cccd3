package httpserve_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/httpserve"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// benchClients is how many sessions call at once.
const benchClients = 50

// BenchmarkKVGetHTTP50: kv_get of a small value over Streamable HTTP from
// 50 concurrent clients of the official Go SDK, each with its own session, on the embedded
// backend, with sessions (stateful) and without (stateless). In the same
// run, the same clients call the floor: an mcp-go server of the same
// version, with no checks in front, whose one tool kv_get returns a
// constant. Rounds alternate between the two so that both see the same
// machine. It reports calls per second and 99th-percentile latency of
// each, and x-floor, the ratio of their calls per second. Since other
// programs on a shared machine move wall-clock figures, it also reports the
// CPU time this process (server and clients) spends per call on each, and
// x-floor-cpu, the floor's over ours: the same ratio for a machine of its
// own.
func BenchmarkKVGetHTTP50(b *testing.B) {
	for _, stateless := range []bool{false, true} {
		name := "stateful"
		if stateless {
			name = "stateless"
		}
		b.Run(name, func(b *testing.B) {
			ours := benchSessions(b, serveOurs(b, stateless))
			floor := benchSessions(b, serveFloor(b, stateless))
			const rounds = 10
			var our, flo callStats
			b.ResetTimer()
			for r := range 2 * rounds {
				n := b.N/rounds + 1
				if r%2 == 0 {
					b.StopTimer()
					flo.add(b, floor, n)
					b.StartTimer()
				} else {
					our.add(b, ours, n)
				}
			}
			b.StopTimer()
			b.ReportMetric(our.perSecond(), "calls/s")
			b.ReportMetric(our.p99(), "p99-ms")
			b.ReportMetric(flo.perSecond(), "floor-calls/s")
			b.ReportMetric(flo.p99(), "floor-p99-ms")
			b.ReportMetric(our.perSecond()/flo.perSecond(), "x-floor")
			b.ReportMetric(our.cpuPerCall(), "cpu-us/call")
			b.ReportMetric(flo.cpuPerCall(), "floor-cpu-us/call")
			b.ReportMetric(flo.cpuPerCall()/our.cpuPerCall(), "x-floor-cpu")
		})
	}
}

// serveOurs serves the real tools over httpserve, with a value to read, and
// returns the /mcp URL. Logs go where production's do at its default level.
func serveOurs(b *testing.B, stateless bool) string {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, closeStore, err := mcptest.LocalServer(b.TempDir(), storage.Policy{}, mcpserver.Options{Log: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(closeStore)
	hs := httpserve.New(srv, httpserve.Options{Listen: "127.0.0.1:0", Stateless: stateless, Log: logger})
	ctx, cancel := context.WithCancel(context.Background())
	addrc, errc := make(chan net.Addr, 1), make(chan error, 1)
	go func() { errc <- hs.Serve(ctx, func(a net.Addr) { addrc <- a }) }()
	b.Cleanup(func() { cancel(); <-errc })
	var url string
	select {
	case a := <-addrc:
		url = "http://" + a.String() + httpserve.PathMCP
	case err := <-errc:
		b.Fatal(err)
	}
	setup := connect(b, url, nil)
	setup.OK("create_kv_namespace", map[string]any{"title": "bench"})
	setup.OK("kv_put", map[string]any{"namespace": "bench", "key": "site-title", "value": "My Cloudflare Site"})
	return url
}

// serveFloor serves the floor: mcp-go alone, one tool returning what kv_get
// returns for the value serveOurs wrote.
func serveFloor(b *testing.B, stateless bool) string {
	b.Helper()
	srv := server.NewMCPServer("floor", "1", server.WithToolCapabilities(false))
	answer := &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(`{"found":true,"key":"site-title","value":"My Cloudflare Site","encoding":"text","size":18}`)},
		StructuredContent: map[string]any{"found": true, "key": "site-title", "value": "My Cloudflare Site", "encoding": "text", "size": 18},
	}
	srv.AddTool(mcp.NewTool("kv_get", mcp.WithString("namespace", mcp.Required()), mcp.WithString("key", mcp.Required())),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) { return answer, nil })
	ts := httptest.NewServer(server.NewStreamableHTTPServer(srv, server.WithStateLess(stateless)))
	b.Cleanup(ts.Close)
	return ts.URL + "/mcp"
}

// benchSessions connects the clients, as separate programs would: each
// keeps its connections.
func benchSessions(b *testing.B, url string) []*sdk.ClientSession {
	b.Helper()
	sessions := make([]*sdk.ClientSession, benchClients)
	for i := range sessions {
		client := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		s, err := client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		sessions[i] = s
	}
	return sessions
}

// callStats gathers the latencies and the time of rounds of calls.
type callStats struct {
	lat     []time.Duration
	elapsed time.Duration
	cpu     time.Duration // user and system time of the whole process
}

// add makes n kv_get calls, spread over the sessions calling at once.
func (s *callStats) add(b *testing.B, sessions []*sdk.ClientSession, n int) {
	var next atomic.Int64
	lat := make([][]time.Duration, len(sessions))
	cpu0 := processCPU(b)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range sessions {
		wg.Go(func() {
			params := &sdk.CallToolParams{Name: "kv_get", Arguments: map[string]any{"namespace": "bench", "key": "site-title"}}
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				res, err := sessions[c].CallTool(context.Background(), params)
				if err != nil || res.IsError {
					b.Errorf("kv_get: %v %v", err, res)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	s.elapsed += time.Since(start)
	s.cpu += processCPU(b) - cpu0
	s.lat = append(s.lat, slices.Concat(lat...)...)
}

// processCPU is the user and system time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (s *callStats) cpuPerCall() float64 { return float64(s.cpu.Microseconds()) / float64(len(s.lat)) }

func (s *callStats) perSecond() float64 { return float64(len(s.lat)) / s.elapsed.Seconds() }

func (s *callStats) p99() float64 {
	slices.Sort(s.lat)
	return float64(s.lat[len(s.lat)*99/100].Microseconds()) / 1000
}
