package miniflare

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The files of the fixture's bindings as wrangler 4.164.0 named them in a
// real run (find <persist>/v3 -name '*.sqlite').
func TestObjectIDIsWorkerdsIDFromName(t *testing.T) {
	for _, c := range []struct {
		a          area
		name, want string
	}{
		{areaKV, "0f2ac74b498b48028cb68387c421e279", "604730949a2c43a4da6de962297f3c7fde76c71aeecb9720bc4cf749a8259307"},
		{areaR2, "fixture-bucket", "781dd6fb2cfb3f724e8b4a1f954629de034ba712100d46b671be9b05b7fe3cf8"},
		{areaD1, "4f0b8a3e-2d1c-4e5f-9a6b-7c8d9e0f1a2b", "1c3719747d3f3dd7675b92a27020b32f855b4824470c961f1902807b7be4c14e"},
	} {
		if got := objectID(c.a.uniqueKey(), c.name); got != c.want {
			t.Errorf("objectID(%s, %s) = %s, want %s", c.a.uniqueKey(), c.name, got, c.want)
		}
	}
	s := openStore(t, "/p")
	if got, want := s.objectFile(areaKV, fixtureKV.ID), "/p/v3/kv/miniflare-KVNamespaceObject/604730949a2c43a4da6de962297f3c7fde76c71aeecb9720bc4cf749a8259307.sqlite"; got != want {
		t.Errorf("file = %s, want %s", got, want)
	}
}

// The answers of Miniflare's own sanitisePath, run under node.
func TestSanitisePathIsMiniflares(t *testing.T) {
	for in, want := range map[string]string{
		"fixture-bucket": "fixture-bucket", "..": "__", "../x": "___x", "a/../b": "a____b", "./.": "___",
		".hidden": ".hidden", "MY_KV": "MY_KV", "con": "_", "Com1.txt": "_", " a b ": "_a b_", "a:b?c": "a_b_c",
		"x\u0085y": "x_y", "ü-ß": "ü-ß",
	} {
		if got := sanitisePath(in); got != want {
			t.Errorf("sanitisePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenRefusesWhatIsNotAPersistDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	other := filepath.Join(dir, "project")
	os.MkdirAll(filepath.Join(other, "src"), 0o755)
	state := filepath.Join(dir, "state")
	os.MkdirAll(filepath.Join(state, "v3", "kv", "miniflare-KVNamespaceObject"), 0o755)

	for _, c := range []struct {
		dir  string
		says []string
	}{
		{"", []string{"persist dir: is empty"}},
		{file, []string{file, "is a file"}},
		{other, []string{other, "holds no v3/ folder", "--persist-to"}},
		{filepath.Join(state, "v3"), []string{"is the v3 folder", "pass its parent, " + state}},
	} {
		_, err := Open(c.dir, fixture, Options{})
		mustCode(t, err, storage.CodeInvalidArgument, c.says...)
	}
	for _, ok := range []string{filepath.Join(dir, "missing"), t.TempDir(), state} {
		if _, err := Open(ok, fixture, Options{}); err != nil {
			t.Errorf("Open(%s): %v", ok, err)
		}
	}
	// Nothing was made in the refused directories.
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Errorf("%s gained files: %v", other, entries)
	}
}

// A file where Miniflare keeps a namespace, but holding other tables, is
// neither read as empty nor written.
func TestForeignSchemaIsRefusedNamingTheFile(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	path := s.objectFile(areaKV, fixtureKV.ID)
	os.MkdirAll(filepath.Dir(path), 0o755)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE entries (k TEXT, v BLOB); INSERT INTO entries VALUES ('a', 'b')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)

	_, err = s.KV().Get(ctx, fixtureKV.ID, "a")
	mustCode(t, err, storage.CodeInternal, path, "has no table _mf_entries", "not a Miniflare storage file")
	_, err = s.KV().List(ctx, fixtureKV.ID, storage.ListOptions{})
	mustCode(t, err, storage.CodeInternal, path)
	err = s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "a", Body: strings.NewReader("x"), Size: 1})
	mustCode(t, err, storage.CodeInternal, path, "nothing was read or written")
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the foreign file was changed")
	}
	if entries, _ := os.ReadDir(s.blobDir(areaKV, fixtureKV.ID)); len(entries) != 0 {
		t.Errorf("the refused write left blobs: %v", entries)
	}

	// Miniflare's table without one of its columns: another version.
	path = s.objectFile(areaR2, "fixture-bucket")
	os.MkdirAll(filepath.Dir(path), 0o755)
	db, _ = sql.Open("sqlite", path)
	db.Exec("CREATE TABLE _mf_objects (key TEXT PRIMARY KEY, blob_id TEXT)")
	db.Close()
	_, err = s.R2().HeadObject(ctx, "fixture-bucket", "k")
	mustCode(t, err, storage.CodeInternal, path, "its table _mf_objects has no column version")

	// Not a database at all.
	path = s.objectFile(areaD1, fixtureDB.ID)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, bytes.Repeat([]byte("not sqlite"), 500), 0o644)
	_, err = s.D1().Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "SELECT 1"}}, storage.QueryOptions{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a file that is not SQLite: %v", err)
	}
}

// Writes into a persist dir dev never used, read back by the package (the
// Worker reading them is TestAgainstWranglerDev).
func TestRoundTripInAFreshDir(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s, err := Open(filepath.Join(t.TempDir(), "state"), fixture, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	kv := s.KV()

	// Before any write: the bindings are there, empty.
	if _, err := kv.Get(ctx, fixtureKV.ID, "k"); storage.CodeOf(err) != storage.CodeNotFound {
		t.Fatalf("Get in an empty dir: %v", err)
	}
	if page, err := kv.List(ctx, fixtureKV.ID, storage.ListOptions{}); err != nil || len(page.Keys) != 0 {
		t.Fatalf("List in an empty dir: %+v, %v", page, err)
	}
	if _, err := kv.Get(ctx, "unbound", "k"); storage.CodeOf(err) != storage.CodeNotFound || !strings.Contains(err.Error(), "wrangler config") {
		t.Fatalf("an unbound namespace: %v", err)
	}
	ns, err := kv.ListNamespaces(ctx, storage.ListOptions{Limit: 1})
	if err != nil || len(ns.Namespaces) != 1 || ns.Namespaces[0].Title != "KV" || ns.Cursor == "" {
		t.Fatalf("namespaces = %+v, %v", ns, err)
	}
	ns, err = kv.ListNamespaces(ctx, storage.ListOptions{Limit: 1, Cursor: ns.Cursor})
	if err != nil || len(ns.Namespaces) != 1 || ns.Namespaces[0].Title != "KV2" || ns.Cursor != "" {
		t.Fatalf("namespaces, page 2 = %+v, %v", ns, err)
	}

	_, err = kv.BulkPut(ctx, fixtureKV.ID, []storage.KVEntry{
		{Key: "a", Value: []byte("1"), Metadata: json.RawMessage(`{ "spaced" : true }`)},
		{Key: "b", Value: []byte{}, Expiry: storage.Expiry{TTL: 60}},
		{Key: "c", Value: []byte("3"), Expiry: storage.Expiry{Expiration: now.Unix() + 10}},
		{Key: "d", Value: []byte("4")},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, got := kvGet(t, s, fixtureKV.ID, "a")
	if string(got) != "1" || string(v.Metadata) != `{"spaced":true}` {
		t.Fatalf("a = %q, metadata %s (Miniflare stores JSON.stringify's compact form)", got, v.Metadata)
	}
	v, got = kvGet(t, s, fixtureKV.ID, "b")
	if len(got) != 0 || v.Expiration != now.Unix()+60 {
		t.Fatalf("b = %q, expires %d", got, v.Expiration)
	}
	page, err := kv.List(ctx, fixtureKV.ID, storage.ListOptions{Limit: 2})
	if err != nil || len(page.Keys) != 2 || page.Keys[1].Name != "b" || page.Cursor == "" {
		t.Fatalf("page 1 = %+v, %v", page, err)
	}
	page, err = kv.List(ctx, fixtureKV.ID, storage.ListOptions{Limit: 2, Cursor: page.Cursor})
	if err != nil || len(page.Keys) != 2 || page.Keys[0].Name != "c" || page.Cursor != "" {
		t.Fatalf("page 2 = %+v, %v", page, err)
	}
	// Expired values are invisible, to reads and listings alike.
	now = now.Add(30 * time.Second)
	if _, err := kv.Get(ctx, fixtureKV.ID, "c"); storage.CodeOf(err) != storage.CodeNotFound {
		t.Fatalf("expired c: %v", err)
	}
	items, err := kv.BulkGet(ctx, fixtureKV.ID, []string{"c", "d", "zz"}, storage.BulkGetOptions{})
	if err != nil || items[0].Found || !items[1].Found || string(items[1].Value) != "4" || items[2].Found {
		t.Fatalf("bulk get = %+v, %v", items, err)
	}
	if _, err := kv.BulkGet(ctx, fixtureKV.ID, []string{"a", "d"}, storage.BulkGetOptions{MaxBytes: 1}); storage.CodeOf(err) != storage.CodeTooLarge {
		t.Fatalf("bulk get over MaxBytes: %v", err)
	}
	page, _ = kv.List(ctx, fixtureKV.ID, storage.ListOptions{})
	if len(page.Keys) != 3 {
		t.Fatalf("keys after c expired = %+v", page.Keys)
	}
	if n, err := kv.BulkDelete(ctx, fixtureKV.ID, []string{"a", "nope"}); err != nil || n != 2 {
		t.Fatalf("bulk delete = %d, %v", n, err)
	}
	// Every blob left is named by a row: deletes and overwrites removed theirs.
	blobs, _ := os.ReadDir(s.blobDir(areaKV, fixtureKV.ID))
	if len(blobs) != 3 { // b, c (expired, not yet purged: Miniflare purges on its own reads), d
		t.Fatalf("blobs = %d, want 3", len(blobs))
	}

	// R2.
	r2 := s.R2()
	for _, k := range []string{"a/1", "a/2", "b", "c/x/y", "d"} {
		if _, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: k, Body: strings.NewReader(k), Size: int64(len(k))}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		objects, prefixes []string
		cur               string
	)
	for i := 0; ; i++ {
		p, err := r2.ListObjects(ctx, "fixture-bucket", storage.ObjectListOptions{Delimiter: "/", Limit: 1, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			objects = append(objects, o.Key)
		}
		prefixes = append(prefixes, p.Prefixes...)
		if cur = p.Cursor; cur == "" || i > 10 {
			break
		}
	}
	if !reflect.DeepEqual(objects, []string{"b", "d"}) || !reflect.DeepEqual(prefixes, []string{"a/", "c/"}) {
		t.Fatalf("paged listing: objects %q, prefixes %q", objects, prefixes)
	}
	if _, err := r2.GetObject(ctx, "fixture-bucket", "b", &storage.ByteRange{Start: 1, End: -1}); storage.CodeOf(err) != storage.CodeInvalidArgument {
		t.Fatalf("a range past the end: %v", err)
	}
	res, err := r2.DeleteObjects(ctx, "fixture-bucket", []string{"a/1", "missing"})
	if err != nil || len(res.Deleted) != 2 {
		t.Fatalf("delete = %+v, %v", res, err)
	}
	if _, err := r2.HeadObject(ctx, "fixture-bucket", "a/1"); storage.CodeOf(err) != storage.CodeNotFound {
		t.Fatalf("deleted a/1: %v", err)
	}
	if _, err := r2.Presign(ctx, storage.PresignRequest{}); storage.CodeOf(err) != storage.CodeUnsupported {
		t.Fatalf("presign: %v", err)
	}

	// D1: a read of a database never used sees an empty one and makes no file.
	d1 := s.D1()
	if _, err := d1.Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "SELECT * FROM t"}}, storage.QueryOptions{}); storage.CodeOf(err) != storage.CodeInvalidArgument || !strings.Contains(err.Error(), "no such table: t") {
		t.Fatalf("a read of an unused database: %v", err)
	}
	if _, err := os.Stat(s.objectFile(areaD1, fixtureDB.ID)); err == nil {
		t.Fatal("a read made a D1 file")
	}
	out, err := d1.Query(ctx, fixtureDB.ID, []storage.Statement{
		{SQL: "CREATE TABLE t (id INTEGER PRIMARY KEY, v)"},
		{SQL: "INSERT INTO t (v) VALUES (?), (?)", Params: []any{"x", true}},
	}, storage.QueryOptions{})
	if err != nil || out[1].Meta.Changes != 2 || out[1].Meta.LastRowID != 2 {
		t.Fatalf("write = %+v, %v", out, err)
	}
	// Foreign keys are enforced, as workerd's D1 does (PRAGMA foreign_keys
	// is 1 there, checked against a real run).
	_, err = d1.Query(ctx, fixtureDB.ID, []storage.Statement{
		{SQL: "CREATE TABLE child (id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t(id))"},
		{SQL: "INSERT INTO child (t_id) VALUES (42)"},
	}, storage.QueryOptions{})
	mustCode(t, err, storage.CodeInvalidArgument, "FOREIGN KEY constraint failed")
	// A failing batch changes nothing.
	_, err = d1.Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "INSERT INTO t (v) VALUES (1)"}, {SQL: "INSERT INTO nope VALUES (1)"}}, storage.QueryOptions{})
	mustCode(t, err, storage.CodeInvalidArgument, "statement 1", "no such table: nope")
	_, err = d1.Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "DELETE FROM t"}}, storage.QueryOptions{ReadOnly: true})
	mustCode(t, err, storage.CodeReadOnly)
	_, err = d1.Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "PRAGMA journal_mode = DELETE"}}, storage.QueryOptions{})
	mustCode(t, err, storage.CodeInvalidArgument, "PRAGMA journal_mode with a value is not allowed")
	out, err = d1.Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "SELECT v FROM t ORDER BY id"}, {SQL: "PRAGMA journal_mode"}}, storage.QueryOptions{ReadOnly: true})
	if err != nil || !reflect.DeepEqual(out[0].Rows, [][]any{{"x"}, {int64(1)}}) || out[1].Rows[0][0] != "wal" {
		t.Fatalf("read = %+v, %v", out, err)
	}
	info, err := d1.GetDatabase(ctx, fixtureDB.ID)
	if err != nil || info.NumTables != 1 || info.Name != "fixture-db" {
		t.Fatalf("database = %+v, %v", info, err)
	}

	// What wrangler dev does not do.
	for _, err := range []error{
		func() error { _, err := kv.CreateNamespace(ctx, "site-config"); return err }(),
		func() error { _, err := r2.CreateBucket(ctx, storage.BucketSpec{Name: "assets"}); return err }(),
		func() error { _, err := d1.CreateDatabase(ctx, storage.DatabaseSpec{Name: "app"}); return err }(),
	} {
		mustCode(t, err, storage.CodeUnsupported, "wrangler config", "binding = ")
	}
	mustCode(t, kv.DeleteNamespace(ctx, fixtureKV.ID), storage.CodeUnsupported, "[[kv_namespaces]]")
	mustCode(t, r2.DeleteBucket(ctx, "fixture-bucket"), storage.CodeUnsupported, "[[r2_buckets]]")
	mustCode(t, d1.DeleteDatabase(ctx, fixtureDB.ID), storage.CodeUnsupported, "[[d1_databases]]")
	mustCode(t, kv.RenameNamespace(ctx, fixtureKV.ID, "x"), storage.CodeUnsupported)
}

// A write whose body is shorter or longer than its size stores nothing.
func TestBadBodyStoresNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	err := s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "k", Body: strings.NewReader("abc"), Size: 5})
	mustCode(t, err, storage.CodeInvalidArgument, "got 3 bytes where its size says 5")
	_, err = s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "k", Body: strings.NewReader("abcdef"), Size: 5})
	mustCode(t, err, storage.CodeInvalidArgument, "more bytes than its size of 5")
	for _, a := range []area{areaKV, areaR2} {
		name := fixtureKV.ID
		if a == areaR2 {
			name = "fixture-bucket"
		}
		if entries, _ := os.ReadDir(s.blobDir(a, name)); len(entries) != 0 {
			t.Errorf("%s: a refused write left %v", a.dir, entries)
		}
		if _, err := os.Stat(s.objectFile(a, name)); err == nil {
			t.Errorf("%s: a refused write made its database", a.dir)
		}
	}
}

// A blob that does not hold what its row says is reported, not served short.
func TestDamagedBlobIsReported(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if _, err := s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "k", Body: strings.NewReader("0123456789"), Size: 10}); err != nil {
		t.Fatal(err)
	}
	blobs, _ := os.ReadDir(s.blobDir(areaR2, "fixture-bucket"))
	if len(blobs) != 1 {
		t.Fatalf("blobs = %v", blobs)
	}
	os.Truncate(filepath.Join(s.blobDir(areaR2, "fixture-bucket"), blobs[0].Name()), 4)
	_, err := s.R2().GetObject(ctx, "fixture-bucket", "k", nil)
	mustCode(t, err, storage.CodeInternal, blobs[0].Name(), "does not hold the 10 bytes its row says")
}
