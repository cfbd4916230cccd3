package httpserve_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"slices"
	"strings"
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
// backend, with sessions (stateful) and without (stateless), for each era
// of the protocol: 2025-11-25, where the server's sessions are at work
// (Mcp-Session-Id, checked on every request), and 2026-07-28 (the SDK's
// default), which has none, so that the server's --stateless changes
// nothing there. In the same
// run, the same clients call the floor: an mcp-go server of the same
// version, with no checks in front, whose one tool kv_get returns a
// constant. Rounds alternate between the two so that both see the same
// machine. It reports calls per second and 99th-percentile latency of
// each, and x-floor, the ratio of their calls per second. Since other
// programs on a shared machine move wall-clock figures, it also reports the
// CPU time this process (server and clients) spends per call on each, and
// x-floor-cpu, the floor's over ours: the same ratio for a machine of its
// own. A burst of load from elsewhere skews the round it falls in, so each
// ratio is also reported as the median of the ratios of the pairs of
// rounds (-med) and as the ratio of each side's best round (-best).
//
// The goroutines of each side carry the profiler label side=ours, floor or
// client (and the client's server=ours or floor), so that one -cpuprofile
// of a run splits into them: go tool pprof -tagfocus side=ours.
func BenchmarkKVGetHTTP50(b *testing.B) {
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		for _, stateless := range []bool{false, true} {
			name := version + "/stateful"
			if stateless {
				name = version + "/stateless"
			}
			b.Run(name, func(b *testing.B) {
				ours := benchSessions(b, serveOurs(b, stateless), version, "ours")
				floor := benchSessions(b, serveFloor(b, stateless), version, "floor")
				const rounds = 10
				our, flo := callStats{server: "ours"}, callStats{server: "floor"}
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
				speed := func(r round) float64 { return r.perSecond() }
				cost := func(r round) float64 { return -r.cpuPerCall() } // higher is better
				b.ReportMetric(medianRatio(our.rounds, flo.rounds, speed), "x-floor-med")
				b.ReportMetric(best(our.rounds, speed)/best(flo.rounds, speed), "x-floor-best")
				b.ReportMetric(medianRatio(flo.rounds, our.rounds, func(r round) float64 { return r.cpuPerCall() }), "x-floor-cpu-med")
				b.ReportMetric(best(flo.rounds, cost)/best(our.rounds, cost), "x-floor-cpu-best")
			})
		}
	}
}

// BenchmarkKVGetServer: the server's side of BenchmarkKVGetHTTP50 alone,
// with neither network nor clients: the kv_get request the official Go SDK
// sends, in each era of the protocol, handed to our handler tree and to the
// floor's, alternately, in one goroutine (ns/op is the pair). It reports
// the time and allocations of a call to each, and x-floor, the floor's
// time over ours.
// (Sessionless: with 2025-11-25, without --stateless, a request needs a
// session; the ids are checked by a map lookup.)
func BenchmarkKVGetServer(b *testing.B) {
	ours := ourHandler(b, true)
	floor := server.NewStreamableHTTPServer(floorServer(), server.WithStateLess(true))
	for _, c := range []struct {
		version, body string
		header        http.Header
	}{
		{"2025-11-25", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"kv_get","arguments":{"key":"site-title","namespace":"bench"}}}`, nil},
		{"2026-07-28", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"kv_get","arguments":{"key":"site-title","namespace":"bench"}}}`,
			http.Header{"Mcp-Method": {"tools/call"}, "Mcp-Name": {"kv_get"}}},
	} {
		b.Run(c.version, func(b *testing.B) {
			call := func(h http.Handler) *httptest.ResponseRecorder {
				ctx, cancel := context.WithCancel(context.Background()) // a request's context can end
				defer cancel()
				r := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:8787/mcp", strings.NewReader(c.body))
				r.Header = http.Header{"Accept": {"application/json, text/event-stream"}, "Content-Type": {"application/json"},
					"Mcp-Protocol-Version": {c.version}}
				maps.Copy(r.Header, c.header)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			for _, h := range []http.Handler{ours, floor} {
				if w := call(h); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "My Cloudflare Site") || strings.Contains(w.Body.String(), `"isError":true`) {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			ourAllocs, floorAllocs := testing.AllocsPerRun(100, func() { call(ours) }), testing.AllocsPerRun(100, func() { call(floor) })
			var ourTime, floorTime time.Duration
			for b.Loop() {
				t0 := time.Now()
				call(floor)
				t1 := time.Now()
				call(ours)
				ourTime, floorTime = ourTime+time.Since(t1), floorTime+t1.Sub(t0)
			}
			b.ReportMetric(float64(ourTime.Nanoseconds())/float64(b.N), "ns/call")
			b.ReportMetric(float64(floorTime.Nanoseconds())/float64(b.N), "floor-ns/call")
			b.ReportMetric(floorTime.Seconds()/ourTime.Seconds(), "x-floor")
			b.ReportMetric(ourAllocs, "allocs/call")
			b.ReportMetric(floorAllocs, "floor-allocs/call")
		})
	}
}

// ourHandler is the real tools behind httpserve's handler tree, with a
// value to read. Logs go where production's do at its default level.
func ourHandler(b *testing.B, stateless bool) http.Handler {
	b.Helper()
	srv := ourServer(b)
	h := httpserve.New(srv, httpserve.Options{Stateless: stateless, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
	ts := httptest.NewServer(h)
	defer ts.Close()
	setup := connect(b, ts.URL+httpserve.PathMCP, nil)
	setup.OK("create_kv_namespace", map[string]any{"title": "bench"})
	setup.OK("kv_put", map[string]any{"namespace": "bench", "key": "site-title", "value": "My Cloudflare Site"})
	return h
}

// ourServer is the MCP server of the real tools on a fresh embedded store.
func ourServer(b *testing.B) *server.MCPServer {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, closeStore, err := mcptest.LocalServer(b.TempDir(), storage.Policy{}, mcpserver.Options{Log: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(closeStore)
	return srv
}

// serveOurs serves the real tools over httpserve, with a value to read, and
// returns the /mcp URL. Logs go where production's do at its default level.
func serveOurs(b *testing.B, stateless bool) string {
	b.Helper()
	hs := httpserve.New(ourServer(b), httpserve.Options{Listen: "127.0.0.1:0", Stateless: stateless,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	addrc, errc := make(chan net.Addr, 1), make(chan error, 1)
	labelled(pprof.Labels("side", "ours"), func() {
		go func() { errc <- hs.Serve(ctx, func(a net.Addr) { addrc <- a }) }()
	})
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

// serveFloor serves the floor (floorServer) over mcp-go's Streamable HTTP
// alone.
func serveFloor(b *testing.B, stateless bool) string {
	b.Helper()
	var ts *httptest.Server
	labelled(pprof.Labels("side", "floor"), func() {
		ts = httptest.NewServer(server.NewStreamableHTTPServer(floorServer(), server.WithStateLess(stateless)))
	})
	b.Cleanup(ts.Close)
	return ts.URL + "/mcp"
}

// floorServer is the floor: mcp-go alone, one tool returning what kv_get
// returns for the value ourHandler and serveOurs write.
func floorServer() *server.MCPServer {
	srv := server.NewMCPServer("floor", "1", server.WithToolCapabilities(false))
	answer := &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(`{"found":true,"key":"site-title","value":"My Cloudflare Site","encoding":"text","size":18}`)},
		StructuredContent: map[string]any{"found": true, "key": "site-title", "value": "My Cloudflare Site", "encoding": "text", "size": 18},
	}
	srv.AddTool(mcp.NewTool("kv_get", mcp.WithString("namespace", mcp.Required()), mcp.WithString("key", mcp.Required())),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res := *answer // mcp-go decorates each result in place (_meta, resultType)
			return &res, nil
		})
	return srv
}

// benchSessions connects the clients, as separate programs would: each
// keeps its connections. They ask for the given protocol version. Their
// goroutines carry the profiler labels side=client and server=server.
func benchSessions(b *testing.B, url, version, server string) []*sdk.ClientSession {
	b.Helper()
	sessions := make([]*sdk.ClientSession, benchClients)
	for i := range sessions {
		client := sdk.NewClient(&sdk.Implementation{Name: "bench", Version: "1"}, nil)
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		var s *sdk.ClientSession
		var err error
		labelled(pprof.Labels("side", "client", "server", server), func() {
			s, err = client.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc},
				&sdk.ClientSessionOptions{ProtocolVersion: version})
		})
		if err != nil {
			b.Fatal(err)
		}
		if got := s.InitializeResult().ProtocolVersion; got != version {
			b.Fatalf("the session speaks protocol %s, not %s", got, version)
		}
		b.Cleanup(func() { s.Close() })
		sessions[i] = s
	}
	return sessions
}

// callStats gathers the latencies and the time of rounds of calls to one
// server ("ours" or "floor").
type callStats struct {
	server  string
	lat     []time.Duration
	elapsed time.Duration
	cpu     time.Duration // user and system time of the whole process
	rounds  []round
}

// round is the outcome of one call to callStats.add.
type round struct {
	calls        int
	elapsed, cpu time.Duration
}

func (r round) perSecond() float64  { return float64(r.calls) / r.elapsed.Seconds() }
func (r round) cpuPerCall() float64 { return float64(r.cpu.Microseconds()) / float64(r.calls) }

// medianRatio is the median over the pairs of rounds (ours[i], theirs[i])
// of f(ours[i]) / f(theirs[i]).
func medianRatio(ours, theirs []round, f func(round) float64) float64 {
	ratios := make([]float64, min(len(ours), len(theirs)))
	for i := range ratios {
		ratios[i] = f(ours[i]) / f(theirs[i])
	}
	slices.Sort(ratios)
	if n := len(ratios); n%2 == 0 {
		return (ratios[n/2-1] + ratios[n/2]) / 2
	}
	return ratios[len(ratios)/2]
}

// best is the greatest f over rounds.
func best(rounds []round, f func(round) float64) float64 {
	v := f(rounds[0])
	for _, r := range rounds[1:] {
		v = max(v, f(r))
	}
	return v
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
			pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("side", "client", "server", s.server)))
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
	r := round{elapsed: time.Since(start), cpu: processCPU(b) - cpu0}
	all := slices.Concat(lat...)
	r.calls = len(all)
	s.elapsed += r.elapsed
	s.cpu += r.cpu
	s.lat = append(s.lat, all...)
	s.rounds = append(s.rounds, r)
}

// labelled runs f, and the goroutines it starts, under the profiler labels.
func labelled(labels pprof.LabelSet, f func()) {
	pprof.Do(context.Background(), labels, func(context.Context) { f() })
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
