package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestNamespaces(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	kv := b.KV()

	a, err := kv.CreateNamespace(ctx, "alpha")
	check(t, err)
	if !storage.IsNamespaceID(a.ID) || strings.ToLower(a.ID) != a.ID {
		t.Errorf("namespace id %q is not 32 lowercase hex digits", a.ID)
	}
	_, err = kv.CreateNamespace(ctx, "alpha")
	wantCode(t, err, storage.CodeAlreadyExists, `a KV namespace titled "alpha" already exists`, a.ID)

	got, err := kv.GetNamespace(ctx, a.ID)
	check(t, err)
	if got != a {
		t.Errorf("GetNamespace = %+v, want %+v", got, a)
	}

	z, err := kv.CreateNamespace(ctx, "zulu")
	check(t, err)
	wantCode(t, kv.RenameNamespace(ctx, z.ID, "alpha"), storage.CodeAlreadyExists, a.ID)
	check(t, kv.RenameNamespace(ctx, z.ID, "zulu")) // to its own title: nothing to do
	check(t, kv.RenameNamespace(ctx, z.ID, "beta"))
	if got, _ := kv.GetNamespace(ctx, z.ID); got.Title != "beta" {
		t.Errorf("after rename, title = %q, want beta", got.Title)
	}
	// The old title is free again.
	_, err = kv.CreateNamespace(ctx, "zulu")
	check(t, err)

	unknown := strings.Repeat("0", 32)
	for name, err := range map[string]error{
		"get":        func() error { _, err := kv.GetNamespace(ctx, unknown); return err }(),
		"rename":     kv.RenameNamespace(ctx, unknown, "x"),
		"delete":     kv.DeleteNamespace(ctx, unknown),
		"put":        kv.Put(ctx, unknown, storage.KVPut{Key: "k", Body: strings.NewReader(""), Size: 0}),
		"get key":    func() error { _, err := kv.Get(ctx, unknown, "k"); return err }(),
		"delete key": kv.Delete(ctx, unknown, "k"),
		"list":       func() error { _, err := kv.List(ctx, unknown, storage.ListOptions{}); return err }(),
		"bulk put": func() error {
			_, err := kv.BulkPut(ctx, unknown, []storage.KVEntry{{Key: "k", Value: []byte("v")}})
			return err
		}(),
		"bulk get":    func() error { _, err := kv.BulkGet(ctx, unknown, []string{"k"}, storage.BulkGetOptions{}); return err }(),
		"bulk delete": func() error { _, err := kv.BulkDelete(ctx, unknown, []string{"k"}); return err }(),
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, err, storage.CodeNotFound, unknown) })
	}

	// Deleting a namespace deletes its keys.
	putKV(t, b, a.ID, "k1", "v1")
	putKV(t, b, z.ID, "k1", "other")
	check(t, kv.DeleteNamespace(ctx, a.ID))
	_, err = kv.GetNamespace(ctx, a.ID)
	wantCode(t, err, storage.CodeNotFound)
	var left int
	check(t, openedStore(t, b).db.QueryRow("SELECT count(*) FROM kv_values WHERE namespace_id = ?", a.ID).Scan(&left))
	if left != 0 {
		t.Errorf("%d values of the deleted namespace are left", left)
	}
	if v, err := getKV(t, b, z.ID, "k1"); err != nil || v != "other" {
		t.Errorf("another namespace's key: %q, %v", v, err)
	}
}

func TestListNamespaces(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	kv := b.KV()
	titles := []string{"b", "a", "é", "a b", "A", "ab", "a%", "a_", "z"}
	ids := map[string]string{}
	for _, title := range titles {
		ids[title] = mkNamespace(t, b, title)
	}
	want := slices.Clone(titles)
	sort.Strings(want) // byte order

	list := func(opts storage.ListOptions) (got []string, pages int) {
		for {
			page, err := kv.ListNamespaces(ctx, opts)
			check(t, err)
			pages++
			if opts.Limit > 0 && len(page.Namespaces) > opts.Limit {
				t.Fatalf("page of %d namespaces, limit %d", len(page.Namespaces), opts.Limit)
			}
			for _, ns := range page.Namespaces {
				if ids[ns.Title] != ns.ID {
					t.Errorf("namespace %q has id %q, created as %q", ns.Title, ns.ID, ids[ns.Title])
				}
				got = append(got, ns.Title)
			}
			if page.Cursor == "" {
				return got, pages
			}
			opts.Cursor = page.Cursor
		}
	}
	for _, limit := range []int{0, 1, 2, 4, 9, 10} {
		got, pages := list(storage.ListOptions{Limit: limit})
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: got %q, want %q", limit, got, want)
		}
		if wantPages := max(1, (len(want)+max(limit, 1)-1)/max(limit, 1)); limit > 0 && pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	if got, _ := list(storage.ListOptions{Prefix: "a", Limit: 2}); !slices.Equal(got, []string{"a", "a b", "a%", "a_", "ab"}) {
		t.Errorf("prefix a: got %q", got)
	}
	if got, _ := list(storage.ListOptions{Prefix: "a_"}); !slices.Equal(got, []string{"a_"}) {
		t.Errorf("prefix a_ (no wildcard): got %q", got)
	}

	for _, bad := range []string{"!!", "bm90IGpzb24", cursor{Kind: kindKeys, Key: []byte("a")}.encode()} {
		_, err := kv.ListNamespaces(ctx, storage.ListOptions{Cursor: bad})
		wantCode(t, err, storage.CodeInvalidArgument, "cursor:")
	}
}

func TestKVPutGet(t *testing.T) {
	ctx := context.Background()
	b, clk := newTestBackend(t)
	kv := b.KV()
	ns := mkNamespace(t, b, "ns")
	now := clk.now().Unix()

	tests := []struct {
		name    string
		put     storage.KVPut
		wantExp int64
	}{
		{"plain", storage.KVPut{Key: "plain", Size: 5}, 0},
		{"empty value", storage.KVPut{Key: "empty", Size: 0}, 0},
		{"metadata", storage.KVPut{Key: "meta", Size: 3, Metadata: json.RawMessage(`{"a":[1,"x"]}`)}, 0},
		{"ttl", storage.KVPut{Key: "ttl", Size: 3, Expiry: storage.Expiry{TTL: 120}}, now + 120},
		{"absolute", storage.KVPut{Key: "abs", Size: 3, Expiry: storage.Expiry{Expiration: now + 3600}}, now + 3600},
		{"odd key", storage.KVPut{Key: "../\x00%_é", Size: 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := strings.Repeat("v", int(tt.put.Size))
			tt.put.Body = strings.NewReader(value)
			check(t, kv.Put(ctx, ns, tt.put))
			v, err := kv.Get(ctx, ns, tt.put.Key)
			check(t, err)
			v.Body.Close()
			if v.Key != tt.put.Key || v.Size != tt.put.Size || v.Expiration != tt.wantExp || string(v.Metadata) != string(tt.put.Metadata) {
				t.Errorf("Get = {%q %d %d %s}, want {%q %d %d %s}", v.Key, v.Size, v.Expiration, v.Metadata,
					tt.put.Key, tt.put.Size, tt.wantExp, tt.put.Metadata)
			}
			if got, _ := getKV(t, b, ns, tt.put.Key); got != value {
				t.Errorf("value %q, want %q", got, value)
			}
		})
	}

	t.Run("overwrite replaces value, metadata and expiration", func(t *testing.T) {
		check(t, kv.Put(ctx, ns, storage.KVPut{Key: "meta", Body: strings.NewReader("new"), Size: 3}))
		v, err := kv.Get(ctx, ns, "meta")
		check(t, err)
		v.Body.Close()
		if v.Metadata != nil || v.Expiration != 0 {
			t.Errorf("after overwrite: metadata %s, expiration %d", v.Metadata, v.Expiration)
		}
	})

	t.Run("missing key", func(t *testing.T) {
		_, err := kv.Get(ctx, ns, "nope")
		wantCode(t, err, storage.CodeNotFound, `"nope"`)
	})

	t.Run("size mismatch stores nothing", func(t *testing.T) {
		putKV(t, b, ns, "keep", "original")
		for _, tc := range []struct {
			body string
			size int64
		}{{"short", 10}, {"too long", 3}, {"x", -1}} {
			err := kv.Put(ctx, ns, storage.KVPut{Key: "keep", Body: strings.NewReader(tc.body), Size: tc.size})
			wantCode(t, err, storage.CodeInvalidArgument, "value:")
		}
		wantCode(t, kv.Put(ctx, ns, storage.KVPut{Key: "keep", Size: 1}), storage.CodeInvalidArgument)
		if v, _ := getKV(t, b, ns, "keep"); v != "original" {
			t.Errorf("value after failed puts = %q", v)
		}
	})

	t.Run("delete", func(t *testing.T) {
		check(t, kv.Delete(ctx, ns, "plain"))
		_, err := kv.Get(ctx, ns, "plain")
		wantCode(t, err, storage.CodeNotFound)
		check(t, kv.Delete(ctx, ns, "plain")) // absent: not an error
	})
}

func TestKVExpiration(t *testing.T) {
	ctx := context.Background()
	b, clk := newTestBackend(t)
	kv := b.KV()
	ns := mkNamespace(t, b, "ns")
	check(t, kv.Put(ctx, ns, storage.KVPut{Key: "soon", Body: strings.NewReader("x"), Size: 1, Expiry: storage.Expiry{TTL: 60}}))
	check(t, kv.Put(ctx, ns, storage.KVPut{Key: "later", Body: strings.NewReader("y"), Size: 1, Expiry: storage.Expiry{TTL: 600}}))
	putKV(t, b, ns, "never", "z")

	visible := func() []string {
		page, err := kv.List(ctx, ns, storage.ListOptions{})
		check(t, err)
		var names []string
		for _, k := range page.Keys {
			names = append(names, k.Name)
		}
		items, err := kv.BulkGet(ctx, ns, []string{"later", "never", "soon"}, storage.BulkGetOptions{})
		check(t, err)
		var found []string
		for _, it := range items {
			if it.Found {
				found = append(found, it.Key)
			}
		}
		if !slices.Equal(names, found) {
			t.Errorf("List sees %q, BulkGet finds %q", names, found)
		}
		for _, k := range []string{"later", "never", "soon"} {
			_, err := getKV(t, b, ns, k)
			if (err == nil) != slices.Contains(names, k) {
				t.Errorf("Get %q: %v, but List sees %q", k, err, names)
			}
		}
		return names
	}

	if got := visible(); !slices.Equal(got, []string{"later", "never", "soon"}) {
		t.Fatalf("before expiry: %q", got)
	}
	clk.advance(59 * time.Second)
	if got := visible(); !slices.Equal(got, []string{"later", "never", "soon"}) {
		t.Errorf("1 s before expiry: %q", got)
	}
	clk.advance(time.Second) // expiration <= now: gone
	if got := visible(); !slices.Equal(got, []string{"later", "never"}) {
		t.Errorf("at expiry: %q", got)
	}
	_, err := kv.Get(ctx, ns, "soon")
	wantCode(t, err, storage.CodeNotFound)

	// A write purges what has expired.
	var rows int
	db := openedStore(t, b).db
	check(t, db.QueryRow("SELECT count(*) FROM kv_values WHERE key = ?", []byte("soon")).Scan(&rows))
	if rows != 1 {
		t.Fatalf("expired row purged before any write: %d rows", rows)
	}
	putKV(t, b, ns, "trigger", "t")
	check(t, db.QueryRow("SELECT count(*) FROM kv_values WHERE key = ?", []byte("soon")).Scan(&rows))
	if rows != 0 {
		t.Errorf("expired row still stored after a write")
	}
	// Writing an expired key anew makes it visible again.
	putKV(t, b, ns, "soon", "back")
	if v, err := getKV(t, b, ns, "soon"); err != nil || v != "back" {
		t.Errorf("rewritten key: %q, %v", v, err)
	}
}

func TestKVListOrderAndPaging(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	kv := b.KV()
	ns := mkNamespace(t, b, "ns")

	keys := []string{"a", "a/b", "a\x7f", "é", "e", "E", "a\x00", "ab", "a/", "\U0001F600", "ｚ", "100%", "100%x", "1000", "a_b", "aXb", "a_c", "~"}
	for i, k := range keys {
		check(t, kv.Put(ctx, ns, storage.KVPut{Key: k, Body: strings.NewReader(k), Size: int64(len(k)),
			Metadata: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Expiry: storage.Expiry{TTL: int64(3600 + i)}}))
	}
	sorted := slices.Clone(keys)
	sort.Strings(sorted) // Go compares strings byte by byte

	list := func(prefix string, limit int) []string {
		var got []string
		opts := storage.ListOptions{Prefix: prefix, Limit: limit}
		for pages := 0; ; pages++ {
			if pages > len(keys)+1 {
				t.Fatal("listing does not end")
			}
			page, err := kv.List(ctx, ns, opts)
			check(t, err)
			if limit > 0 && len(page.Keys) > limit {
				t.Fatalf("%d keys on a page of limit %d", len(page.Keys), limit)
			}
			if page.Cursor != "" && len(page.Keys) < max(limit, 1) {
				t.Errorf("a short page (%d keys) has a cursor", len(page.Keys))
			}
			for _, k := range page.Keys {
				i := slices.Index(keys, k.Name)
				if string(k.Metadata) != fmt.Sprintf(`{"i":%d}`, i) || k.Expiration == 0 {
					t.Errorf("key %q listed with metadata %s, expiration %d", k.Name, k.Metadata, k.Expiration)
				}
				got = append(got, k.Name)
			}
			if page.Cursor == "" {
				return got
			}
			opts.Cursor = page.Cursor
		}
	}

	for _, limit := range []int{0, 1, 3, 7, len(keys), 1000} {
		if got := list("", limit); !slices.Equal(got, sorted) {
			t.Errorf("limit %d: got %q\nwant %q", limit, got, sorted)
		}
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"a", []string{"a", "a\x00", "a/", "a/b", "aXb", "a_b", "a_c", "ab", "a\x7f"}},
		{"a/", []string{"a/", "a/b"}},
		{"100%", []string{"100%", "100%x"}}, // % is no wildcard
		{"a_", []string{"a_b", "a_c"}},      // nor is _
		{"é", []string{"é"}},
		{"\xef", []string{"ｚ"}}, // a prefix of the UTF-8 bytes
		{"nope", nil},
	} {
		if got := list(tc.prefix, 2); !slices.Equal(got, tc.want) {
			t.Errorf("prefix %q: got %q, want %q", tc.prefix, got, tc.want)
		}
	}

	_, err := kv.List(ctx, ns, storage.ListOptions{Cursor: "%%%"})
	wantCode(t, err, storage.CodeInvalidArgument, "cursor:")
	_, err = kv.List(ctx, ns, storage.ListOptions{Cursor: cursor{Kind: kindObjects, Key: []byte("a")}.encode()})
	wantCode(t, err, storage.CodeInvalidArgument, "cursor:")

	// An empty namespace lists as an empty, non-nil page.
	empty := mkNamespace(t, b, "empty")
	page, err := kv.List(ctx, empty, storage.ListOptions{})
	check(t, err)
	if page.Keys == nil || len(page.Keys) != 0 || page.Cursor != "" {
		t.Errorf("empty namespace: %+v", page)
	}
}

func TestKVBulk(t *testing.T) {
	ctx := context.Background()
	b, clk := newTestBackend(t)
	kv := b.KV()
	ns := mkNamespace(t, b, "ns")

	entries := []storage.KVEntry{
		{Key: "a", Value: []byte("1")},
		{Key: "b", Value: []byte{}, Metadata: json.RawMessage(`{"m":1}`)},
		{Key: "c", Value: []byte("3"), Expiry: storage.Expiry{TTL: 60}},
		{Key: "a", Value: []byte("last wins")},
	}
	res, err := kv.BulkPut(ctx, ns, entries)
	check(t, err)
	if res.Written != len(entries) || res.Failed == nil || len(res.Failed) != 0 {
		t.Errorf("BulkPut = %+v", res)
	}

	items, err := kv.BulkGet(ctx, ns, []string{"c", "missing", "a", "b", "a"}, storage.BulkGetOptions{})
	check(t, err)
	want := []storage.KVItem{
		{Key: "c", Found: true, Value: []byte("3"), Expiration: clk.now().Unix() + 60},
		{Key: "missing"},
		{Key: "a", Found: true, Value: []byte("last wins")},
		{Key: "b", Found: true, Value: []byte{}, Metadata: json.RawMessage(`{"m":1}`)},
		{Key: "a", Found: true, Value: []byte("last wins")},
	}
	if len(items) != len(want) {
		t.Fatalf("BulkGet returned %d items, want %d", len(items), len(want))
	}
	for i := range want {
		g, w := items[i], want[i]
		if g.Key != w.Key || g.Found != w.Found || string(g.Value) != string(w.Value) ||
			string(g.Metadata) != string(w.Metadata) || g.Expiration != w.Expiration || (g.Found && g.Value == nil) {
			t.Errorf("item %d = %+v, want %+v", i, g, w)
		}
	}

	n, err := kv.BulkDelete(ctx, ns, []string{"a", "missing", "c"})
	check(t, err)
	if n != 3 {
		t.Errorf("BulkDelete = %d, want 3 (every key asked for)", n)
	}
	page, err := kv.List(ctx, ns, storage.ListOptions{})
	check(t, err)
	if len(page.Keys) != 1 || page.Keys[0].Name != "b" {
		t.Errorf("after BulkDelete: %+v", page.Keys)
	}
}

// A cancelled bulk write stores none of its entries.
func TestKVCancelledBulkPut(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.KV().BulkPut(ctx, ns, []storage.KVEntry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}})
	wantCode(t, err, storage.CodeUnavailable)
	page, err := b.KV().List(context.Background(), ns, storage.ListOptions{})
	check(t, err)
	if len(page.Keys) != 0 {
		t.Errorf("a cancelled bulk write stored %d keys", len(page.Keys))
	}
}

// A point read costs the same under a context that can be cancelled, as a
// request's is, as under one that cannot: no goroutine watches it (but for
// the one allocation that detaches it), and a cancelled one reads nothing.
func TestKVGetCancellableContext(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	putValue(t, b, ns, "k", []byte("v"))
	get := func(ctx context.Context) func() {
		return func() {
			v, err := b.KV().Get(ctx, ns, "k")
			check(t, err)
			v.Body.Close()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	plain, cancellable := testing.AllocsPerRun(100, get(context.Background())), testing.AllocsPerRun(100, get(ctx))
	if cancellable > plain+1 {
		t.Errorf("a get under a cancellable context makes %v allocations, %v under context.Background", cancellable, plain)
	}
	cancel()
	if _, err := b.KV().Get(ctx, ns, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("get under a cancelled context: %v, want context.Canceled", err)
	}
}
