package wrangler_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

func project(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

const bareJSONC = `{
  // ids left out: wrangler dev keys these by binding name
  "kv_namespaces": [{"binding": "CACHE"}],
  "r2_buckets": [{"binding": "FILES", "bucket_name": "files"}],
  "d1_databases": [{"binding": "DB", "database_name": "app"}],
}`

// TestNewErrors: no config, or a broken one, fails at start naming the
// directory or file and the fix; nothing is probed.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := wrangler.New(wrangler.Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "--wrangler-config") {
		t.Errorf("empty dir: %v", err)
	}
	broken := project(t, "wrangler.toml", "[[kv_namespaces]\n")
	if _, err := wrangler.New(wrangler.Options{Dir: broken}); err == nil || !strings.Contains(err.Error(), filepath.Join(broken, "wrangler.toml")) {
		t.Errorf("broken config: %v", err)
	}
}

// TestBindingsAreTheAreas: namespaces, buckets and databases are the
// config's bindings, under ids the tools take as ids (derived when dev keys
// a binding by name), resolvable by every id and name; creating and
// deleting answer unsupported with the block to add, in the config's
// format; presigning is unsupported. None of it needs dev.
func TestBindingsAreTheAreas(t *testing.T) {
	ctx := context.Background()
	b, err := wrangler.New(wrangler.Options{Dir: project(t, "wrangler.jsonc", bareJSONC), URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	nss, err := b.KV().ListNamespaces(ctx, storage.ListOptions{})
	if err != nil || len(nss.Namespaces) != 1 || nss.Namespaces[0].Title != "CACHE" || !storage.IsNamespaceID(nss.Namespaces[0].ID) {
		t.Fatalf("namespaces = %+v, %v", nss, err)
	}
	for _, ref := range []string{"CACHE", nss.Namespaces[0].ID} {
		if ns, err := b.KV().GetNamespace(ctx, ref); err != nil || ns != nss.Namespaces[0] {
			t.Errorf("GetNamespace(%q) = %+v, %v", ref, ns, err)
		}
	}
	if _, err := b.KV().GetNamespace(ctx, "OTHER"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetNamespace(OTHER): %v", err)
	}
	dbs, err := b.D1().ListDatabases(ctx, storage.ListOptions{})
	if err != nil || len(dbs.Databases) != 1 || dbs.Databases[0].Name != "app" || !storage.IsDatabaseID(dbs.Databases[0].ID) {
		t.Fatalf("databases = %+v, %v", dbs, err)
	}
	for _, ref := range []string{"DB", "app", dbs.Databases[0].ID} {
		if db, err := b.D1().GetDatabase(ctx, ref); err != nil || db.ID != dbs.Databases[0].ID {
			t.Errorf("GetDatabase(%q) = %+v, %v", ref, db, err)
		}
	}
	bks, err := b.R2().ListBuckets(ctx, storage.ListOptions{})
	if err != nil || len(bks.Buckets) != 1 || bks.Buckets[0].Name != "files" {
		t.Fatalf("buckets = %+v, %v", bks, err)
	}
	if bk, err := b.R2().GetBucket(ctx, "FILES"); err != nil || bk.Name != "files" {
		t.Errorf("GetBucket(FILES) = %+v, %v", bk, err)
	}

	_, err = b.KV().CreateNamespace(ctx, "site config")
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), `"kv_namespaces": [{ "binding": "SITE_CONFIG" }]`) || !strings.Contains(err.Error(), "wrangler.jsonc") {
		t.Errorf("CreateNamespace: %v", err)
	}
	_, err = b.R2().CreateBucket(ctx, storage.BucketSpec{Name: "media"})
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), `"bucket_name": "media"`) {
		t.Errorf("CreateBucket: %v", err)
	}
	_, err = b.D1().CreateDatabase(ctx, storage.DatabaseSpec{Name: "shop"})
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), `"database_name": "shop"`) {
		t.Errorf("CreateDatabase: %v", err)
	}
	for name, err := range map[string]error{
		"DeleteNamespace": b.KV().DeleteNamespace(ctx, "CACHE"),
		"RenameNamespace": b.KV().RenameNamespace(ctx, "CACHE", "x"),
		"DeleteBucket":    b.R2().DeleteBucket(ctx, "files"),
		"DeleteDatabase":  b.D1().DeleteDatabase(ctx, "DB"),
	} {
		if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "wrangler.jsonc") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := b.R2().Presign(ctx, storage.PresignRequest{Bucket: "files", Key: "k", Method: "GET"}); !errors.Is(err, storage.ErrUnsupported) {
		t.Errorf("Presign: %v", err)
	}

	toml, err := wrangler.New(wrangler.Options{Dir: project(t, "wrangler.toml", "[[kv_namespaces]]\nbinding = \"K\"\n"), URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toml.KV().CreateNamespace(ctx, "x"); !strings.Contains(err.Error(), "[[kv_namespaces]]\nbinding = \"X\"") {
		t.Errorf("CreateNamespace in a TOML project: %v", err)
	}
}

// TestNotRunning: with nothing at the URL, a data call is unavailable,
// naming the URL and how to start dev, while the files path is not wired.
func TestNotRunning(t *testing.T) {
	dir := project(t, "wrangler.jsonc", bareJSONC)
	u := "http://127.0.0.1:" + strconv.Itoa(wranglertest.FreePort(t))
	b, err := wrangler.New(wrangler.Options{Dir: dir, URL: u})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.KV().Get(context.Background(), "CACHE", "k")
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "wrangler dev is not running at "+u) || !strings.Contains(err.Error(), "wrangler dev` in "+dir) {
		t.Errorf("Get: %v", err)
	}
	d, err := b.Describe(context.Background())
	if err != nil || d.Backend != "wrangler" || d.Wrangler == nil || !strings.HasPrefix(d.Wrangler.Path, "unavailable") ||
		d.Wrangler.Config != filepath.Join(dir, "wrangler.jsonc") || len(d.Wrangler.Bindings) != 3 {
		t.Errorf("Describe = %+v %+v, %v", d, d.Wrangler, err)
	}
}

// TestFilesWhenNotRunning: with nothing at the URL, data calls go to the
// files path, opened once with the persist dir and the URL.
func TestFilesWhenNotRunning(t *testing.T) {
	dir := project(t, "wrangler.jsonc", bareJSONC)
	u := "http://127.0.0.1:" + strconv.Itoa(wranglertest.FreePort(t))
	opened := 0
	var got struct{ persist, url string }
	b, err := wrangler.New(wrangler.Options{Dir: dir, URL: u, Files: func(persist string, p *wrangler.Project, devURL string) (wrangler.Files, error) {
		opened++
		got.persist, got.url = persist, devURL
		return fakeFiles{}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := b.KV().Get(context.Background(), "CACHE", "k"); err == nil || !strings.Contains(err.Error(), "fake files: CACHE") {
			t.Errorf("Get: %v", err)
		}
	}
	if opened != 1 || got.persist != filepath.Join(dir, ".wrangler", "state") || got.url != u {
		t.Errorf("opened %d times with %+v", opened, got)
	}
	if d, _ := b.Describe(context.Background()); d.Wrangler.Path != "files" {
		t.Errorf("Describe path %q, want files", d.Wrangler.Path)
	}
}

// fakeFiles answers every KV call with an error naming the id it got: the
// dev id of the binding (here its name).
type fakeFiles struct{}

type fakeKV struct{ storage.KV }

func (fakeKV) Get(_ context.Context, ns, _ string) (*storage.KVValue, error) {
	return nil, errors.New("fake files: " + ns)
}

func (fakeFiles) KV() storage.KV { return fakeKV{} }
func (fakeFiles) R2() storage.R2 { return nil }
func (fakeFiles) D1() storage.D1 { return nil }

// TestSomethingElseOnThePort: a server that is not dev's Local Explorer is
// a clear error naming the URL, at the first call, and nothing is written.
func TestSomethingElseOnThePort(t *testing.T) {
	writes := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes++
		}
		io.WriteString(w, "<html>my app</html>")
	}))
	defer srv.Close()
	b, err := wrangler.New(wrangler.Options{Dir: project(t, "wrangler.jsonc", bareJSONC), URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = b.KV().Put(context.Background(), "CACHE", storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1})
	if err == nil || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "not as wrangler dev's Local Explorer") || writes != 0 {
		t.Errorf("Put: %v (writes %d)", err, writes)
	}
}

// TestThroughDev: behind storage.Guard, as the tools use it, the fixture's
// bindings resolve by binding name and id, writes reach the Worker's own
// bindings, whoami says explorer; once dev stops, the next call says so and
// the one after is unavailable with how to start dev.
func TestThroughDev(t *testing.T) {
	dev := wranglertest.Start(t, wranglertest.CopyProject(t, "testdata/worker"))
	b, err := wrangler.New(wrangler.Options{Dir: dev.ProjectDir, URL: dev.URL, PersistTo: dev.PersistDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st := storage.Guard(b, storage.Policy{})
	ns, err := st.Namespace(ctx, "CACHE")
	if err != nil || ns.ID != "0f2ac74b498b48028cb68387c421e279" {
		t.Fatalf("Namespace(CACHE) = %+v, %v", ns, err)
	}
	if err := st.KV().Put(ctx, ns.ID, storage.KVPut{Key: "w/hello.txt", Body: strings.NewReader("hello"), Size: 5}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(dev.URL + "/kv?key=w%2Fhello.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Errorf("the Worker reads %q", body)
	}
	db, err := st.Database(ctx, "fixture-db")
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.D1().Query(ctx, db.ID, []storage.Statement{{SQL: "SELECT ? AS x", Params: []any{"y"}}}, storage.QueryOptions{})
	if err != nil || res[0].Rows[0][0] != "y" {
		t.Errorf("Query = %+v, %v", res, err)
	}
	if d, _ := b.Describe(ctx); d.Wrangler.Path != "explorer" || d.Wrangler.URL != dev.URL {
		t.Errorf("Describe = %+v", d.Wrangler)
	}
	dev.Stop()
	_, err = st.KV().Get(ctx, ns.ID, "w/hello.txt")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Get after dev stopped: %v", err)
	}
	_, err = st.KV().Get(ctx, ns.ID, "w/hello.txt")
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "wrangler dev is not running at "+dev.URL) {
		t.Errorf("second Get after dev stopped: %v", err)
	}
}

// TestGoneUnknownOutcome: when dev reads a write whole and then the
// connection breaks, the backend neither claims that nothing changed nor
// keeps the dead explorer: it says the outcome is unknown and that the next
// call probes again (found by errors.Is, not by text).
func TestGoneUnknownOutcome(t *testing.T) {
	var probes, puts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			probes.Add(1)
			io.WriteString(w, `{"openapi":"3.0.3","info":{"title":"Local Explorer API"}}`)
			return
		}
		io.Copy(io.Discard, r.Body)
		puts.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer srv.Close()
	b, err := wrangler.New(wrangler.Options{Dir: project(t, "wrangler.jsonc", bareJSONC), URL: srv.URL, PersistTo: t.TempDir(),
		Files: func(string, *wrangler.Project, string) (wrangler.Files, error) { return fakeFiles{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		err = b.KV().Put(ctx, "CACHE", storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1})
		if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "whether it was applied is unknown") ||
			strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "probes dev again") {
			t.Errorf("Put: %v", err)
		}
		if probes.Load() != int32(i+1) || puts.Load() != int32(i+1) {
			t.Errorf("after %d puts: %d probes, %d puts reached the server", i+1, probes.Load(), puts.Load())
		}
	}
}

// TestOneProbe: while a probe hangs, concurrent calls wait for its answer
// instead of each probing in turn (the lock is not held across it), and its
// failure is reused for a moment: one probe for all of them. Once that
// moment has passed, the next call probes again.
func TestOneProbe(t *testing.T) {
	var probes atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		<-release
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // an answer that is no answer: not refused, not dev
	}))
	defer srv.Close()
	b, err := wrangler.New(wrangler.Options{Dir: project(t, "wrangler.jsonc", bareJSONC), URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1e9, 0)
	var clock sync.Mutex
	wrangler.SetNow(b, func() time.Time { clock.Lock(); defer clock.Unlock(); return now })
	const calls = 8
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := b.KV().Get(context.Background(), "CACHE", "k")
			errs <- err
		}()
	}
	for probes.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range calls {
		if err := <-errs; !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("Get: %v", err)
		}
	}
	if n := probes.Load(); n != 1 {
		t.Errorf("%d calls made %d probes, want 1", calls, n)
	}
	clock.Lock()
	now = now.Add(2 * time.Second)
	clock.Unlock()
	if _, err := b.KV().Get(context.Background(), "CACHE", "k"); !errors.Is(err, storage.ErrUnavailable) || probes.Load() != 2 {
		t.Errorf("a call after the failure's moment: %v, %d probes in all", err, probes.Load())
	}
}

// TestRefusedNotReused: a refused probe (dev not running) is not reused:
// the call after dev starts goes through it, not through the files, which
// dev then holds.
func TestRefusedNotReused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/cdn-cgi/explorer/api" {
			io.WriteString(w, `{"openapi":"3.0.3","info":{"title":"Local Explorer API"}}`)
			return
		}
		http.Error(w, `{"success":false,"errors":[{"code":10009,"message":"key not found"}]}`, http.StatusNotFound)
	}))
	defer srv.Close()
	var up atomic.Bool // dev started
	var d net.Dialer
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		if !up.Load() {
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}}}
	files := 0
	b, err := wrangler.New(wrangler.Options{Dir: project(t, "wrangler.jsonc", bareJSONC), URL: srv.URL, HTTP: client,
		Files: func(string, *wrangler.Project, string) (wrangler.Files, error) { files++; return fakeFiles{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	wrangler.SetNow(b, func() time.Time { return time.Unix(1e9, 0) }) // the clock stands still
	ctx := context.Background()
	if _, err := b.KV().Get(ctx, "CACHE", "k"); err == nil || !strings.Contains(err.Error(), "fake files") {
		t.Fatalf("Get without dev: %v", err)
	}
	up.Store(true)
	if _, err := b.KV().Get(ctx, "CACHE", "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get once dev answers: %v (want the explorer's not_found)", err)
	}
}
