// Package mcpserver assembles the MCP server from its parts: the tools,
// resources and prompts, over a guarded storage.Store. It is the one place
// that knows all of them; each of them knows only internal/storage.
package mcpserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/rpcerr"
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
	Roots          fsroot.Roots // from --files-root
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
	// ClientRoots adds the directories the client announces (roots/list) to
	// Roots, per session. Set it for stdio only: a stdio client is the local
	// user, an HTTP client is remote and gets only what --files-root grants.
	ClientRoots bool
	// Tasks runs tool calls that clients send as tool-call tasks (nil: the
	// server offers no tasks). The caller shuts it down after the transport.
	Tasks *Tasks
}

// instructions tells the model what the server offers, naming only the
// areas the Store serves.
func instructions(store *storage.Store, tasks *Tasks) string {
	kv, r2, d1 := store.Serves(storage.AreaKV), store.Serves(storage.AreaR2), store.Serves(storage.AreaD1)
	var areas, names, browse []string
	if kv {
		areas = append(areas, "Workers KV (namespaces of keys)")
		names = append(names, "KV namespaces are named by id or title.")
		browse = append(browse, "kv://namespace/key")
	}
	if r2 {
		areas = append(areas, "R2 (buckets of objects)")
		browse = append(browse, "r2://bucket/key")
	}
	if d1 {
		areas = append(areas, "D1 (SQLite databases)")
		names = append(names, "D1 databases are named by id or name.")
	}
	if len(areas) == 0 {
		return "This server gives access to Cloudflare storage; it was started with no storage area (--toolsets). Call whoami to see the backend and account in use."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "This server gives access to Cloudflare storage: %s.\n", strings.Join(areas, ", "))
	b.WriteString("Call whoami to see which backend and account are in use.")
	for _, n := range names {
		b.WriteString(" " + n)
	}
	b.WriteString("\n")
	if d1 {
		b.WriteString("In d1_query, put values in params with ? placeholders, never into the SQL text.\n")
	}
	if kv || r2 {
		b.WriteString("Large values and objects are streamed with file_path (upload) and save_to (download) inside the allowed directories.\n")
		if tasks != nil {
			b.WriteString(tasks.hint(func(tool string) bool {
				return strings.HasPrefix(tool, "r2_") && r2 || strings.HasPrefix(tool, "kv_") && kv
			}))
		}
		fmt.Fprintf(&b, "Stored data is also browsable as resources: %s, and folders (URIs ending in /) read as listings", strings.Join(browse, " and "))
		if d1 {
			b.WriteString("; d1://database/table reads a table's first rows, d1://database/ lists its tables")
		}
		b.WriteString(".\n")
	} else if d1 {
		b.WriteString("Databases are also browsable as resources: d1://database/table reads a table's first rows, d1://database/ lists its tables.\n")
	}
	b.WriteString("Errors start with a code (invalid_argument, not_found, too_large, ...) followed by what to change.")
	return b.String()
}

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
	res := resources.New(resources.Deps{Store: o.Store, MaxInlineBytes: o.MaxInlineBytes, PageSize: o.FolderPageSize,
		ListPageSize: o.PageSize, Log: o.Log})
	pr := prompts.New(prompts.Deps{Store: o.Store, Complete: res.Completer(), Log: o.Log})
	hooks := &server.Hooks{}
	rpcerr.Install(hooks)

	var opts []server.ServerOption
	if o.Tasks != nil {
		// First, so that its middleware is the outermost: every other one
		// then runs on the task's context.
		opts = append(opts, o.Tasks.serverOptions()...)
	}
	opts = append(opts,
		server.WithToolCapabilities(false),
		// No WithOutputSchemaValidation: it would fail a call whose write
		// is done. The tools log a result that breaks its schema instead,
		// and the tests' client (internal/mcptest) fails on it.
		server.WithRecovery(),
		server.WithResourceRecovery(),
		server.WithLogging(),
		server.WithInstructions(instructions(o.Store, o.Tasks)),
		server.WithPaginationLimit(o.PageSize),
		server.WithHooks(hooks),
	)
	confirm := newConfirmer(o.Log)
	opts = append(opts, server.WithToolHandlerMiddleware(confirm.middleware))
	rootsOf := func(context.Context) fsroot.Roots { return o.Roots }
	var roots *clientRoots
	if o.ClientRoots {
		roots = newClientRoots(o.Roots, o.RootsTimeout, o.Log)
		opts = append(opts, server.WithToolHandlerMiddleware(roots.middleware))
		rootsOf = roots.Roots
	}
	opts = append(opts, res.ServerOptions()...)
	opts = append(opts, pr.ServerOptions()...)
	srv := server.NewMCPServer(Name, o.Version, opts...)
	confirm.srv = srv

	deps := tools.Deps{
		Store:          o.Store,
		Roots:          rootsOf,
		MaxInlineBytes: o.MaxInlineBytes,
		MaxRows:        o.MaxRows,
		Toolsets:       toolsets,
		Log:            o.Log,
		Confirm:        confirm,
	}
	sel := tools.Selection{Toolsets: o.Toolsets, ReadOnly: o.Store.ReadOnly(), Tasks: o.Tasks.offered()}
	if err := tools.Register(srv, deps, sel); err != nil {
		return nil, err
	}
	res.Register(srv, hooks)
	pr.Register(srv)
	if roots != nil {
		roots.install(srv, hooks)
	}
	if o.Tasks != nil {
		o.Tasks.install(hooks)
	}
	return srv, nil
}
