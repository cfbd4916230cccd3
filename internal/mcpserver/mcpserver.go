// Package mcpserver assembles the MCP server from its parts: the tools,
// resources and prompts, over a guarded storage.Store. It is the one place
// that knows all of them; each of them knows only internal/storage.
package mcpserver

import (
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/prompts"
	"github.com/mcp-cfstorage/mcp-cfstorage/resources"
	"github.com/mcp-cfstorage/mcp-cfstorage/tools"
)

// Name is the server's name in the MCP handshake.
const Name = "mcp-cfstorage"

// DefaultPageSize is how many items one page of tools/list, prompts/list,
// resources/list and resources/templates/list holds.
const DefaultPageSize = 100

// Options configures a server.
type Options struct {
	Version        string
	Store          *storage.Store
	Roots          fsroot.Roots // from --files-root; client roots are added per session
	MaxInlineBytes int64
	MaxRows        int      // rows of a statement d1_query returns inline (0 = tools.DefaultMaxRows)
	Toolsets       []string // empty = all
	Log            *slog.Logger

	// PageSize is how many items one page of a list request holds (0 =
	// DefaultPageSize). FolderPageSize is how many children one read of an
	// r2:// or kv:// folder lists (0 = resources.DefaultPageSize).
	PageSize       int
	FolderPageSize int
	// RootsTimeout bounds how long a tool call waits for the client to list
	// its roots (0 = DefaultRootsTimeout).
	RootsTimeout time.Duration
}

const instructions = `This server gives access to Cloudflare storage: Workers KV (namespaces of keys), R2 (buckets of objects) and D1 (SQLite databases).
Call whoami to see which backend and account are in use. KV namespaces are named by id or title, D1 databases by id or name.
In d1_query, put values in params with ? placeholders, never into the SQL text.
Large values and objects are streamed with file_path (upload) and save_to (download) inside the allowed directories.
Stored data is also browsable as resources: r2://bucket/key and kv://namespace/key, and folders (URIs ending in /) read as listings; d1://database/table reads a table's first rows, d1://database/ lists its tables.
Errors start with a code (invalid_argument, not_found, too_large, ...) followed by what to change.`

// New builds the MCP server. It touches no storage: the backend is opened by
// the first request that needs it.
func New(o Options) (*server.MCPServer, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	toolsets := o.Toolsets
	if len(toolsets) == 0 {
		toolsets = tools.Toolsets
	}
	res := resources.New(resources.Deps{Store: o.Store, MaxInlineBytes: o.MaxInlineBytes, PageSize: o.FolderPageSize, Log: o.Log})
	pr := prompts.New(prompts.Deps{Store: o.Store, Complete: res.Completer(), Log: o.Log})
	roots := newClientRoots(o.Roots, o.RootsTimeout, o.Log)
	hooks := &server.Hooks{}

	opts := []server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithOutputSchemaValidation(),
		server.WithRecovery(),
		server.WithResourceRecovery(),
		server.WithLogging(),
		server.WithInstructions(instructions),
		server.WithPaginationLimit(o.PageSize),
		server.WithHooks(hooks),
		server.WithToolHandlerMiddleware(roots.middleware),
	}
	opts = append(opts, res.ServerOptions()...)
	opts = append(opts, pr.ServerOptions()...)
	srv := server.NewMCPServer(Name, o.Version, opts...)

	deps := tools.Deps{
		Store:          o.Store,
		Roots:          roots.Roots,
		MaxInlineBytes: o.MaxInlineBytes,
		MaxRows:        o.MaxRows,
		Toolsets:       toolsets,
		Log:            o.Log,
	}
	sel := tools.Selection{Toolsets: o.Toolsets, ReadOnly: o.Store.ReadOnly()}
	if err := tools.Register(srv, deps, sel); err != nil {
		return nil, err
	}
	res.Register(srv, hooks)
	pr.Register(srv)
	roots.install(srv, hooks)
	return srv, nil
}
