package tools_test

import (
	"testing"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// setup describes a server under test; the zero value is a writable server
// on a fresh embedded store with one files root.
type setup struct {
	policy    storage.Policy
	maxInline int64
	noRoots   bool
	toolsets  []string
}

type harness struct {
	*mcptest.Session
	root    string // the allowed files root
	dataDir string
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{root: t.TempDir(), dataDir: t.TempDir()}
	h.Session = mcptest.InProcess(t, newServer(t, t, s, h.root, h.dataDir))
	return h
}

// newServer builds the server under test on a local backend in dataDir with
// root as its files root; owner keeps the backend open until it ends, and
// failures go to t.
func newServer(owner, t *testing.T, s setup, root, dataDir string) *server.MCPServer {
	t.Helper()
	backend := local.New(dataDir)
	owner.Cleanup(func() { backend.Close() })
	var roots fsroot.Roots
	if !s.noRoots {
		var err error
		if roots, err = fsroot.New(root); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := mcpserver.New(mcpserver.Options{
		Version:        "test",
		Store:          storage.Guard(backend, s.policy),
		Roots:          roots,
		MaxInlineBytes: s.maxInline,
		Toolsets:       s.toolsets,
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}
