// Package mcpserver assembles the MCP server from its parts: the tools,
// resources and prompts, over a guarded storage.Store. It is the one place
// that knows all of them; each of them knows only internal/storage.
package mcpserver

import (
	"context"
	"log/slog"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/tools"
)

// Name is the server's name in the MCP handshake.
const Name = "mcp-cfstorage"

// Options configures a server.
type Options struct {
	Version        string
	Store          *storage.Store
	Roots          fsroot.Roots // from --files-root
	MaxInlineBytes int64
	Toolsets       []string // empty = all
	Log            *slog.Logger
}

const instructions = `This server gives access to Cloudflare storage: Workers KV (namespaces of keys) and R2 (buckets of objects).
Call whoami to see which backend and account are in use. KV namespaces are named by id or title.
Large values and objects are streamed with file_path (upload) and save_to (download) inside the allowed directories.
Errors start with a code (invalid_argument, not_found, too_large, ...) followed by what to change.`

// New builds the MCP server.
func New(o Options) (*server.MCPServer, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	toolsets := o.Toolsets
	if len(toolsets) == 0 {
		toolsets = tools.Toolsets
	}
	srv := server.NewMCPServer(Name, o.Version,
		server.WithToolCapabilities(false),
		server.WithOutputSchemaValidation(),
		server.WithRecovery(),
		server.WithLogging(),
		server.WithInstructions(instructions),
	)
	deps := tools.Deps{
		Store:          o.Store,
		Roots:          func(context.Context) fsroot.Roots { return o.Roots },
		MaxInlineBytes: o.MaxInlineBytes,
		Toolsets:       toolsets,
		Log:            o.Log,
	}
	sel := tools.Selection{Toolsets: o.Toolsets, ReadOnly: o.Store.ReadOnly()}
	if err := tools.Register(srv, deps, sel); err != nil {
		return nil, err
	}
	return srv, nil
}
