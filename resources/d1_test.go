package resources_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/resources"
)

type d1Listing struct {
	URI      string `json:"uri"`
	Database struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"database"`
	Tables []struct {
		Name    string `json:"name"`
		URI     string `json:"uri"`
		SQL     string `json:"sql"`
		Columns []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			NotNull bool   `json:"not_null"`
			Default any    `json:"default"`
			PK      int    `json:"pk"`
		} `json:"columns"`
	} `json:"tables"`
	Note string `json:"note"`
}

type d1Rows struct {
	URI      string `json:"uri"`
	Database struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"database"`
	Table    string   `json:"table"`
	Columns  []string `json:"columns"`
	Rows     [][]any  `json:"rows"`
	RowCount *int     `json:"row_count"`
	Note     string   `json:"note"`
}

func (h *harness) d1JSON(uri string, v any) {
	h.t.Helper()
	text, mime := h.text(uri)
	if mime != "application/json" {
		h.t.Errorf("%s: MIME type %q", uri, mime)
	}
	if err := json.Unmarshal([]byte(text), v); err != nil {
		h.t.Fatalf("%s: %v\n%s", uri, err, text)
	}
}

// sql runs statements through the d1_query tool.
func (h *harness) sql(database, sql string, params ...any) map[string]any {
	h.t.Helper()
	args := map[string]any{"database": database, "sql": sql}
	if len(params) > 0 {
		args["params"] = params
	}
	return h.OK("d1_query", args)
}

func createDB(h *harness, name string) string {
	h.t.Helper()
	return h.OK("create_d1_database", map[string]any{"name": name})["id"].(string)
}

// notFound checks that uri reads as resource-not-found naming the URI.
func (h *harness) notFound(uri string) {
	h.t.Helper()
	_, err := h.tryRead(uri)
	if !errors.Is(err, mcp.ErrInvalidParams) || !strings.Contains(err.Error(), "not_found") {
		h.t.Errorf("%s: %v, want not found", uri, err)
	}
}

// d1://{database}/ lists the tables with their columns; d1://{database}/{table}
// reads their first rows, typed, capped at 100.
func TestD1Tables(t *testing.T) {
	h := newHarness(t, setup{})
	id := createDB(h, "app-db")
	h.sql("app-db", `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL DEFAULT 0.5, avatar BLOB);
		CREATE TABLE "odd ""name""/x" (v);
		CREATE TABLE events (n INTEGER);
		CREATE INDEX users_name ON users(name)`)
	h.sql("app-db", "INSERT INTO users (name, score, avatar) VALUES ('ada', 1.25, x'00ff10'), ('bob', NULL, NULL)")
	h.sql("app-db", `INSERT INTO "odd ""name""/x" VALUES ('first')`)
	h.sql("app-db", "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 150) INSERT INTO events SELECT i FROM c")

	for _, uri := range []string{"d1://app-db/", resources.DatabaseURI(id)} {
		var l d1Listing
		h.d1JSON(uri, &l)
		if l.URI != uri || l.Database.ID != id || l.Database.Name != "app-db" {
			t.Errorf("%s: header %+v", uri, l)
		}
		var names []string
		for _, tb := range l.Tables {
			names = append(names, tb.Name)
			if tb.URI != resources.TableURI(id, tb.Name) || !strings.HasPrefix(tb.SQL, "CREATE TABLE") {
				t.Errorf("table %q: uri %q sql %q", tb.Name, tb.URI, tb.SQL)
			}
		}
		if want := []string{"events", `odd "name"/x`, "users"}; !slices.Equal(names, want) {
			t.Fatalf("%s: tables %q, want %q", uri, names, want)
		}
		users := l.Tables[2]
		if len(users.Columns) != 4 {
			t.Fatalf("users columns: %+v", users.Columns)
		}
		c := users.Columns
		if c[0].Name != "id" || c[0].Type != "INTEGER" || c[0].PK != 1 ||
			c[1].Name != "name" || !c[1].NotNull || c[1].PK != 0 ||
			c[2].Name != "score" || c[2].Type != "REAL" || c[2].Default != "0.5" ||
			c[3].Name != "avatar" || c[3].Type != "BLOB" {
			t.Errorf("users columns: %+v", c)
		}
	}

	// A small table: every row, counted; values typed, blobs in base64.
	var u d1Rows
	h.d1JSON("d1://app-db/users", &u)
	if u.Table != "users" || u.Database.ID != id || !slices.Equal(u.Columns, []string{"id", "name", "score", "avatar"}) {
		t.Errorf("users: %+v", u)
	}
	if u.RowCount == nil || *u.RowCount != 2 || len(u.Rows) != 2 || !strings.Contains(u.Note, "all 2 rows") {
		t.Errorf("users: row_count %v, %d rows, note %q", u.RowCount, len(u.Rows), u.Note)
	}
	if got, _ := json.Marshal(u.Rows); string(got) != `[[1,"ada",1.25,{"base64":"AP8Q"}],[2,"bob",null,null]]` {
		t.Errorf("users rows = %s", got)
	}
	// Table names are found as SQLite finds them, in any ASCII case.
	var upper d1Rows
	h.d1JSON(resources.TableURI(id, "USERS"), &upper)
	if upper.Table != "users" || len(upper.Rows) != 2 {
		t.Errorf("USERS: %+v", upper)
	}

	// A large table: the first 100 rows, a note on paging, no count.
	var ev d1Rows
	h.d1JSON(resources.TableURI(id, "events"), &ev)
	if len(ev.Rows) != resources.MaxTableRows || ev.RowCount != nil || ev.Rows[0][0] != float64(1) || ev.Rows[99][0] != float64(100) {
		t.Errorf("events: %d rows, row_count %v, first %v", len(ev.Rows), ev.RowCount, ev.Rows[0])
	}
	if !strings.Contains(ev.Note, `LIMIT 100 OFFSET 100`) || !strings.Contains(ev.Note, "d1_query") {
		t.Errorf("events note = %q", ev.Note)
	}

	// A name with quotes, a space and a slash: percent-encoded in its URI.
	odd := resources.TableURI("app-db", `odd "name"/x`)
	if odd != "d1://app-db/odd%20%22name%22%2Fx" {
		t.Errorf("odd URI = %s", odd)
	}
	var o d1Rows
	h.d1JSON(odd, &o)
	if o.Table != `odd "name"/x` || len(o.Rows) != 1 || o.Rows[0][0] != "first" {
		t.Errorf("odd table: %+v", o)
	}

	// An empty database lists no tables.
	createDB(h, "empty")
	var e d1Listing
	h.d1JSON("d1://empty/", &e)
	if e.Tables == nil || len(e.Tables) != 0 {
		t.Errorf("empty database: %+v", e)
	}
}

// Rows are cut to keep a read within --max-inline-bytes.
func TestD1InlineLimit(t *testing.T) {
	h := newHarness(t, setup{maxInline: 2000})
	createDB(h, "big")
	h.sql("big", "CREATE TABLE t (s TEXT)")
	h.sql("big", "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 20) INSERT INTO t SELECT printf('%0100d', i) FROM c")
	text, _ := h.text("d1://big/t")
	var r d1Rows
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		t.Fatal(err)
	}
	if len(text) > 2000 || len(r.Rows) == 0 || len(r.Rows) >= 20 || r.RowCount != nil || !strings.Contains(r.Note, "OFFSET") {
		t.Errorf("%d bytes, %d rows, row_count %v, note %q", len(text), len(r.Rows), r.RowCount, r.Note)
	}
}

// Hostile table names are looked up with a bound parameter and never reach
// the SQL unless they are the name of an existing table, quoted: they read as
// not found, and nothing is dropped. A table really called that reads.
func TestD1HostileTableNames(t *testing.T) {
	h := newHarness(t, setup{})
	id := createDB(h, "app")
	h.sql("app", "CREATE TABLE x (v); INSERT INTO x VALUES (1)")
	for _, name := range []string{
		`t"; DROP TABLE x; --`,
		`x"; DROP TABLE x; --`,
		`x" --`,
		`x; DROP TABLE x`,
		`x WHERE 1=0 UNION SELECT sql FROM sqlite_master`,
		`"x"`,
		`x'`,
		"sqlite_master",
		"sqlite_schema",
		"_cf_KV",
		"x\x00y",
	} {
		h.notFound(resources.TableURI(id, name))
	}
	if res := h.sql("app", "SELECT count(*) AS n FROM x"); !strings.Contains(fmt.Sprint(res["results"]), "[[1]]") {
		t.Fatalf("x after hostile reads: %v", res["results"])
	}

	// A table whose name is the attack string reads as itself.
	h.sql("app", `CREATE TABLE "t""; DROP TABLE x; --" (v); INSERT INTO "t""; DROP TABLE x; --" VALUES ('safe')`)
	var r d1Rows
	h.d1JSON(resources.TableURI(id, `t"; DROP TABLE x; --`), &r)
	if r.Table != `t"; DROP TABLE x; --` || len(r.Rows) != 1 || r.Rows[0][0] != "safe" {
		t.Errorf("hostile-named table: %+v", r)
	}
	var l d1Listing
	h.d1JSON("d1://app/", &l)
	if len(l.Tables) != 2 || l.Tables[0].Name != `t"; DROP TABLE x; --` || len(l.Tables[0].Columns) != 1 {
		t.Errorf("listing: %+v", l.Tables)
	}
	if res := h.sql("app", "SELECT count(*) AS n FROM x"); !strings.Contains(fmt.Sprint(res["results"]), "[[1]]") {
		t.Fatalf("x after reading the hostile-named table: %v", res["results"])
	}
}

// A missing database or table is resource-not-found (-32002 / -32602), its
// message naming the URI; a malformed one is an invalid_argument error.
func TestD1NotFound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []client.ClientOption
		wantErr error
	}{
		{"legacy", []client.ClientOption{client.WithProtocolVersion(mcp.ProtocolVersion20251125)}, mcp.ErrResourceNotFound},
		{"modern", nil, mcp.ErrInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, setup{clientOpts: tc.opts})
			id := createDB(h, "app")
			h.sql("app", "CREATE TABLE t (v)")
			gone := createDB(h, "gone")
			h.OK("delete_d1_database", map[string]any{"database": gone, "confirm": "gone"})
			for _, uri := range []string{
				"d1://app/missing",
				resources.TableURI(id, "missing"),
				"d1://no-such-db/",
				"d1://no-such-db/t",
				"d1://00000000-0000-4000-8000-000000000000/",
				resources.DatabaseURI(gone),
				"d1://gone/t",
				"d1://app/a/b", // no template matches
			} {
				_, err := h.tryRead(uri)
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("%s: error %v, want %v", uri, err, tc.wantErr)
					continue
				}
				if uri == "d1://app/a/b" { // mcp-go's own answer
					if !strings.Contains(err.Error(), uri) {
						t.Errorf("%s: the error does not name the URI: %v", uri, err)
					}
					continue
				}
				namesOnce(t, err, uri, "not_found")
			}
			_, err := h.tryRead("d1://Not_A_Name/")
			if !errors.Is(err, mcp.ErrInvalidParams) {
				t.Errorf("malformed database name: %v, want invalid params", err)
			}
			namesOnce(t, err, "d1://Not_A_Name/", "invalid_argument")
		})
	}
}

// Databases complete by name or id prefix, tables from the chosen database,
// at most 100 with hasMore; completed values read back.
func TestD1Completion(t *testing.T) {
	h := newHarness(t, setup{})
	d1 := template(resources.TemplateD1)
	id := createDB(h, "app-db")
	createDB(h, "analytics")
	createDB(h, "apps")
	if c := h.complete(d1, "database", "ap", nil); values(c) != "app-db,apps" || c.HasMore {
		t.Errorf("database ap: %s", values(c))
	}
	if c := h.complete(d1, "database", "", nil); values(c) != "analytics,app-db,apps" {
		t.Errorf("database '': %s", values(c))
	}
	if c := h.complete(d1, "database", id[:8], nil); values(c) != id {
		t.Errorf("database by id prefix: %s", values(c))
	}

	h.sql("app-db", `CREATE TABLE users (v); CREATE TABLE user_roles (v); CREATE TABLE "User Notes" (v); CREATE TABLE orders (v)`)
	in := map[string]string{"database": "app-db"}
	if c := h.complete(d1, "table", "us", in); values(c) != "User%20Notes,user_roles,users" {
		t.Errorf("table us: %s", values(c))
	}
	if c := h.complete(d1, "table", "User%20", map[string]string{"database": id}); values(c) != "User%20Notes" {
		t.Errorf("table User%%20: %s", values(c))
	}
	if text, _ := h.text("d1://app-db/User%20Notes"); !strings.Contains(text, `"table":"User Notes"`) {
		t.Errorf("completed table reads %s", text)
	}
	for _, ctx := range []map[string]string{nil, {"database": "no-such-db"}, {"database": "Bad Name"}} {
		if c := h.complete(d1, "table", "", ctx); len(c.Values) != 0 {
			t.Errorf("tables with database %v: %s", ctx, values(c))
		}
	}

	var stmts []string
	for i := range 105 {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE t%03d (v)", i))
	}
	for batch := range slices.Chunk(stmts, 50) { // D1's statements per batch
		h.sql("apps", strings.Join(batch, ";"))
	}
	c := h.complete(d1, "table", "t", map[string]string{"database": "apps"})
	if len(c.Values) != 100 || !c.HasMore || c.Values[0] != "t000" {
		t.Errorf("105 tables: %d values, hasMore %v", len(c.Values), c.HasMore)
	}
}

// resources/list has one folder per database, kept in step by the D1 tools
// with notifications/resources/list_changed.
func TestD1ListChanged(t *testing.T) {
	h := newHarness(t, setup{})
	const changed = "notifications/resources/list_changed"
	if got := h.listAll(0); len(got) != 0 {
		t.Fatalf("resources = %v", got)
	}
	h.drain()
	id := createDB(h, "app-db")
	h.expect(changed, "create_d1_database")
	got := h.listAll(0)
	if len(got) != 1 || got[0].URI != "d1://"+id+"/" || got[0].Name != "d1:app-db" || got[0].Title != "app-db" ||
		got[0].MIMEType != "application/json" || got[0].Description == "" {
		t.Fatalf("after create: %+v", got)
	}
	var l d1Listing
	h.d1JSON(got[0].URI, &l)
	if l.Database.Name != "app-db" {
		t.Errorf("listed folder reads %+v", l)
	}
	h.drain()
	h.OK("delete_d1_database", map[string]any{"database": "app-db", "confirm": "app-db"})
	h.expect(changed, "delete_d1_database")
	if got := h.listAll(0); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}

// --allow-databases hides the other databases from resources/list,
// completion and reads; --read-only still reads.
func TestD1AllowListAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	admin := newHarness(t, setup{dataDir: dir})
	var secretID string
	for _, name := range []string{"public-db", "secret-db"} {
		id := createDB(admin, name)
		admin.sql(name, "CREATE TABLE t (v); INSERT INTO t VALUES ('row of "+name+"')")
		if name == "secret-db" {
			secretID = id
		}
	}

	h := newHarness(t, setup{dataDir: dir, policy: storage.Policy{Databases: []string{"public-db"}, ReadOnly: true}})
	var titles []string
	for _, r := range h.listAll(0) {
		titles = append(titles, r.Title)
	}
	if !slices.Equal(titles, []string{"public-db"}) {
		t.Fatalf("resources/list = %v", titles)
	}
	if text, _ := h.text("d1://public-db/t"); !strings.Contains(text, "row of public-db") {
		t.Errorf("allowed table = %s", text)
	}
	for _, uri := range []string{"d1://secret-db/", "d1://secret-db/t", resources.DatabaseURI(secretID), resources.TableURI(secretID, "t")} {
		h.notFound(uri)
	}
	d1 := template(resources.TemplateD1)
	if c := h.complete(d1, "database", "", nil); values(c) != "public-db" {
		t.Errorf("database completion = %s", values(c))
	}
	if c := h.complete(d1, "database", secretID[:8], nil); len(c.Values) != 0 {
		t.Errorf("database completion by a hidden id = %s", values(c))
	}
	if c := h.complete(d1, "table", "", map[string]string{"database": "secret-db"}); len(c.Values) != 0 {
		t.Errorf("table completion in a hidden database = %s", values(c))
	}
	if c := h.complete(d1, "table", "", map[string]string{"database": "public-db"}); values(c) != "t" {
		t.Errorf("table completion = %s", values(c))
	}
}

// wrappedHarness serves b, a backend that wraps a local one to change
// what it does.
func wrappedHarness(t *testing.T, b storage.Backend) *harness {
	t.Helper()
	srv, err := mcpserver.New(mcpserver.Options{Version: "test", Store: storage.Guard(b, storage.Policy{})})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, notes: make(chan string, 100)}
	h.Session = mcptest.InProcess(t, srv)
	return h
}

// noD1 is a backend without D1, as the cloudflare backend was before its D1
// slice.
type noD1 struct{ storage.Backend }

func (noD1) D1() storage.D1 { return storage.Unsupported{Reason: "no D1 here"} }

// Without D1, resources/list still lists buckets and namespaces, database
// completion is empty, and a d1:// read says D1 is unsupported.
func TestD1Unsupported(t *testing.T) {
	backend := local.New(t.TempDir())
	t.Cleanup(func() { backend.Close() })
	h := wrappedHarness(t, noD1{backend})
	// Made behind the server's back: only a refresh finds it.
	if _, err := backend.R2().CreateBucket(ctx(t), storage.BucketSpec{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	if got := h.listAll(0); len(got) != 1 || got[0].URI != "r2://bkt/" {
		t.Fatalf("resources/list = %+v", got)
	}
	if c := h.complete(template(resources.TemplateD1), "database", "", nil); len(c.Values) != 0 {
		t.Errorf("database completion = %s", values(c))
	}
	if _, err := h.tryRead("d1://app/"); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("d1 read without D1: %v", err)
	}
}

// flakyR2 is a backend whose bucket listing fails while failing is set, as
// when a token lacks R2 permissions.
type flakyR2 struct {
	storage.Backend
	failing *atomic.Bool
}

func (b flakyR2) R2() storage.R2 { return flakyBuckets{b.Backend.R2(), b.failing} }

type flakyBuckets struct {
	storage.R2
	failing *atomic.Bool
}

func (f flakyBuckets) ListBuckets(ctx context.Context, opts storage.ListOptions) (storage.BucketPage, error) {
	if f.failing.Load() {
		return storage.BucketPage{}, storage.Errorf(storage.CodePermissionDenied, "the token may not list buckets")
	}
	return f.R2.ListBuckets(ctx, opts)
}

// One area failing to list does not stop resources/list: the others are
// brought up to date, and the failing one keeps the folders known before.
func TestRefreshSurvivesOneAreaFailing(t *testing.T) {
	backend := local.New(t.TempDir())
	t.Cleanup(func() { backend.Close() })
	failing := &atomic.Bool{}
	h := wrappedHarness(t, flakyR2{backend, failing})
	// Made behind the server's back: only a refresh finds them.
	if _, err := backend.R2().CreateBucket(ctx(t), storage.BucketSpec{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	uris := func() []string {
		var out []string
		for _, r := range h.listAll(0) {
			out = append(out, r.URI)
		}
		slices.Sort(out)
		return out
	}
	if got := uris(); !slices.Equal(got, []string{"r2://bkt/"}) {
		t.Fatalf("resources/list = %q", got)
	}
	failing.Store(true)
	ns, err := backend.KV().CreateNamespace(ctx(t), "site-config")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backend.D1().CreateDatabase(ctx(t), storage.DatabaseSpec{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	db, err := backend.D1().ListDatabases(ctx(t), storage.ListOptions{})
	if err != nil || len(db.Databases) != 1 {
		t.Fatal(db, err)
	}
	want := []string{"d1://" + db.Databases[0].ID + "/", "kv://" + ns.ID + "/", "r2://bkt/"}
	if got := uris(); !slices.Equal(got, want) {
		t.Fatalf("resources/list while R2 fails = %q, want %q", got, want)
	}
}

// offline is a backend whose every listing fails, as when the Cloudflare
// API cannot be reached.
type offline struct{ storage.Backend }

var errOffline = storage.Errorf(storage.CodeUnavailable, "cannot reach api.example: connection refused")

func (b offline) KV() storage.KV { return offlineKV{b.Backend.KV()} }
func (b offline) R2() storage.R2 { return offlineR2{b.Backend.R2()} }
func (b offline) D1() storage.D1 { return offlineD1{b.Backend.D1()} }

type offlineKV struct{ storage.KV }
type offlineR2 struct{ storage.R2 }
type offlineD1 struct{ storage.D1 }

func (offlineKV) ListNamespaces(context.Context, storage.ListOptions) (storage.NamespacePage, error) {
	return storage.NamespacePage{}, errOffline
}
func (offlineR2) ListBuckets(context.Context, storage.ListOptions) (storage.BucketPage, error) {
	return storage.BucketPage{}, errOffline
}
func (offlineD1) ListDatabases(context.Context, storage.ListOptions) (storage.DatabasePage, error) {
	return storage.DatabasePage{}, errOffline
}

// When nothing can be listed, resources/list is an error that says why,
// once for all areas, not an empty list that says nothing is stored.
func TestListFailsWhenNothingCanBeListed(t *testing.T) {
	backend := local.New(t.TempDir())
	t.Cleanup(func() { backend.Close() })
	h := wrappedHarness(t, offline{backend})
	_, err := h.Client.ListResources(ctx(t), mcp.ListResourcesRequest{})
	if !errors.Is(err, mcp.ErrInternalError) {
		t.Fatalf("resources/list while offline: %v, want an internal error (-32603)", err)
	}
	if text := err.Error(); !strings.Contains(text, "unavailable: ") || strings.Count(text, "connection refused") != 1 ||
		!strings.Contains(text, "Workers KV") || !strings.Contains(text, "R2") || !strings.Contains(text, "D1") {
		t.Errorf("the error should name the areas and the cause once: %s", text)
	}
}
