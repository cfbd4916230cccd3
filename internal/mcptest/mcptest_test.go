package mcptest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// fatalRecorder is a testing.TB whose Fatalf is recorded instead of failing
// the real test, which lets a test check that a session fails its test.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// The server sends a result that does not match its output schema (it
// only logs it), so the test client is where a mismatch must fail a test:
// every successful call, by Call as by OK.
func TestCallFailsOnOutputMismatch(t *testing.T) {
	srv := server.NewMCPServer("test", "1", server.WithToolCapabilities(false))
	srv.AddTool(mcp.NewTool("wrong_shape", mcp.WithDescription("d"),
		mcp.WithRawOutputSchema([]byte(`{"type":"object","properties":{"n":{"type":"integer","maximum":3}},"required":["n"]}`))),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			n := req.GetInt("n", 0)
			return &mcp.CallToolResult{StructuredContent: map[string]any{"n": n},
				Content: []mcp.Content{mcp.NewTextContent(fmt.Sprint(n))}}, nil
		})
	s := InProcess(t, srv)
	s.OK("wrong_shape", map[string]any{"n": 2}) // matches: no failure

	for _, method := range []string{"Call", "OK"} {
		rec := &fatalRecorder{TB: t}
		s.t = rec
		done := make(chan struct{})
		go func() {
			defer close(done)
			if method == "Call" {
				s.Call("wrong_shape", map[string]any{"n": 5})
			} else {
				s.OK("wrong_shape", map[string]any{"n": 5})
			}
		}()
		<-done
		if !strings.Contains(rec.fatal, "does not match the output schema") {
			t.Errorf("%s of a result breaking its output schema: fatal = %q, want a schema failure", method, rec.fatal)
		}
	}
}
