// Package resources makes the stored data browsable as MCP resources: every
// R2 object and KV value has a URI (r2://bucket/key, kv://namespace/key),
// every folder of them too (a URI ending in /, read as a JSON listing of its
// children), every D1 table too (d1://database/table, its first rows;
// d1://database/ lists the tables), resources/list offers one folder per
// bucket, namespace and database, and completion/complete fills in bucket
// names, namespaces, databases, tables and keys.
//
// Like the tools, it knows only internal/storage: everything goes through the
// guarded Store, so --allow-buckets, --allow-namespaces, --allow-databases,
// --read-only and the limits apply to resources exactly as they do to tools.
package resources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// DefaultPageSize is how many children one folder read lists.
const DefaultPageSize = 100

// DefaultMaxInlineBytes caps object and value reads, as for r2_download.
const DefaultMaxInlineBytes = 1 << 20

// refreshAfter is how long the registered folder resources are trusted for a
// resources/list that continues with a cursor; a first page always refreshes.
const refreshAfter = 30 * time.Second

// Deps is what the resources are built from.
type Deps struct {
	Store *storage.Store
	// MaxInlineBytes caps object and value reads (--max-inline-bytes).
	MaxInlineBytes int64
	// PageSize is how many children a folder read lists before it gives a
	// "next" URI.
	PageSize int
	Log      *slog.Logger
}

// Resources serves the r2://, kv:// and d1:// resources of one server.
type Resources struct {
	srv       *server.MCPServer
	store     *storage.Store
	maxInline int64
	pageSize  int
	log       *slog.Logger

	templates []*mcp.ResourceTemplate // the registered templates

	// mu serializes changes of the registered folder resources.
	mu        sync.Mutex
	refreshed time.Time
}

// New prepares the resources; nothing touches storage until a request needs
// it. Register them with a server with Register.
func New(d Deps) *Resources {
	r := &Resources{store: d.Store, maxInline: d.MaxInlineBytes, pageSize: d.PageSize, log: d.Log}
	if r.maxInline <= 0 {
		r.maxInline = DefaultMaxInlineBytes
	}
	if r.pageSize <= 0 {
		r.pageSize = DefaultPageSize
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// ServerOptions are the mcp-go options the resources need: the resources
// capability with listChanged (the server tells clients when buckets and
// namespaces come and go), and completions.
func (r *Resources) ServerOptions() []server.ServerOption {
	return []server.ServerOption{
		server.WithResourceCapabilities(false, true),
		server.WithCompletions(),
		server.WithResourceCompletionProvider(r.Completer()),
	}
}

// Register adds the templates to srv and installs the hooks that keep the
// folder resources in step with the backend. hooks must be the server's own
// (passed to server.WithHooks).
func (r *Resources) Register(srv *server.MCPServer, hooks *server.Hooks) {
	r.srv = srv
	r2 := mcp.NewResourceTemplate(TemplateR2, "r2_object",
		mcp.WithTemplateTitle("R2 object or folder"),
		mcp.WithTemplateDescription("An object of an R2 bucket: text types read as text, others as a base64 blob, "+
			"up to the inline limit. A URI ending in / is a folder (r2://bucket/, r2://bucket/photos/): it reads as a "+
			"JSON listing of its sub-folders and objects, each with its own URI, and a next URI while more remain. "+
			"Keys are percent-encoded per path segment."))
	kv := mcp.NewResourceTemplate(TemplateKV, "kv_value",
		mcp.WithTemplateTitle("KV value or key listing"),
		mcp.WithTemplateDescription("The value of a Workers KV key (namespace by id or title): text when it is UTF-8, "+
			"else a base64 blob, with its metadata and expiration in _meta. A URI ending in / lists the keys that start "+
			"with the path after the namespace (kv://namespace/ lists all), flat, each with its own URI, and a next "+
			"URI while more remain. Keys are percent-encoded per path segment."))
	d1 := mcp.NewResourceTemplate(TemplateD1, "d1_table",
		mcp.WithTemplateTitle("D1 table or table listing"),
		mcp.WithTemplateDescription(fmt.Sprintf("A table of a D1 database (database by id or name): reads as JSON with its columns "+
			"and first rows, at most %d (numbers stay numbers, blobs as {\"base64\": ...}), and a note on how to page "+
			"with d1_query. d1://database/ (table left empty) lists the tables with their columns and CREATE statements, "+
			"each with its own URI. Names are percent-encoded.", MaxTableRows)))
	// Only the areas the Store serves (--toolsets) get a template: a
	// KV-only server shows no r2:// or d1:// URIs.
	for _, t := range []struct {
		area     storage.Area
		template mcp.ResourceTemplate
	}{{storage.AreaR2, r2}, {storage.AreaKV, kv}, {storage.AreaD1, d1}} {
		if r.store.Serves(t.area) {
			r.templates = append(r.templates, &t.template)
			srv.AddResourceTemplates(server.ServerResourceTemplate{Template: t.template, Handler: r.handle})
		}
	}
	hooks.AddBeforeReadResource(r.beforeRead)
	hooks.AddBeforeListResources(r.beforeList)
	r.store.OnChange(r.changed)
}

// stashKey carries a read's outcome from beforeRead to handle, in the
// request's _meta, which the hook and the handler share.
const stashKey = "io.github.mcp-cfstorage/read"

type stash struct {
	contents []mcp.ResourceContents
	err      error
}

// beforeRead performs every r2://, kv:// and d1:// read before mcp-go dispatches it.
//
// mcp-go v1.2.1 turns any error a resource handler returns into -32603
// (internal error); the only way to its resource-not-found answer (-32002,
// or -32602 for protocol 2026-07-28 clients, chosen per request) is a URI
// that no resource or template matches. So a read that finds nothing points
// the request at a URI that matches none (it keeps the original URI and says
// what is missing; a space can never match a template), and mcp-go answers
// with its own not-found error. Any other outcome is handed to the template
// handler through the request's _meta, so storage is read once.
func (r *Resources) beforeRead(ctx context.Context, _ any, req *mcp.ReadResourceRequest) {
	if !r.matches(req.Params.URI) {
		return // not ours: mcp-go answers it (a URI no template matches is not found)
	}
	contents, err := r.safeRead(ctx, req.Params.URI)
	if storage.CodeOf(err) == storage.CodeNotFound {
		r.log.Debug("resource not found", "uri", req.Params.URI, "error", err)
		req.Params.URI = fmt.Sprintf("%s (%s)", req.Params.URI, storage.Describe(err))
		return
	}
	if storage.CodeOf(err) == storage.CodeInternal {
		r.log.Error("resource read failed", "uri", req.Params.URI, "error", err)
	}
	if req.Params.Meta == nil {
		req.Params.Meta = &mcp.Meta{}
	}
	if req.Params.Meta.AdditionalFields == nil {
		req.Params.Meta.AdditionalFields = map[string]any{}
	}
	req.Params.Meta.AdditionalFields[stashKey] = &stash{contents, err}
}

// matches reports whether uri reaches one of the templates (and so the
// handler); the folder resources' URIs all do.
func (r *Resources) matches(uri string) bool {
	for _, t := range r.templates {
		// Regexp compiles on first use and is cached in the template:
		// compiling all three at start-up would cost every session that
		// never reads a resource.
		if t.URITemplate.Regexp().MatchString(uri) {
			return true
		}
	}
	return false
}

// safeRead is read that turns a panic into an internal error: hooks run
// outside mcp-go's resource recovery.
func (r *Resources) safeRead(ctx context.Context, uri string) (contents []mcp.ResourceContents, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("resource read panicked", "uri", uri, "panic", p, "stack", string(debug.Stack()))
			contents, err = nil, storage.Errorf(storage.CodeInternal, "reading %s failed unexpectedly; the server logged the details", uri)
		}
	}()
	return r.read(ctx, uri)
}

// handle is the handler of both templates and of every folder resource. It
// returns what beforeRead read; without the hook (a server assembled some
// other way) it reads itself.
func (r *Resources) handle(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	if m := req.Params.Meta; m != nil {
		if s, ok := m.AdditionalFields[stashKey].(*stash); ok {
			return s.contents, readError(s.err)
		}
	}
	contents, err := r.safeRead(ctx, req.Params.URI)
	return contents, readError(err)
}

// readError is the error text a client sees: "<code>: <what and why>", as
// for tools (mcp-go reports it as an internal error, -32603).
func readError(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(storage.Describe(err))
}

// beforeList brings the folder resources in step with the backend before
// mcp-go pages through them: always for a first page, and for later pages
// when the last refresh is old.
func (r *Resources) beforeList(ctx context.Context, _ any, req *mcp.ListResourcesRequest) {
	r.mu.Lock()
	stale := time.Since(r.refreshed) > refreshAfter
	r.mu.Unlock()
	if req.Params.Cursor != "" && !stale {
		return
	}
	if err := r.Refresh(ctx); err != nil {
		r.log.Warn("resources/list: could not refresh buckets and namespaces; listing what is known", "error", storage.Describe(err))
	}
}

// Refresh registers one folder resource per bucket, namespace and D1
// database the Store shows (the allow-lists apply) and removes the others. mcp-go sends
// notifications/resources/list_changed when the set changes. An area whose
// listing fails (a token without R2 permissions, say) keeps the folders
// known before, and the error is returned after the other areas are
// brought up to date.
func (r *Resources) Refresh(ctx context.Context) error {
	// Hold the lock while listing too, so that a change reported meanwhile
	// is not undone by a listing taken before it.
	r.mu.Lock()
	defer r.mu.Unlock()
	have := r.srv.ListResources()
	want := map[string]mcp.Resource{}
	var errs []error
	for _, area := range storage.Areas {
		if !r.store.Serves(area) {
			continue
		}
		found, err := r.folders(ctx, area)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", area.Title(), err))
			prefix := string(area) + "://"
			for uri, res := range have {
				if strings.HasPrefix(uri, prefix) {
					want[uri] = res.Resource
				}
			}
			continue
		}
		for _, res := range found {
			want[res.URI] = res
		}
	}

	var gone []string
	for uri := range have {
		if _, ok := want[uri]; !ok {
			gone = append(gone, uri)
		}
	}
	var changed []server.ServerResource
	for uri, res := range want {
		if old, ok := have[uri]; !ok || old.Resource.Name != res.Name || old.Resource.Title != res.Title {
			changed = append(changed, server.ServerResource{Resource: res, Handler: r.handle})
		}
	}
	if len(gone) > 0 {
		r.srv.DeleteResources(gone...)
	}
	if len(changed) > 0 {
		r.srv.AddResources(changed...)
	}
	r.refreshed = time.Now()
	return errors.Join(errs...)
}

// folders lists the folder resources of one area.
func (r *Resources) folders(ctx context.Context, area storage.Area) ([]mcp.Resource, error) {
	var out []mcp.Resource
	switch area {
	case storage.AreaKV:
		for ns, err := range storage.AllNamespaces(ctx, r.store.KV(), storage.ListOptions{}) {
			if err != nil {
				return nil, err
			}
			out = append(out, namespaceResource(ns))
		}
	case storage.AreaR2:
		for b, err := range storage.AllBuckets(ctx, r.store.R2(), storage.ListOptions{}) {
			if err != nil {
				return nil, err
			}
			out = append(out, bucketResource(b.Name))
		}
	case storage.AreaD1:
		for db, err := range storage.AllDatabases(ctx, r.store.D1(), storage.ListOptions{}) {
			if storage.CodeOf(err) == storage.CodeUnsupported {
				return nil, nil // a backend without D1 has no databases
			}
			if err != nil {
				return nil, err
			}
			out = append(out, databaseResource(db))
		}
	}
	return out, nil
}

// changed follows the Store's namespace, bucket and database changes, so that clients
// hear of them (notifications/resources/list_changed) as they happen.
func (r *Resources) changed(_ context.Context, c storage.Change) {
	if r.srv == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch c.Kind {
	case storage.NamespaceCreated, storage.NamespaceRenamed:
		r.srv.AddResources(server.ServerResource{Resource: namespaceResource(c.Namespace), Handler: r.handle})
	case storage.NamespaceDeleted:
		r.srv.DeleteResources(NamespaceURI(c.Namespace.ID))
	case storage.BucketCreated:
		r.srv.AddResources(server.ServerResource{Resource: bucketResource(c.Bucket), Handler: r.handle})
	case storage.BucketDeleted:
		r.srv.DeleteResources(BucketURI(c.Bucket))
	case storage.DatabaseCreated:
		r.srv.AddResources(server.ServerResource{Resource: databaseResource(c.Database), Handler: r.handle})
	case storage.DatabaseDeleted:
		r.srv.DeleteResources(DatabaseURI(c.Database.ID))
	}
}

// Resource names must be unique: mcp-go sorts resources/list by name and
// its cursor is the last name of a page, so a bucket and a namespace of the
// same name could straddle a page boundary and one would be skipped. The
// "kv:", "r2:" and "d1:" prefixes keep them apart; the title is the plain
// name.

func namespaceResource(ns storage.Namespace) mcp.Resource {
	return mcp.NewResource(NamespaceURI(ns.ID), "kv:"+ns.Title,
		mcp.WithResourceTitle(ns.Title),
		mcp.WithResourceDescription(fmt.Sprintf("Workers KV namespace %q (id %s): reads as a JSON listing of its keys, each with its kv:// URI.", ns.Title, ns.ID)),
		mcp.WithMIMEType("application/json"))
}

func bucketResource(name string) mcp.Resource {
	return mcp.NewResource(BucketURI(name), "r2:"+name,
		mcp.WithResourceTitle(name),
		mcp.WithResourceDescription(fmt.Sprintf("R2 bucket %q: reads as a JSON listing of its top-level folders and objects, each with its r2:// URI.", name)),
		mcp.WithMIMEType("application/json"))
}
