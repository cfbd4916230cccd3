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
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/rpcerr"
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
	// ListPageSize is how many folder resources one page of resources/list
	// holds (default DefaultPageSize).
	ListPageSize int
	Log          *slog.Logger
}

// Resources serves the r2://, kv:// and d1:// resources of one server.
type Resources struct {
	srv       *server.MCPServer
	store     *storage.Store
	maxInline int64
	pageSize  int
	listPage  int
	log       *slog.Logger

	// mu guards the folder resources (what resources/list offers), when
	// they were last refreshed, and whether a client has listed them yet.
	mu        sync.Mutex
	folders   map[string]mcp.Resource // by URI
	refreshed time.Time
	listed    bool
}

// New prepares the resources; nothing touches storage until a request needs
// it. Register them with a server with Register.
func New(d Deps) *Resources {
	r := &Resources{store: d.Store, maxInline: d.MaxInlineBytes, pageSize: d.PageSize, listPage: d.ListPageSize, log: d.Log}
	if r.maxInline <= 0 {
		r.maxInline = DefaultMaxInlineBytes
	}
	if r.pageSize <= 0 {
		r.pageSize = DefaultPageSize
	}
	if r.listPage <= 0 {
		r.listPage = DefaultPageSize
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
			"URI while more remain. Keys are percent-encoded per path segment. Expirations are Unix seconds, as in the "+
			"kv tools and Cloudflare's API; other times are RFC 3339."))
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
			srv.AddResourceTemplates(server.ServerResourceTemplate{Template: t.template, Handler: r.handle})
		}
	}
	hooks.AddBeforeListResources(r.beforeList)
	hooks.AddAfterListResources(r.afterList)
	r.store.OnChange(r.changed)
}

// handle is the handler of the templates, so of every r2://, kv:// and
// d1:// URI (the folders resources/list offers included). Its errors name
// the URI and carry their storage code, which rpcerr turns into the
// JSON-RPC code.
func (r *Resources) handle(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	contents, err := r.safeRead(ctx, uri)
	switch storage.CodeOf(err) {
	case "":
		return contents, nil
	case storage.CodeInternal:
		r.log.Error("resource read failed", "uri", uri, "error", err)
	default:
		r.log.Debug("resource read refused", "uri", uri, "error", err)
	}
	return nil, rpcerr.New(uri, err)
}

// safeRead is read that turns a panic into an internal error that says no
// more than that (mcp-go's recovery would send the panic's text).
func (r *Resources) safeRead(ctx context.Context, uri string) (contents []mcp.ResourceContents, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("resource read panicked", "uri", uri, "panic", p, "stack", string(debug.Stack()))
			contents, err = nil, storage.Errorf(storage.CodeInternal, "the read failed unexpectedly; the server logged the details")
		}
	}()
	return r.read(ctx, uri)
}

// beforeList brings the folder resources in step with the backend before
// afterList pages through them: always for a first page, and for later
// pages when the last refresh is old. When no area can be listed at all
// (the API unreachable, say), resources/list fails with the reason rather
// than answering an empty list: mcp-go is made to fail it (a cursor that is
// not base64), and rpcerr sends the reason instead.
func (r *Resources) beforeList(ctx context.Context, _ any, req *mcp.ListResourcesRequest) {
	r.mu.Lock()
	stale := time.Since(r.refreshed) > refreshAfter
	r.mu.Unlock()
	if req.Params.Cursor != "" && !stale {
		return
	}
	listed, err := r.refresh(ctx)
	if err == nil {
		return
	}
	if listed > 0 {
		r.log.Warn("resources/list: some areas could not be listed; listing what is known", "error", storage.Describe(err))
		return
	}
	r.log.Warn("resources/list failed", "error", storage.Describe(err))
	rpcerr.Attach(&req.Params.Meta, &rpcerr.Error{Err: err})
	req.Params.Cursor = "!"
}

// afterList answers resources/list from the folder resources, sorted by
// name, a page at a time; the cursor is the last name of the page before,
// base64-encoded (as mcp-go's own lists). They are not registered with
// mcp-go, which would tell every client the list changed whenever it
// registers one, the first listing of a fresh server included.
func (r *Resources) afterList(_ context.Context, _ any, req *mcp.ListResourcesRequest, res *mcp.ListResourcesResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listed = true
	all := slices.SortedFunc(maps.Values(r.folders), func(a, b mcp.Resource) int { return cmp.Compare(a.Name, b.Name) })
	start := 0
	if after, err := base64.StdEncoding.DecodeString(string(req.Params.Cursor)); err == nil && len(after) > 0 {
		start = sort.Search(len(all), func(i int) bool { return all[i].Name > string(after) })
	}
	end := min(start+r.listPage, len(all))
	res.Resources = append([]mcp.Resource{}, all[start:end]...)
	res.NextCursor = ""
	if end < len(all) {
		res.NextCursor = mcp.Cursor(base64.StdEncoding.EncodeToString([]byte(all[end-1].Name)))
	}
}

// Refresh brings the folder resources, one per bucket, namespace and D1
// database the Store shows (the allow-lists apply), in step with the
// backend, and tells clients when the set changed
// (notifications/resources/list_changed). An area whose listing fails (a
// token without R2 permissions, say) keeps the folders known before, and
// the error is returned after the other areas are brought up to date.
func (r *Resources) Refresh(ctx context.Context) error {
	_, err := r.refresh(ctx)
	return err
}

// refresh is Refresh that also says how many areas were listed.
func (r *Resources) refresh(ctx context.Context) (listed int, err error) {
	// Hold the lock while listing too, so that a change reported meanwhile
	// is not undone by a listing taken before it.
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[string]mcp.Resource{}
	var failed []areaError
	for _, area := range storage.Areas {
		if !r.store.Serves(area) {
			continue
		}
		found, err := r.areaFolders(ctx, area)
		if err != nil {
			failed = append(failed, areaError{area, err})
			prefix := string(area) + "://"
			for uri, res := range r.folders {
				if strings.HasPrefix(uri, prefix) {
					want[uri] = res
				}
			}
			continue
		}
		listed++
		for _, res := range found {
			want[res.URI] = res
		}
	}
	r.setFolders(want)
	r.refreshed = time.Now()
	return listed, listError(failed)
}

type areaError struct {
	area storage.Area
	err  error
}

// listError is one error for the areas that could not be listed, with the
// code of the first. Areas that failed with the same code are named
// together with the first of their errors: an unreachable API is said
// once, not once per area.
func listError(failed []areaError) error {
	if len(failed) == 0 {
		return nil
	}
	var codes []storage.Code
	areas, first := map[storage.Code][]string{}, map[storage.Code]error{}
	for _, f := range failed {
		c := storage.CodeOf(f.err)
		if _, ok := first[c]; !ok {
			codes, first[c] = append(codes, c), f.err
		}
		areas[c] = append(areas[c], f.area.Title())
	}
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = strings.Join(areas[c], ", ") + " could not be listed: " + storage.Describe(first[c])
	}
	return storage.Errorf(codes[0], "%s", strings.Join(parts, "; "))
}

// setFolders makes want the folder resources, telling clients that have
// listed them when the set changed. r.mu is held.
func (r *Resources) setFolders(want map[string]mcp.Resource) {
	same := len(want) == len(r.folders)
	for uri, res := range want {
		old, ok := r.folders[uri]
		same = same && ok && old.Name == res.Name && old.Title == res.Title
	}
	r.folders = want
	if !same {
		r.notify()
	}
}

// notify sends notifications/resources/list_changed, once a client has
// listed the resources: before that, no client holds a list to refresh.
// r.mu is held.
func (r *Resources) notify() {
	if r.listed && r.srv != nil {
		r.srv.SendNotificationToAllClients(mcp.MethodNotificationResourcesListChanged, nil)
	}
}

// folders lists the folder resources of one area.
func (r *Resources) areaFolders(ctx context.Context, area storage.Area) ([]mcp.Resource, error) {
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
	r.mu.Lock()
	defer r.mu.Unlock()
	want := maps.Clone(r.folders)
	if want == nil {
		want = map[string]mcp.Resource{}
	}
	switch c.Kind {
	case storage.NamespaceCreated, storage.NamespaceRenamed:
		res := namespaceResource(c.Namespace)
		want[res.URI] = res
	case storage.NamespaceDeleted:
		delete(want, NamespaceURI(c.Namespace.ID))
	case storage.BucketCreated:
		res := bucketResource(c.Bucket)
		want[res.URI] = res
	case storage.BucketDeleted:
		delete(want, BucketURI(c.Bucket))
	case storage.DatabaseCreated:
		res := databaseResource(c.Database)
		want[res.URI] = res
	case storage.DatabaseDeleted:
		delete(want, DatabaseURI(c.Database.ID))
	}
	r.setFolders(want)
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
