package mcptest

import (
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// LocalServer builds the real MCP server the way the binary does, on an
// embedded store in dataDir guarded by policy, with roots as its
// --files-root directories. o.Store and o.Roots are filled in. The caller
// closes the store with the returned func when the server is done.
func LocalServer(dataDir string, policy storage.Policy, o mcpserver.Options, roots ...string) (*server.MCPServer, func(), error) {
	backend := local.New(dataDir)
	closeStore := func() { backend.Close() }
	r, err := fsroot.New(roots...)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	if o.Version == "" {
		o.Version = "test"
	}
	if policy.Off == nil {
		policy.Off = storage.Unnamed(o.Toolsets)
	}
	o.Store, o.Roots = storage.Guard(backend, policy), r
	srv, err := mcpserver.New(o)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return srv, closeStore, nil
}
