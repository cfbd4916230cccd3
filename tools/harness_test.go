package tools_test

import (
	"testing"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// setup describes a server under test; the zero value is a writable server
// on a fresh embedded store with one files root.
type setup struct {
	policy    storage.Policy
	maxInline int64
	maxRows   int
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
func newServer(owner, t testing.TB, s setup, root, dataDir string) *server.MCPServer {
	t.Helper()
	var roots []string
	if !s.noRoots {
		roots = []string{root}
	}
	srv, closeStore, err := mcptest.LocalServer(dataDir, s.policy,
		mcpserver.Options{MaxInlineBytes: s.maxInline, MaxRows: s.maxRows, Toolsets: s.toolsets}, roots...)
	if err != nil {
		t.Fatal(err)
	}
	owner.Cleanup(closeStore)
	return srv
}
