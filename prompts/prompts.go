// Package prompts declares the MCP prompts: storage_overview (survey every
// namespace, bucket and database and summarise them) and wire_worker (draft a Worker
// and its wrangler configuration bound to a namespace, bucket or database,
// saying what their ids are). Both
// read the live inventory through the guarded Store, so what they embed is
// true, and the allow-lists apply. Like the tools, prompts know only
// internal/storage.
package prompts

import (
	"context"
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/rpcerr"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The prompts' names and arguments.
const (
	StorageOverview = "storage_overview"
	WireWorker      = "wire_worker"

	ArgNamespace = "namespace"
	ArgBucket    = "bucket"
	ArgDatabase  = "database"
)

// Completer completes a bucket or namespace argument from a prefix.
type Completer interface {
	Complete(ctx context.Context, argument, value string) (*mcp.Completion, error)
}

// Deps is what the prompts are built from.
type Deps struct {
	Store *storage.Store
	// Complete, when set, completes wire_worker's arguments.
	Complete Completer
	Log      *slog.Logger
	// Now dates the generated wrangler.toml; nil means time.Now.
	Now func() time.Time
}

// Prompts serves the prompts of one server.
type Prompts struct {
	Deps
}

// New prepares the prompts; nothing touches storage until one is asked for.
func New(d Deps) *Prompts {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Prompts{d}
}

// ServerOptions are the mcp-go options the prompts need.
func (p *Prompts) ServerOptions() []server.ServerOption {
	return []server.ServerOption{
		server.WithPromptCapabilities(false),
		server.WithCompletions(),
		server.WithPromptCompletionProvider(p),
	}
}

// Register adds the prompts of the areas the Store serves to srv:
// each needs one of them.
func (p *Prompts) Register(srv *server.MCPServer) {
	kv, r2, d1 := p.Store.Serves(storage.AreaKV), p.Store.Serves(storage.AreaR2), p.Store.Serves(storage.AreaD1)
	if kv || r2 || d1 {
		srv.AddPrompt(mcp.NewPrompt(StorageOverview,
			mcp.WithPromptTitle("Survey my Cloudflare storage"),
			mcp.WithPromptDescription("Survey every KV namespace, R2 bucket and D1 database this server can reach (counts, "+
				"first keys, top-level folders and objects, tables, read live) and ask for a summary of what is stored.")),
			p.storageOverview)
	}
	if kv || r2 || d1 {
		opts := []mcp.PromptOption{
			mcp.WithPromptTitle("Wire a Worker to my storage"),
			mcp.WithPromptDescription("Draft a Cloudflare Worker in TypeScript and its wrangler config that read from a KV namespace, " +
				"an R2 bucket and a D1 database (any of them, at least one), each bound under what its id is: an account's real id, " +
				"an id of the local store (marked, with how to create the real one), or the project's own binding."),
		}
		if kv {
			opts = append(opts, mcp.WithArgument(ArgNamespace, mcp.ArgumentDescription("the KV namespace to bind: its title or id")))
		}
		if r2 {
			opts = append(opts, mcp.WithArgument(ArgBucket, mcp.ArgumentDescription("the R2 bucket to bind: its name")))
		}
		if d1 {
			opts = append(opts, mcp.WithArgument(ArgDatabase, mcp.ArgumentDescription("the D1 database to bind: its name or id")))
		}
		srv.AddPrompt(mcp.NewPrompt(WireWorker, opts...), p.wireWorker)
	}
}

// CompletePromptArgument implements server.PromptCompletionProvider.
func (p *Prompts) CompletePromptArgument(ctx context.Context, prompt string, arg mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	if prompt != WireWorker || p.Complete == nil || (arg.Name != ArgNamespace && arg.Name != ArgBucket && arg.Name != ArgDatabase) {
		return &mcp.Completion{Values: []string{}}, nil
	}
	return p.Complete.Complete(ctx, arg.Name, arg.Value)
}

// promptError is the error a client sees: "<code>: <argument>: <what and
// why>", as for tools, with its JSON-RPC code (rpcerr): a bad or unknown
// argument is invalid params (-32602). argument is "" when the error is not
// about one.
func promptError(argument string, err error) error {
	return rpcerr.New(argument, err)
}

func userText(text string) mcp.PromptMessage {
	return mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text))
}
