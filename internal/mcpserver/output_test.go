package mcpserver_test

import (
	"context"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// A result that does not match its tool's output schema is sent, not
// replaced by an error: the handler has already done its work (a d1_query
// INSERT committed), and a client that retried on the error would do it
// twice. The tools log the mismatch instead (tools.TestOutputMismatchLoggedAndSent)
// and the test client fails on it (mcptest.TestCallFailsOnOutputMismatch).
func TestOutputMismatchIsSentNotRefused(t *testing.T) {
	backend := local.New(t.TempDir())
	defer backend.Close()
	srv, err := mcpserver.New(mcpserver.Options{Version: "test", Store: storage.Guard(backend, storage.Policy{})})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	srv.AddTool(mcp.NewTool("wrong_shape", mcp.WithDescription("returns what its schema forbids"),
		mcp.WithRawOutputSchema([]byte(`{"type":"object","properties":{"n":{"type":"integer","maximum":3}},"required":["n"]}`))),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			calls++
			return &mcp.CallToolResult{StructuredContent: map[string]any{"n": 5},
				Content: []mcp.Content{mcp.NewTextContent(`{"n":5}`)}}, nil
		})
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "wrong_shape"
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || calls != 1 {
		t.Fatalf("result of a handler that ran (%d calls) is an error %v: %+v", calls, res.IsError, res.Content)
	}
	if got, ok := res.StructuredContent.(map[string]any); !ok || got["n"] != float64(5) {
		t.Errorf("structuredContent = %#v, want the handler's {n: 5}", res.StructuredContent)
	}
}
