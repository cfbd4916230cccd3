package wrangler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/explorer"
)

// Name is the backend's name, as --backend spells it.
const Name = "wrangler"

// KVData, R2Data and D1Data are the data operations of a path to dev's
// state, on the ids dev uses (already checked to be the project's).
type (
	KVData interface {
		Get(ctx context.Context, namespaceID, key string) (*storage.KVValue, error)
		Put(ctx context.Context, namespaceID string, put storage.KVPut) error
		Delete(ctx context.Context, namespaceID, key string) error
		List(ctx context.Context, namespaceID string, opts storage.ListOptions) (storage.KeyPage, error)
		BulkPut(ctx context.Context, namespaceID string, entries []storage.KVEntry) (storage.BulkPutResult, error)
		BulkGet(ctx context.Context, namespaceID string, keys []string, opts storage.BulkGetOptions) ([]storage.KVItem, error)
		BulkDelete(ctx context.Context, namespaceID string, keys []string) (int, error)
	}
	R2Data interface {
		ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error)
		HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error)
		GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error)
		PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error)
		CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error)
		DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error)
	}
	D1Data interface {
		Query(ctx context.Context, databaseID string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error)
	}
)

// Files is the path to the persisted state, used while dev does not run:
// the data operations of its KV, R2 and D1 on the ids dev uses (its
// namespace-level operations are not called; the config answers those).
// miniflare.Store is one.
type Files interface {
	KV() storage.KV
	R2() storage.R2
	D1() storage.D1
}

// FilesOpener opens the persisted state of p in persistDir; devURL is where
// dev would answer, for the refusals of a store that finds it running.
type FilesOpener func(persistDir string, p *Project, devURL string) (Files, error)

// Options configure the backend.
type Options struct {
	// ConfigPath is the wrangler config; "" finds one in Dir.
	ConfigPath string
	// Dir is where to look for a config when ConfigPath is empty; "" is the
	// working directory.
	Dir string
	// Env selects an environment of the config ("" for the top level).
	Env string
	// URL is where wrangler dev answers; "" takes dev.ip and dev.port of
	// the config (http://127.0.0.1:8787 by default).
	URL string
	// PersistTo is dev's --persist-to; "" is .wrangler/state beside the
	// config.
	PersistTo string
	// Files opens the persisted state when dev does not run; nil answers
	// unavailable, naming how to start dev.
	Files  FilesOpener
	Logger *slog.Logger
	HTTP   *http.Client
}

// Backend is a Worker project's `wrangler dev` state. It reads the config at
// New and touches nothing else until the first call: then it probes dev,
// and goes through its Local Explorer while dev answers, through the files
// when it does not.
type Backend struct {
	p       *Project
	url     string
	persist string
	opts    Options
	log     *slog.Logger

	now func() time.Time

	mu       sync.Mutex
	explorer *explorer.Store // while dev answers
	probing  chan struct{}   // closed when the probe in flight ends
	failed   error           // the last probe's error, reused until failedAt+probeAgain
	failedAt time.Time
	files    Files // opened at the first call without dev
}

// probeAgain is how long a failed probe's answer is reused: calls in a
// burst do not each wait for a probe of a dev that hangs. A refused
// connection is not reused: it is immediate to probe again, and a dev
// started meanwhile is found at once.
const probeAgain = time.Second

var _ storage.Backend = (*Backend)(nil)

// New reads the project's wrangler config. A missing or broken config is an
// error naming the file and the fix.
func New(opts Options) (*Backend, error) {
	path := opts.ConfigPath
	if path == "" {
		dir := opts.Dir
		if dir == "" {
			dir = "."
		}
		found, err := FindConfig(dir)
		if err != nil {
			abs, _ := filepath.Abs(dir)
			return nil, fmt.Errorf("backend wrangler: no wrangler.jsonc, wrangler.json or wrangler.toml in %s: run mcp-cfstorage in the Worker project's directory, or pass its config with --wrangler-config", abs)
		}
		path = found
	}
	p, err := LoadProject(path, opts.Env)
	if err != nil {
		return nil, err
	}
	b := &Backend{p: p, opts: opts, url: strings.TrimRight(opts.URL, "/"), persist: opts.PersistTo, log: opts.Logger, now: time.Now}
	if b.url == "" {
		b.url = p.DevURL()
	}
	if b.persist == "" {
		b.persist = p.DefaultPersistDir()
	} else if abs, err := filepath.Abs(b.persist); err == nil {
		b.persist = abs
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if !p.HasBindings() {
		b.log.Warn("the wrangler config binds no local KV namespace, R2 bucket or D1 database", "config", p.ConfigPath, "env", p.Env)
	}
	return b, nil
}

// Project is the config the backend serves.
func (b *Backend) Project() *Project { return b.p }

func (b *Backend) Name() string   { return Name }
func (b *Backend) KV() storage.KV { return kvBackend{b} }
func (b *Backend) R2() storage.R2 { return r2Backend{b} }
func (b *Backend) D1() storage.D1 { return d1Backend{b} }
func (b *Backend) Close() error   { return nil }

// path is where a data operation goes: the Local Explorer while dev answers
// (probed at the first call and after dev stopped answering), the files
// otherwise.
type path struct {
	kv   KVData
	r2   R2Data
	d1   D1Data
	name string
}

func (b *Backend) route(ctx context.Context) (path, error) {
	for {
		b.mu.Lock()
		switch {
		case b.explorer != nil:
			s := b.explorer
			b.mu.Unlock()
			return path{kv: s, r2: s, d1: s, name: "explorer"}, nil
		case b.failed != nil && b.now().Before(b.failedAt.Add(probeAgain)):
			err := b.failed
			b.mu.Unlock()
			return b.notAnswering(err)
		case b.probing != nil:
			// One probe at a time (it may take seconds): wait for its answer
			// rather than probe again, without holding the lock.
			wait := b.probing
			b.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return path{}, ctx.Err()
			}
		}
		done := make(chan struct{})
		b.probing = done
		b.mu.Unlock()

		s, err := explorer.Probe(ctx, b.url, b.opts.HTTP)
		b.mu.Lock()
		b.probing = nil
		close(done)
		switch {
		case err == nil:
			b.explorer, b.failed = s, nil
		case ctx.Err() == nil && !errors.Is(err, explorer.ErrNotRunning):
			// A dev that hangs or answers badly (not the caller giving up,
			// nor a refused connection, which costs nothing to probe again
			// and would hide a dev started meanwhile).
			b.failed, b.failedAt = err, b.now()
		}
		b.mu.Unlock()
		if err != nil {
			return b.notAnswering(err)
		}
		b.log.Info("wrangler dev answers: going through its Local Explorer", "url", s.URL())
	}
}

// notAnswering routes a call after the probe failed with err: through the
// files when nothing listens, else err.
func (b *Backend) notAnswering(err error) (path, error) {
	if !errors.Is(err, explorer.ErrNotRunning) {
		return path{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.filesPath()
}

// filesPath opens the persisted state; b.mu is held.
func (b *Backend) filesPath() (path, error) {
	if b.opts.Files == nil {
		return path{}, storage.Errorf(storage.CodeUnavailable,
			"wrangler dev is not running at %s; start it with `npx wrangler dev` in %s (or point --wrangler-url at it): this build reaches the Worker's storage only through a running wrangler dev",
			b.url, filepath.Dir(b.p.ConfigPath))
	}
	if b.files == nil {
		f, err := b.opts.Files(b.persist, b.p, b.url)
		if err != nil {
			return path{}, err
		}
		b.files = f
		b.log.Info("wrangler dev is not running: using the persisted state", "url", b.url, "persist_to", b.persist)
	}
	return path{kv: b.files.KV(), r2: b.files.R2(), d1: b.files.D1(), name: "files"}, nil
}

// gone forgets the Local Explorer after dev did not answer, so that the
// next call probes again, and says what that call will do. The explorer's
// error has said whether the request was sent, so whether anything changed.
func (b *Backend) gone(err error) error {
	if !errors.Is(err, explorer.ErrNoAnswer) {
		return err
	}
	b.mu.Lock()
	b.explorer, b.failed = nil, nil
	b.mu.Unlock()
	next := "restart wrangler dev and call again"
	if b.opts.Files != nil {
		next = "the next call probes dev again, and goes through the persisted state in " + b.persist + " if it stays stopped"
	}
	return &storage.Error{Code: storage.CodeUnavailable, Message: strings.TrimPrefix(err.Error(), "unavailable: ") + "; " + next, Err: err}
}

// Describe says which project, which path and which bindings. It probes dev
// afresh (cheaply: a refused connection is immediate), so that a dev
// stopped since the last call is not reported as the path.
func (b *Backend) Describe(ctx context.Context) (storage.Description, error) {
	d := &storage.WranglerDescription{Config: b.p.ConfigPath, Env: b.p.Env, URL: b.url, PersistDir: b.persist, Bindings: []string{}}
	b.mu.Lock()
	b.explorer, b.failed = nil, nil
	b.mu.Unlock()
	if p, err := b.route(ctx); err == nil {
		d.Path = p.name
	} else {
		d.Path = "unavailable: " + storage.Describe(err)
	}
	for _, k := range b.p.KV {
		d.Bindings = append(d.Bindings, fmt.Sprintf("KV %s (%s)", k.Binding, k.DevID()))
	}
	for _, r := range b.p.R2 {
		d.Bindings = append(d.Bindings, fmt.Sprintf("R2 %s (%s)", r.Binding, r.DevName()))
	}
	for _, db := range b.p.D1 {
		d.Bindings = append(d.Bindings, fmt.Sprintf("D1 %s (%s)", db.Binding, db.DevID()))
	}
	return storage.Description{Backend: Name, Wrangler: d}, nil
}

// kvID is the id under which a KV binding is shown: its dev id when that is
// a namespace id (32 hex digits), which the tools take as an id; otherwise
// (dev keys it by binding name) one derived from it, since a name would be
// taken for a title.
func kvID(b KVBinding) string {
	if id := b.DevID(); storage.IsNamespaceID(id) {
		return id
	}
	return derivedID("kv", b.DevID())[:32]
}

// d1ID is the id under which a D1 binding is shown: its dev id when that is
// a UUID, else one derived from it.
func d1ID(b D1Binding) string {
	if id := b.DevID(); storage.IsDatabaseID(id) {
		return id
	}
	h := derivedID("d1", b.DevID())
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func derivedID(kind, id string) string {
	sum := sha256.Sum256([]byte("mcp-cfstorage wrangler " + kind + ":" + id))
	return hex.EncodeToString(sum[:])
}

// kvBinding finds the binding ref names: any of its ids, its binding name,
// or the id it is shown under.
func (b *Backend) kvBinding(ref string) (KVBinding, error) {
	if k, ok := b.p.KVNamespace(ref); ok {
		return k, nil
	}
	for _, k := range b.p.KV {
		if kvID(k) == ref {
			return k, nil
		}
	}
	return KVBinding{}, storage.Errorf(storage.CodeNotFound, "namespace %q: not a KV binding of %s (call list_kv_namespaces to see them)", ref, b.p.ConfigPath)
}

func (b *Backend) r2Binding(ref string) (R2Binding, error) {
	if r, ok := b.p.R2Bucket(ref); ok {
		return r, nil
	}
	return R2Binding{}, storage.Errorf(storage.CodeNotFound, "bucket %q: not an R2 binding of %s (call list_r2_buckets to see them)", ref, b.p.ConfigPath)
}

func (b *Backend) d1Binding(ref string) (D1Binding, error) {
	if d, ok := b.p.D1Database(ref); ok {
		return d, nil
	}
	for _, d := range b.p.D1 {
		if d1ID(d) == ref {
			return d, nil
		}
	}
	return D1Binding{}, storage.Errorf(storage.CodeNotFound, "database %q: not a D1 binding of %s (call list_d1_databases to see them)", ref, b.p.ConfigPath)
}

// block is the config block that binds what a create asked for, in the
// config's own format.
func (b *Backend) block(toml, json string) string {
	if strings.HasSuffix(b.p.ConfigPath, ".toml") {
		return toml
	}
	return json
}

func (b *Backend) unsupportedCreate(what, block string) error {
	return storage.Errorf(storage.CodeUnsupported,
		"wrangler dev does not create %s: its storage is the config's bindings. Add this to %s%s, then restart wrangler dev:\n%s",
		what, b.p.ConfigPath, b.envNote(), block)
}

// RefuseDelete is why the namespace, bucket or database ref cannot be
// deleted: wrangler dev's storage is the config's bindings
// (storage.FixedResources, so that no one is asked to confirm a delete that
// cannot happen).
func (b *Backend) RefuseDelete(area storage.Area, ref string) error {
	var binding, what string
	var err error
	switch area {
	case storage.AreaKV:
		var bd KVBinding
		bd, err = b.kvBinding(ref)
		binding, what = bd.Binding, "KV namespaces"
	case storage.AreaR2:
		var bd R2Binding
		bd, err = b.r2Binding(ref)
		binding, what = bd.Binding, "R2 buckets"
	case storage.AreaD1:
		var bd D1Binding
		bd, err = b.d1Binding(ref)
		binding, what = bd.Binding, "D1 databases"
	default:
		return storage.Errorf(storage.CodeInvalidArgument, "no storage area %q", area)
	}
	if err != nil {
		return err
	}
	return b.unsupportedDelete(what, binding)
}

var _ storage.FixedResources = (*Backend)(nil)

func (b *Backend) unsupportedDelete(what, binding string) error {
	return storage.Errorf(storage.CodeUnsupported,
		"wrangler dev does not delete %s: remove the binding %s from %s%s and restart wrangler dev (its data stays in %s until you delete that directory)",
		what, binding, b.p.ConfigPath, b.envNote(), b.persist)
}

func (b *Backend) envNote() string {
	if b.p.Env == "" {
		return ""
	}
	return " (in env." + b.p.Env + ")"
}
