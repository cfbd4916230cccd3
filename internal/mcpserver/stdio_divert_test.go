package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// A tools/list request is answered by listDiverter and never reaches
// mcp-go's transport; every other line does, whole, however long; the
// answer is json.Marshal's, for tools appendTool writes itself (with what
// encoding/json escapes in their texts, with or without a title) and for
// those it leaves to json.Marshal (icons, a structured schema).
func TestListDiverter(t *testing.T) {
	srv := server.NewMCPServer("t", "1", server.WithToolCapabilities(false))
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	schema := raw(map[string]any{"type": "object", "properties": map[string]any{
		"q": map[string]any{"type": "string", "description": "a <b> & \u2028 \"quoted\" é"}}})
	ro := true
	plain := mcp.Tool{Name: "plain", Description: "uses <html> & \u2029 \x01 and \xff", RawInputSchema: schema, RawOutputSchema: schema,
		Annotations: mcp.ToolAnnotation{Title: "Plain & <simple>", ReadOnlyHint: &ro}}
	titled := plain
	titled.Name, titled.Title = "titled", "A <title>"
	iconic := plain
	iconic.Name, iconic.Icons = "iconic", []mcp.Icon{{Src: "https://example.com/i.png"}}
	structured := mcp.NewTool("structured", mcp.WithDescription("d"), mcp.WithString("s"))
	undescribed := plain
	undescribed.Name, undescribed.Description = "undescribed", ""
	for _, tool := range []mcp.Tool{plain, titled, iconic, structured, undescribed} {
		srv.AddTool(tool, func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil })
	}

	list := `{"jsonrpc":"2.0","id":7,"method":"tools/list"}` + "\n"
	long := `{"jsonrpc":"2.0","id":8,"method":"ping","params":{"_meta":{"x":"` + strings.Repeat("tools/list", 20) + `"}}}` + "\n"
	others := []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}` + "\n",
		`{"jsonrpc":"2.0","method":"tools/list"}` + "\n", // a notification, left to mcp-go
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"tools/list"}}` + "\n",
		long,                            // longer than the buffer: passed on as it comes
		strings.Repeat(" ", 128) + list, // a tools/list too, but too long to look at whole: its tail, a whole request, is not one
		`{"jsonrpc":"2.0","id":9,"result":{"method":"tools/list"}}` + "\n",
		`not json tools/list` + "\n",
		`{"jsonrpc":"2.0","id":10,"method":"ping"}`, // the last line, without its newline
	}
	input := others[0] + list + strings.Join(others[1:], "")
	var out bytes.Buffer
	d := &listDiverter{in: bufio.NewReaderSize(strings.NewReader(input), 64), srv: srv, out: &out, errLog: log.New(io.Discard, "", 0)}
	ctx := context.Background()
	d.ctx.Store(&ctx)
	passed, err := io.ReadAll(iotestOneByte{d})
	if err != nil {
		t.Fatal(err)
	}
	d.answering.Wait()
	if want := strings.Join(others, ""); string(passed) != want {
		t.Errorf("mcp-go got\n%q\nwant\n%q", passed, want)
	}
	want, err := json.Marshal(srv.HandleMessage(ctx, json.RawMessage(strings.TrimSpace(list))))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want)+"\n" {
		t.Errorf("answer\n%s\nwant json.Marshal's\n%s", got, want)
	}
	if !strings.Contains(out.String(), `"name":"undescribed"`) {
		t.Errorf("answer lacks a tool: %s", out.String())
	}
}

// iotestOneByte reads at most a few bytes at a time, as a reader with a
// small buffer would, so that a line is handed on in pieces.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 5)]) }

// BenchmarkListAnswer encodes the server's answer to tools/list (every
// tool) with listAnswer and, in the same run, with json.Marshal, mcp-go's
// way, which it must equal; x-marshal is the ratio of their times.
func BenchmarkListAnswer(b *testing.B) {
	backend := local.New(b.TempDir())
	defer backend.Close()
	srv, err := New(Options{Version: "bench", Store: storage.Guard(backend, storage.Policy{})})
	if err != nil {
		b.Fatal(err)
	}
	answer := srv.HandleMessage(b.Context(), json.RawMessage(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`))
	want, err := json.Marshal(answer)
	if err != nil {
		b.Fatal(err)
	}
	var ours, marshal time.Duration
	for b.Loop() {
		start := time.Now()
		got, err := listAnswer(answer)
		ours += time.Since(start)
		if err != nil || !bytes.Equal(got, want) {
			b.Fatalf("listAnswer differs from json.Marshal (%v)", err)
		}
		start = time.Now()
		if _, err := json.Marshal(answer); err != nil {
			b.Fatal(err)
		}
		marshal += time.Since(start)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "listAnswer-ns")
	b.ReportMetric(float64(marshal.Nanoseconds())/float64(b.N), "marshal-ns")
	b.ReportMetric(float64(ours)/float64(marshal), "x-marshal")
}
