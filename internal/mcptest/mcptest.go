// Package mcptest drives an MCP server through a real mcp-go client, for
// tests: every successful tool result is checked against the tool's declared
// output schema, the way strict clients (the TypeScript SDK) check it.
package mcptest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// Session is an initialized client session.
type Session struct {
	t       testing.TB
	Client  *client.Client
	Tools   map[string]mcp.Tool
	schemas map[string]*validator.Schema
}

// InProcess connects a client to srv in the same process.
func InProcess(t testing.TB, srv *server.MCPServer) *Session {
	t.Helper()
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	return Connect(t, c)
}

// Connect starts and initializes c and lists its tools.
func Connect(t testing.TB, c *client.Client) *Session {
	t.Helper()
	// Start's context lives as long as the connection (an SSE stream, a
	// child process), so it must not be the short one used for requests.
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("start client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "mcptest", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	s := &Session{t: t, Client: c, Tools: map[string]mcp.Tool{}, schemas: map[string]*validator.Schema{}}
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	for _, tool := range list.Tools {
		s.Tools[tool.Name] = tool
	}
	return s
}

// Call calls a tool and returns its result, failing the test on a protocol
// error and on a successful result whose structuredContent does not match
// the tool's output schema (the server only logs that).
func (s *Session) Call(name string, args map[string]any) *mcp.CallToolResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := s.Client.CallTool(ctx, req)
	if err != nil {
		s.t.Fatalf("%s: protocol error: %v", name, err)
	}
	if !res.IsError && res.StructuredContent != nil {
		raw, err := json.Marshal(res.StructuredContent)
		if err != nil {
			s.t.Fatal(err)
		}
		s.validate(name, raw)
	}
	return res
}

// OK calls a tool that must succeed and returns its structured content
// (checked by Call against the tool's output schema) decoded.
func (s *Session) OK(name string, args map[string]any) map[string]any {
	s.t.Helper()
	return s.structured(name, args, s.Call(name, args))
}

// Read calls a tool that sends a value once, in a block of its own after
// the JSON that describes it (kv_get, r2_download), and returns the
// description (its structured content) and the value: the text of a text
// block, the base64 data of an image or blob block; "" when there is none.
func (s *Session) Read(name string, args map[string]any) (map[string]any, string) {
	s.t.Helper()
	res := s.Call(name, args)
	out := s.structured(name, args, res)
	if len(res.Content) < 2 {
		return out, ""
	}
	switch c := res.Content[1].(type) {
	case mcp.TextContent:
		return out, c.Text
	case mcp.ImageContent:
		return out, c.Data
	case mcp.EmbeddedResource:
		switch r := c.Resource.(type) {
		case mcp.BlobResourceContents:
			return out, r.Blob
		case mcp.TextResourceContents:
			return out, r.Text
		}
	}
	s.t.Fatalf("%s: the value block is a %T", name, res.Content[1])
	return nil, ""
}

func (s *Session) structured(name string, args map[string]any, res *mcp.CallToolResult) map[string]any {
	s.t.Helper()
	if res.IsError {
		s.t.Fatalf("%s(%v): unexpected error: %s", name, abbreviate(args), Text(res))
	}
	if res.StructuredContent == nil {
		s.t.Fatalf("%s: result has no structuredContent", name)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		s.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("%s: structuredContent is not an object: %v", name, err)
	}
	return out
}

// Fail calls a tool that must fail with code, and returns the error text.
func (s *Session) Fail(name string, args map[string]any, code string) string {
	s.t.Helper()
	res := s.Call(name, args)
	text := Text(res)
	if !res.IsError {
		s.t.Fatalf("%s(%v): succeeded, want %s error; result: %s", name, abbreviate(args), code, text)
	}
	if !strings.HasPrefix(text, code+": ") {
		s.t.Fatalf("%s: error %q does not start with %q", name, text, code+": ")
	}
	return text
}

func (s *Session) validate(name string, structured []byte) {
	s.t.Helper()
	sch, ok := s.schemas[name]
	if !ok {
		tool, ok := s.Tools[name]
		if !ok {
			s.t.Fatalf("tool %s is not listed", name)
		}
		raw := tool.RawOutputSchema
		if raw == nil {
			var err error
			if raw, err = json.Marshal(tool.OutputSchema); err != nil {
				s.t.Fatal(err)
			}
		}
		doc, err := validator.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			s.t.Fatalf("%s: output schema: %v", name, err)
		}
		c := validator.NewCompiler()
		url := "mem:///" + name + ".json"
		if err := c.AddResource(url, doc); err != nil {
			s.t.Fatal(err)
		}
		if sch, err = c.Compile(url); err != nil {
			s.t.Fatalf("%s: compile output schema: %v", name, err)
		}
		s.schemas[name] = sch
	}
	inst, err := validator.UnmarshalJSON(bytes.NewReader(structured))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		s.t.Fatalf("%s: structuredContent does not match the output schema: %v\n%s", name, err, structured)
	}
}

// Text joins the text blocks of a result.
func Text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func abbreviate(args map[string]any) string {
	b, _ := json.Marshal(args)
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
