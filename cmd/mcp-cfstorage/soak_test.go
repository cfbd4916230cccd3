package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// Soak figures: iterations of the mixed loop (each five tool calls, one of
// them an upload with progress, whose response is upgraded to SSE), and how
// much the server's resident memory may grow from the end of the warm-up to
// the end of the loop.
const (
	soakWarmup    = 200
	soakLoop      = 800
	soakGrowthKiB = 4 << 10
)

// TestHTTPSoak runs the built server over HTTP, with and without sessions,
// through a bounded loop of mixed tool calls, and checks that its resident
// memory (VmRSS of the process) after the loop stays within soakGrowthKiB of
// its value after a warm-up: nothing a call leaves behind may pile up.
func TestHTTPSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test; runs without -short")
	}
	for _, stateless := range []bool{false, true} {
		name := "stateful"
		if stateless {
			name = "stateless"
		}
		t.Run(name, func(t *testing.T) {
			files := t.TempDir()
			blob := filepath.Join(files, "blob.bin")
			if err := os.WriteFile(blob, make([]byte, 64<<10), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"--backend", "local", "--data-dir", t.TempDir(), "--files-root", files}
			if stateless {
				args = append(args, "--stateless")
			}
			p := startHTTPServer(t, args...)
			legacy := client.WithProtocolVersion(mcp.ProtocolVersion20251125)
			main := p.connect(t, legacy)
			main.OK("create_kv_namespace", map[string]any{"title": "soak"})
			main.OK("create_r2_bucket", map[string]any{"name": "soak"})

			// A short-lived second session, of either protocol era.
			var extra *mcptest.Session
			run := func(from, to int) {
				for i := from; i < to; i++ {
					if i%20 == 0 {
						if extra != nil {
							p.end(t, extra)
						}
						era := legacy
						if i%40 == 0 {
							era = client.WithProtocolVersion(mcp.LATEST_PROTOCOL_VERSION)
						}
						extra = p.connect(t, era)
					}
					s := main
					if i%4 == 0 {
						s = extra
					}
					key := fmt.Sprintf("k%d", i%64)
					s.OK("kv_put", map[string]any{"namespace": "soak", "key": key, "value": fmt.Sprintf("value %d", i)})
					uploadWithProgress(t, s, fmt.Sprintf("o%d", i%16), blob, i)
					if i%8 == 0 {
						s.OK("kv_get", map[string]any{"namespace": "soak", "key": key})
						s.OK("r2_list", map[string]any{"bucket": "soak"})
					}
				}
			}
			start := time.Now()
			run(0, soakWarmup)
			warm := rss(t, p)
			run(soakWarmup, soakWarmup+soakLoop)
			after := rss(t, p)
			t.Logf("%s: VmRSS %d KiB after %d warm-up iterations, %d KiB after %d more (%+d KiB); %v",
				name, warm, soakWarmup, after, soakLoop, after-warm, time.Since(start).Round(time.Millisecond))
			if after-warm > soakGrowthKiB {
				t.Errorf("%s: resident memory grew by %d KiB over %d iterations, more than %d KiB", name, after-warm, soakLoop, soakGrowthKiB)
			}
		})
	}
}

// uploadWithProgress uploads path asking for progress, so that the response
// comes as an SSE stream with notifications ahead of the result.
func uploadWithProgress(t *testing.T, s *mcptest.Session, key, path string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = "r2_upload"
	req.Params.Arguments = map[string]any{"bucket": "soak", "key": key, "file_path": path}
	req.Params.Meta = &mcp.Meta{ProgressToken: fmt.Sprintf("p%d", n)}
	res, err := s.Client.CallTool(ctx, req)
	if err != nil || res.IsError {
		t.Fatalf("upload with progress: %v %s", err, mcptest.Text(res))
	}
}

func rss(t *testing.T, p *httpProc) int {
	t.Helper()
	kib, err := procStatusKiB(p.cmd.Process.Pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	return kib
}
