// Package miniflare reads and writes the state `wrangler dev` persists
// (Miniflare on workerd) directly, for when dev does not run: what the
// Worker will read at its next start is what this package writes, and what
// the Worker wrote is what it reads.
//
// Layout under the persist dir (wrangler's --persist-to, by default
// .wrangler/state), as miniflare 5.20261117.0-beta (wrangler 4.164.0) makes
// it and as the tests check against a real run:
//
//	v3/kv/miniflare-KVNamespaceObject/<doid>.sqlite   one namespace: _mf_entries
//	v3/kv/<namespace id>/blobs/<blob id>              one value's bytes
//	v3/r2/miniflare-R2BucketObject/<doid>.sqlite      one bucket: _mf_objects, multipart tables
//	v3/r2/<bucket name>/blobs/<blob id>               one object's (or part's) bytes
//	v3/d1/miniflare-D1DatabaseObject/<doid>.sqlite    one D1 database: the user's tables only
//	v3/<area>/miniflare-…Object/metadata.sqlite       workerd's own (alarms); opened by
//	                                                  workerd at start and held while it runs
//
// Each <doid>.sqlite is the SQLite storage of the Durable Object that
// Miniflare runs for the namespace, bucket or database: doid is
// workerd's idFromName(id) (see objectID). The files are in WAL mode, and
// workerd leaves its WAL behind when it stops, so readers read through it.
//
// The rules this package keeps: it never changes the journal mode of a
// file workerd made; it never writes while workerd holds the state (see
// checkWritable); reads open read-only with a short busy timeout and hold no
// transaction longer than one statement batch, so they never block a
// running Worker; a write is a blob made durable before the one transaction
// that names it (see writeBlob and the comment on kvStore.write).
package miniflare

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The three kinds of state, by their folder under v3/ and the class of the
// Durable Object Miniflare keeps them in.
type area struct {
	dir   string // under v3/
	class string // the Durable Object class; its folder is "miniflare-"+class
}

var (
	areaKV = area{dir: "kv", class: "KVNamespaceObject"}
	areaR2 = area{dir: "r2", class: "R2BucketObject"}
	areaD1 = area{dir: "d1", class: "D1DatabaseObject"}
)

// uniqueKey is the uniqueKey Miniflare gives the class's Durable Object
// namespace, and the name of the folder holding its SQLite files.
func (a area) uniqueKey() string { return "miniflare-" + a.class }

// objectID is workerd's idFromName(name) in a Durable Object namespace with
// uniqueKey: key = SHA-256(uniqueKey), h1 = HMAC-SHA256(key, name)[:16],
// h2 = HMAC-SHA256(key, h1)[:16], id = hex(h1 ‖ h2). The file of the object
// is <id>.sqlite.
func objectID(uniqueKey, name string) string {
	key := sha256.Sum256([]byte(uniqueKey))
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(name))
	h1 := mac.Sum(nil)[:16]
	mac = hmac.New(sha256.New, key[:])
	mac.Write(h1)
	h2 := mac.Sum(nil)[:16]
	return hex.EncodeToString(append(h1, h2...))
}

// Namespace is a KV namespace binding: ID is the id wrangler dev uses for
// it (preview_id ?? id ?? binding), Title what it is listed as.
type Namespace struct{ ID, Title string }

// Bucket is an R2 bucket binding: Name is the bucket name wrangler dev uses
// (preview_bucket_name ?? bucket_name ?? binding).
type Bucket struct{ Name string }

// Database is a D1 binding: ID is the id wrangler dev uses
// (preview_database_id ?? database_id ?? binding), Name what it is listed as.
type Database struct{ ID, Name string }

// Bindings are the namespaces, buckets and databases of a Worker project:
// the only ones this package lists, reads or writes.
type Bindings struct {
	KV []Namespace
	R2 []Bucket
	D1 []Database
}

// Options qualify a Store.
type Options struct {
	// ExplorerURL is where the Local Explorer of this project's wrangler
	// dev was looked for; the error that refuses a write while dev runs
	// names it.
	ExplorerURL string
	// Now is the clock of expirations and upload times; time.Now if nil.
	Now func() time.Time
	// Logger gets what the store does on its own (removing unused blobs).
	Logger *slog.Logger
}

// Store is the persisted state of one project's wrangler dev. Its KV, R2
// and D1 sides implement the storage interfaces for the bindings it was
// opened with; namespaces, buckets and databases cannot be created,
// renamed or deleted (that is the wrangler config's business).
type Store struct {
	dir  string // the persist dir, absolute
	b    atomic.Pointer[Bindings]
	opts Options
	log  *slog.Logger

	kv *kvStore
	r2 *r2Store
	d1 *d1Store

	// step, when set (by tests), is called at each durable step of a
	// write, so that a test can kill the process there.
	step func(name string)
}

func (s *Store) reached(name string) {
	if s.step != nil {
		s.step(name)
	}
}

// Open checks that persistDir is wrangler dev's persist dir (or does not
// exist yet: dev has never run, and the first write makes it) and returns
// the store over it. It opens no database: each call opens what it needs.
func Open(persistDir string, b Bindings, opts Options) (*Store, error) {
	if persistDir == "" {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "persist dir: is empty: pass wrangler dev's --persist-to (default .wrangler/state beside the wrangler config)")
	}
	dir, err := filepath.Abs(persistDir)
	if err != nil {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "persist dir %q: %v", persistDir, err)
	}
	if err := checkPersistDir(dir); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{dir: dir, opts: opts, log: log}
	s.SetBindings(b)
	s.kv, s.r2, s.d1 = &kvStore{s: s}, &r2Store{s: s}, &d1Store{s: s}
	return s, nil
}

// SetBindings replaces the bindings, for a wrangler config edited while
// the server runs. Calls in flight finish with the bindings they began with.
func (s *Store) SetBindings(b Bindings) {
	b = Bindings{KV: slices.Clone(b.KV), R2: slices.Clone(b.R2), D1: slices.Clone(b.D1)}
	s.b.Store(&b)
}

func (s *Store) bindings() *Bindings { return s.b.Load() }

// KV is the Workers KV side: the KV bindings.
func (s *Store) KV() storage.KV { return s.kv }

// R2 is the R2 side: the R2 bindings.
func (s *Store) R2() storage.R2 { return s.r2 }

// D1 is the D1 side: the D1 bindings.
func (s *Store) D1() storage.D1 { return s.d1 }

// Dir is the persist dir, absolute.
func (s *Store) Dir() string { return s.dir }

// v3 is the folder of every kind of state.
func (s *Store) v3() string { return filepath.Join(s.dir, "v3") }

// objectFile is the SQLite file of the Durable Object of name in area a.
func (s *Store) objectFile(a area, name string) string {
	return filepath.Join(s.v3(), a.dir, a.uniqueKey(), objectID(a.uniqueKey(), name)+".sqlite")
}

// blobDir is where Miniflare's blob store keeps the blobs of name: its disk
// service is rooted at v3/<area>/ and the object's blob URLs are
// /<encodeURIComponent(sanitisePath(name))>/blobs/<id>.
func (s *Store) blobDir(a area, name string) string {
	return filepath.Join(s.v3(), a.dir, sanitisePath(name), "blobs")
}

// checkPersistDir refuses a directory that is plainly not Miniflare's
// persist dir, before anything is read or written there.
func checkPersistDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // dev has not run yet; the first write makes it
	case err != nil:
		return storage.Errorf(storage.CodeUnavailable, "persist dir %s: %v", dir, err)
	case !fi.IsDir():
		return storage.Errorf(storage.CodeInvalidArgument, "persist dir %s: is a file, not wrangler dev's state directory: pass the directory of wrangler dev's --persist-to (default .wrangler/state)", dir)
	}
	if filepath.Base(dir) == "v3" {
		for _, a := range []area{areaKV, areaR2, areaD1} {
			if _, err := os.Stat(filepath.Join(dir, a.dir, a.uniqueKey())); err == nil {
				return storage.Errorf(storage.CodeInvalidArgument, "persist dir %s: is the v3 folder inside wrangler dev's state: pass its parent, %s", dir, filepath.Dir(dir))
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return storage.Errorf(storage.CodeUnavailable, "persist dir %s: %v", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	fi, err = os.Stat(filepath.Join(dir, "v3"))
	if err != nil || !fi.IsDir() {
		return storage.Errorf(storage.CodeInvalidArgument,
			"persist dir %s: holds no v3/ folder, so it is not the state of wrangler dev (Miniflare 3 or later): pass the directory wrangler dev's --persist-to names (default .wrangler/state beside the wrangler config), or an empty or missing one", dir)
	}
	return nil
}

// sanitisePath is Miniflare's sanitisePath (workers/shared/data.ts), which
// names the blob folder of a namespace or bucket.
func sanitisePath(unsafe string) string {
	re := sanitiseREs()
	dotReplace := func(m string) string {
		sub := re.dot.FindStringSubmatch(m)
		return sub[1] + strings.Repeat("_", len(sub[2])) + sub[3]
	}
	s := re.dot.ReplaceAllStringFunc(unsafe, dotReplace)
	s = re.dot.ReplaceAllStringFunc(s, dotReplace)
	s = re.illegal.ReplaceAllString(s, "_")
	s = re.windowsReserved.ReplaceAllString(s, "_")
	s = re.leading.ReplaceAllStringFunc(s, underscores)
	s = re.trailing.ReplaceAllStringFunc(s, underscores)
	if u := []rune(s); len(u) > 255 { // JavaScript's substring counts UTF-16 units; names are short
		s = string(u[:255])
	}
	return s
}

// sanitiseREs are sanitisePath's expressions, compiled on first use:
// compiling them at init cost every start of the server, whatever its
// backend, a tenth of a millisecond.
var sanitiseREs = sync.OnceValue(func() (re struct{ dot, illegal, windowsReserved, leading, trailing *regexp.Regexp }) {
	re.dot = regexp.MustCompile(`(^|/|\\)(\.+)(/|\\|$)`)
	re.illegal = regexp.MustCompile("[?<>*\"'^/\\\\:|\x00-\x1f\u0080-\u009f]")
	re.windowsReserved = regexp.MustCompile(`(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$`)
	re.leading = regexp.MustCompile(`^[ /\\]+`)
	re.trailing = regexp.MustCompile(`[ /\\]+$`)
	return re
})

func underscores(m string) string { return strings.Repeat("_", len(m)) }

// checkWritable refuses a write while wrangler dev (workerd) runs over this
// persist dir. workerd opens the metadata.sqlite of every Durable Object
// class it runs (KV, R2, D1, and the cache, which every Worker has) at
// start and holds it (WAL mode keeps a SHARED lock on it) until it exits,
// so a lock on one held by another process is the sign, whether or not the
// Worker has touched the namespace yet. It is the first step of every write;
// the exclusive lock each write's own connection then takes (see dsn) keeps
// a workerd that starts meanwhile out of the file until it commits.
func (s *Store) checkWritable() error {
	if err := writeRefusal(canTellRunning, runtime.GOOS); err != nil {
		return err
	}
	if holder, running := s.Running(); running {
		return s.errRunning(holder)
	}
	return nil
}

// writeRefusal is the platform rule of checkWritable: where this package
// cannot see whether workerd holds the state (no F_GETLK outside Unix),
// Running would always say no, and a write could land under a running
// Worker; so every write is refused there, even with dev stopped, as
// nothing here could tell that it is.
func writeRefusal(canTell bool, goos string) error {
	if canTell {
		return nil
	}
	return storage.Errorf(storage.CodeUnsupported,
		"writing wrangler dev's persisted state directly is not supported on %s: this build cannot tell whether wrangler dev (workerd) holds the files, and writing under a running Worker would corrupt them; "+
			"run wrangler dev and pass --wrangler-url with the address it prints (\"Ready on …\"), so writes go through its Local Explorer (reads of the files still work)", goos)
}

// Running reports whether a process (wrangler dev's workerd) holds the
// state, and which ("process 123 (workerd) holds <file>"), for a backend
// choosing between the Local Explorer and the files, and for whoami.
func (s *Store) Running() (holder string, running bool) {
	files, _ := filepath.Glob(filepath.Join(s.v3(), "*", "miniflare-*", "metadata.sqlite"))
	for _, path := range files {
		pid, err := lockHolder(path)
		if err != nil || pid == 0 {
			continue // gone meanwhile, or no way to tell
		}
		return fmt.Sprintf("process %d%s holds %s", pid, processName(pid), path), true
	}
	return "", false
}

// errRunning is the refusal of a write while dev runs.
func (s *Store) errRunning(why string) error {
	explorer := "its Local Explorer"
	if s.opts.ExplorerURL != "" {
		explorer += " at " + s.opts.ExplorerURL
	}
	return storage.Errorf(storage.CodeConflict,
		"wrangler dev is running (%s) but %s did not answer; writing its files now would race the Worker: "+
			"pass --wrangler-url with the address wrangler dev prints (\"Ready on …\"), or stop wrangler dev and try again", why, explorer)
}
