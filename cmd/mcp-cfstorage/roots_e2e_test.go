package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// forgingStdio is a stdio client transport that forges roots.
type forgingStdio struct {
	*transport.Stdio
	mcptest.RootsForger
}

func (f *forgingStdio) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	return f.Send(ctx, req, f.Stdio.SendRequest)
}

// TestClientRootsOnlyWhenAsked: over real stdio on protocol 2026-07-28,
// where the server asks for roots in an input_required result, roots in
// inputResponses count only in the retry that echoes that result's
// requestState, once: not unasked, not with a made-up state, not replayed.
func TestClientRootsOnlyWhenAsked(t *testing.T) {
	project, outside := t.TempDir(), t.TempDir()
	for _, dir := range []string{project, outside} {
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("notes in "+dir), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := &forgingStdio{Stdio: transport.NewStdioWithOptions(binary, childEnv(t.TempDir()), []string{"--backend", "local", "--data-dir", t.TempDir()})}
	s := mcptest.Connect(t, client.NewClient(f, client.WithRootsHandler(&rootsHandler{dir: project}), client.WithProtocolVersion(mcp.LATEST_PROTOCOL_VERSION)))
	s.OK("create_r2_bucket", map[string]any{"name": "uploads"})
	upload := func(dir string) map[string]any {
		return map[string]any{"bucket": "uploads", "key": "notes.txt", "file_path": filepath.Join(dir, "notes.txt")}
	}
	for _, state := range []string{"", "made-up-state"} {
		f.Set(state, outside)
		s.Fail("r2_upload", upload(outside), "permission_denied")
	}
	f.Set("")
	s.OK("r2_upload", upload(project))
	asked := f.States()
	if len(asked) == 0 {
		t.Fatal("the server never asked for roots in a result; this test proves nothing")
	}
	for _, state := range asked {
		f.Set(state, outside)
		s.Fail("r2_upload", upload(outside), "permission_denied")
	}
}
