package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// stdioTransport serves srv over in and out until in ends.
type stdioTransport func(ctx context.Context, srv *server.MCPServer, in io.Reader, out io.Writer) error

func viaServeStdio(ctx context.Context, srv *server.MCPServer, in io.Reader, out io.Writer) error {
	return mcpserver.ServeStdio(ctx, srv, in, out, log.New(io.Discard, "", 0))
}

// viaMCPGo is mcp-go's own stdio transport, what ServeStdio must answer as.
func viaMCPGo(ctx context.Context, srv *server.MCPServer, in io.Reader, out io.Writer) error {
	stdio := server.NewStdioServer(srv)
	stdio.SetErrorLogger(log.New(io.Discard, "", 0))
	return stdio.Listen(ctx, in, out)
}

// ServeStdio writes the answers to tools/list itself: every answer it gives
// must be the one mcp-go's transport gives, byte for byte, whatever the
// tools (every toolset, --toolsets, --read-only), the page (cursors, a bad
// cursor), the protocol era (2026-07-28 results carry more fields) or the
// request (a line too long to look at is left to mcp-go); and the requests
// around it are served as before.
func TestServeStdioAnswersAsMCPGo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy storage.Policy
		opts   mcpserver.Options
	}{
		{name: "all"},
		{name: "kv read-only", policy: storage.Policy{ReadOnly: true}, opts: mcpserver.Options{Toolsets: []string{"kv"}}},
		{name: "pages of 4", opts: mcpserver.Options{PageSize: 4}},
		{name: "tools offered as tasks", opts: mcpserver.Options{Tasks: mcpserver.NewTasks(1<<20, nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			converse := func(serve stdioTransport) []string {
				srv, closeStore, err := mcptest.LocalServer(dataDir, tc.policy, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				defer closeStore()
				s := startStdio(t, srv, serve)
				defer s.close(t)
				return listScenario(t, s)
			}
			want, got := converse(viaMCPGo), converse(viaServeStdio)
			if len(got) != len(want) {
				t.Fatalf("%d answers, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("answer %d differs from mcp-go's:\n got %.400s\nwant %.400s", i, got[i], want[i])
				}
			}
		})
	}
}

// listScenario lists the tools every way a client may and calls around
// the lists, returning the answers.
func listScenario(t *testing.T, s *stdioConn) []string {
	t.Helper()
	answers := []string{
		s.ask(t, 1, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`),
	}
	s.tell(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	id := 2
	ask := func(req string) string {
		t.Helper()
		a := s.ask(t, id, fmt.Sprintf(req, id))
		answers = append(answers, a)
		id++
		return a
	}
	// Every page, through the cursors.
	for cursor := ""; ; {
		params := "{}"
		if cursor != "" {
			params = fmt.Sprintf(`{"cursor":%q}`, cursor)
		}
		var page struct {
			Result struct {
				Tools      []json.RawMessage `json:"tools"`
				NextCursor string            `json:"nextCursor"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(ask(`{"jsonrpc":"2.0","id":%d,"method":"tools/list","params":`+params+`}`)), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Result.Tools) == 0 {
			t.Fatalf("a page without tools: %s", answers[len(answers)-1])
		}
		if cursor = page.Result.NextCursor; cursor == "" {
			break
		}
	}
	modern := ask(`{"jsonrpc":"2.0","id":%d,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"` +
		mcp.LATEST_PROTOCOL_VERSION + `","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}}}`)
	if !strings.Contains(modern, `"resultType":"complete"`) || !strings.Contains(modern, `"tools":[{`) {
		t.Fatalf("not a %s list: %.300s", mcp.LATEST_PROTOCOL_VERSION, modern)
	}
	ask(`{"jsonrpc":"2.0","id":%d,"method":"tools/list","params":{"cursor":"bm90IGEgY3Vyc29y"}}`)
	ask(`{"jsonrpc":"2.0","id":%d,"method":"tools/list","params":{"_meta":{"padding":"` + strings.Repeat("x", 100<<10) + `"}}}`)
	ask(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`)
	ask(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"kv_get","arguments":{"namespace":"none","key":"tools/list"}}}`)
	return answers
}

// stdioConn is a client on a stdio transport's pipes.
type stdioConn struct {
	in   *io.PipeWriter
	out  *bufio.Reader
	done chan error
}

func startStdio(t *testing.T, srv *server.MCPServer, serve stdioTransport) *stdioConn {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &stdioConn{in: inW, out: bufio.NewReaderSize(outR, 1<<20), done: make(chan error, 1)}
	go func() {
		err := serve(t.Context(), srv, inR, outW)
		outW.Close()
		s.done <- err
	}()
	return s
}

func (s *stdioConn) tell(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

// ask sends a request and returns the answer with its id.
func (s *stdioConn) ask(t *testing.T, id int, line string) string {
	t.Helper()
	s.tell(t, line)
	for {
		answer, err := s.out.ReadString('\n')
		if err != nil {
			t.Fatalf("no answer to %.100s: %v", line, err)
		}
		var msg struct {
			ID any `json:"id"`
		}
		if err := json.Unmarshal([]byte(answer), &msg); err != nil {
			t.Fatalf("answer to %.100s is not JSON: %v\n%.300s", line, err, answer)
		}
		if msg.ID == float64(id) {
			return answer
		}
	}
}

func (s *stdioConn) close(t *testing.T) {
	t.Helper()
	s.in.Close()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("transport: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the transport did not end with its input")
	}
}

// A tools/list whose handling panics (here a tool filter) gets the answer
// mcp-go's transport gives, an internal error, and the server goes on.
func TestServeStdioRecoversAsMCPGo(t *testing.T) {
	converse := func(serve stdioTransport) []string {
		srv := server.NewMCPServer("t", "1", server.WithToolFilter(func(context.Context, []mcp.Tool) []mcp.Tool { panic("filter") }))
		srv.AddTool(mcp.NewTool("a"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
		s := startStdio(t, srv, serve)
		defer s.close(t)
		return []string{
			s.ask(t, 1, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
			s.ask(t, 2, `{"jsonrpc":"2.0","id":2,"method":"ping"}`),
		}
	}
	want, got := converse(viaMCPGo), converse(viaServeStdio)
	if !strings.Contains(want[0], `"internal panic: filter"`) {
		t.Fatalf("mcp-go's answer is not the one expected: %s", want[0])
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("answer %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}
