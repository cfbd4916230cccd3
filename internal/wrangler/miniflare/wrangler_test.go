package miniflare

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

// TestAgainstWranglerDev checks the package against the real runtime, in
// one persist dir across two runs of wrangler dev:
//
//  1. The Worker writes KV values (text, binary, metadata, expiration), R2
//     objects (HTTP and custom metadata, one in parts) and D1 rows through
//     its bindings. While dev runs, the package reads them (through
//     workerd's live WAL) and refuses every write with a conflict.
//  2. Dev stopped, the package reads exactly what the Worker wrote.
//  3. The package writes: overwrites and deletes what the Worker wrote, and
//     seeds a namespace, bucket and database the Worker never used (files
//     it creates itself).
//  4. Dev started again, the Worker's fetch returns exactly what the
//     package wrote.
func TestAgainstWranglerDev(t *testing.T) {
	wranglertest.Bin(t)
	ctx := context.Background()
	project := wranglertest.CopyProject(t, "testdata/worker")
	persist := filepath.Join(t.TempDir(), "state")
	s := openStore(t, persist)
	exp := time.Now().Add(time.Hour).Unix()
	binary := []byte{0, 0xff, 1, 0x80, '\n'}
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<16) // 5 MiB: more than one read buffer

	d := startDev(t, project, persist)
	d.do(map[string]any{"op": "kv.put", "key": "text", "value": b64([]byte("hello, world"))})
	d.do(map[string]any{"op": "kv.put", "key": "bin/ary?#%", "value": b64(binary), "metadata": map[string]any{"n": 1.5, "s": "ü"}})
	d.do(map[string]any{"op": "kv.put", "key": "expiring", "value": b64([]byte("soon")), "expiration": exp})
	d.do(map[string]any{"op": "kv.put", "key": "to-delete", "value": b64([]byte("x"))})
	put := d.do(map[string]any{"op": "r2.put", "key": "w/hello.txt", "value": b64([]byte("hi there")),
		"httpMetadata":   map[string]any{"contentType": "text/plain", "cacheControl": "max-age=60", "contentLanguage": "en", "contentDisposition": "inline", "contentEncoding": "identity"},
		"customMetadata": map[string]any{"k": "v", "ü": "ß"}})
	d.do(map[string]any{"op": "r2.put", "key": "big.bin", "value": b64(big)})
	mp := d.do(map[string]any{"op": "r2.multipart", "key": "parts.bin", "sizes": []int{5 << 20, 1000},
		"httpMetadata": map[string]any{"contentType": "application/octet-stream"}, "customMetadata": map[string]any{"multi": "yes"}})
	d.do(map[string]any{"op": "d1.batch", "statements": []map[string]any{
		{"sql": "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, photo BLOB, score REAL)"},
		{"sql": "INSERT INTO people (name, photo, score) VALUES (?, ?, ?)", "params": []any{"alice", nil, 1.5}},
		{"sql": "INSERT INTO people (name, score) VALUES (?, ?)", "params": []any{"bob", 2}},
	}})

	t.Run("reads while dev runs", func(t *testing.T) {
		_, got := kvGet(t, s, fixtureKV.ID, "text")
		if string(got) != "hello, world" {
			t.Fatalf("text = %q", got)
		}
		res, err := s.D1().Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "SELECT count(*) AS n FROM people"}}, storage.QueryOptions{ReadOnly: true})
		if err != nil || res[0].Rows[0][0] != int64(2) {
			t.Fatalf("count = %v, %v", res, err)
		}
		// The Worker still works after (and while) the package reads.
		if got := d.do(map[string]any{"op": "kv.get", "key": "text"}); got["found"] != true {
			t.Fatalf("the Worker lost its value: %v", got)
		}
	})

	t.Run("writes refused while dev runs", func(t *testing.T) {
		if holder, running := s.Running(); !running || !strings.Contains(holder, "workerd") {
			t.Errorf("Running = %q, %v; want workerd named", holder, running)
		}
		err := s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "x", Body: bytes.NewReader([]byte("y")), Size: 1})
		mustCode(t, err, storage.CodeConflict, "wrangler dev is running", "metadata.sqlite", "http://127.0.0.1:8787/cdn-cgi/explorer/api", "stop wrangler dev")
		_, err = s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "x", Body: bytes.NewReader(nil)})
		mustCode(t, err, storage.CodeConflict, "wrangler dev is running")
		_, err = s.R2().DeleteObjects(ctx, "fixture-bucket", []string{"w/hello.txt"})
		mustCode(t, err, storage.CodeConflict, "wrangler dev is running")
		_, err = s.D1().Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "DELETE FROM people"}}, storage.QueryOptions{})
		mustCode(t, err, storage.CodeConflict, "wrangler dev is running")
		// A namespace the Worker never touched is refused all the same.
		err = s.KV().Put(ctx, fixtureKV2.ID, storage.KVPut{Key: "x", Body: bytes.NewReader([]byte("y")), Size: 1})
		mustCode(t, err, storage.CodeConflict, "wrangler dev is running")
		// Nothing was written.
		if _, err := s.KV().Get(ctx, fixtureKV.ID, "x"); storage.CodeOf(err) != storage.CodeNotFound {
			t.Fatalf("a refused write left a value: %v", err)
		}
		if got := d.do(map[string]any{"op": "d1.exec", "sql": "SELECT count(*) FROM people"}); got["rows"].([]any)[0].([]any)[0] != 2.0 {
			t.Fatalf("a refused D1 write changed the table: %v", got)
		}
	})
	d.stop()

	t.Run("reads what the Worker wrote", func(t *testing.T) {
		v, got := kvGet(t, s, fixtureKV.ID, "bin/ary?#%")
		if !bytes.Equal(got, binary) || v.Size != int64(len(binary)) {
			t.Fatalf("binary = %v (size %d)", got, v.Size)
		}
		var meta map[string]any
		if err := json.Unmarshal(v.Metadata, &meta); err != nil || meta["n"] != 1.5 || meta["s"] != "ü" {
			t.Fatalf("metadata = %s", v.Metadata)
		}
		v, _ = kvGet(t, s, fixtureKV.ID, "expiring")
		if v.Expiration != exp {
			t.Fatalf("expiration = %d, want %d", v.Expiration, exp)
		}
		page, err := s.KV().List(ctx, fixtureKV.ID, storage.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, k := range page.Keys {
			names = append(names, k.Name)
		}
		if want := []string{"bin/ary?#%", "expiring", "text", "to-delete"}; !reflect.DeepEqual(names, want) {
			t.Fatalf("keys = %q, want %q", names, want)
		}

		info, err := s.R2().HeadObject(ctx, "fixture-bucket", "w/hello.txt")
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum([]byte("hi there"))
		wantHTTP := storage.HTTPMetadata{ContentType: "text/plain", CacheControl: "max-age=60", ContentLanguage: "en", ContentDisposition: "inline", ContentEncoding: "identity"}
		if info.ETag != hex.EncodeToString(sum[:]) || info.ETag != put["etag"] || info.Size != 8 || info.HTTP != wantHTTP ||
			!maps.Equal(info.CustomMetadata, map[string]string{"k": "v", "ü": "ß"}) || info.Uploaded.Format("2006-01-02T15:04:05.000Z") != put["uploaded"] {
			t.Fatalf("head = %+v, the Worker saw %v", info, put)
		}
		o, err := s.R2().GetObject(ctx, "fixture-bucket", "big.bin", &storage.ByteRange{Start: 100, End: 199})
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, o.Body); !bytes.Equal(got, big[100:200]) || o.Length != 100 || o.Info.Size != int64(len(big)) {
			t.Fatalf("range of big.bin: %d bytes, length %d", len(got), o.Length)
		}
		// The object in parts: its bytes across both parts, its ETag and metadata.
		want := append(pattern(5<<20, 0), pattern(1000, 1)...)
		o, err = s.R2().GetObject(ctx, "fixture-bucket", "parts.bin", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, o.Body); !bytes.Equal(got, want) || o.Info.ETag != mp["etag"] || o.Info.CustomMetadata["multi"] != "yes" {
			t.Fatalf("parts.bin: %d bytes (equal %v), etag %q (Worker %q), %+v", len(got), bytes.Equal(got, want), o.Info.ETag, mp["etag"], o.Info)
		}
		o, err = s.R2().GetObject(ctx, "fixture-bucket", "parts.bin", &storage.ByteRange{Start: 5<<20 - 10, End: 5<<20 + 9})
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, o.Body); !bytes.Equal(got, want[5<<20-10:5<<20+10]) {
			t.Fatalf("a range across the parts = %v", got)
		}
		op, err := s.R2().ListObjects(ctx, "fixture-bucket", storage.ObjectListOptions{Delimiter: "/"})
		if err != nil {
			t.Fatal(err)
		}
		if len(op.Objects) != 2 || op.Objects[0].Key != "big.bin" || op.Objects[1].Key != "parts.bin" || !reflect.DeepEqual(op.Prefixes, []string{"w/"}) {
			t.Fatalf("list = %+v", op)
		}

		res, err := s.D1().Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "SELECT id, name, photo, score FROM people ORDER BY id"}}, storage.QueryOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]any{{int64(1), "alice", nil, 1.5}, {int64(2), "bob", nil, 2.0}}; !reflect.DeepEqual(res[0].Rows, want) {
			t.Fatalf("rows = %#v, want %#v", res[0].Rows, want)
		}
		db, err := s.D1().GetDatabase(ctx, fixtureDB.ID)
		if err != nil || db.NumTables != 1 || db.FileSize == 0 {
			t.Fatalf("database = %+v, %v", db, err)
		}
	})

	var (
		uploaded time.Time
		seedMeta = json.RawMessage(`{"from":"mcp-cfstorage"}`)
	)
	t.Run("writes while dev is stopped", func(t *testing.T) {
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "text", Body: bytes.NewReader([]byte("overwritten")), Size: 11, Metadata: seedMeta, Expiry: storage.Expiry{Expiration: exp}}))
		must(s.KV().Delete(ctx, fixtureKV.ID, "to-delete"))
		_, err := s.KV().BulkPut(ctx, fixtureKV2.ID, []storage.KVEntry{
			{Key: "seed/a", Value: []byte("A")},
			{Key: "seed/bin", Value: binary, Metadata: json.RawMessage(`{"x": [1, 2]}`)},
			{Key: "seed/ttl", Value: []byte("t"), Expiry: storage.Expiry{TTL: 3600}},
		})
		must(err)
		info, err := s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "seeded-bucket", Key: "dir/page.html", Body: bytes.NewReader([]byte("<p>hi</p>")), Size: 9,
			HTTP:           storage.HTTPMetadata{ContentType: "text/html; charset=utf-8", CacheControl: "no-store"},
			CustomMetadata: map[string]string{"author": "mcp"}})
		must(err)
		uploaded = info.Uploaded
		// Overwriting the object in parts drops its parts, as Miniflare does.
		_, err = s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "parts.bin", Body: bytes.NewReader([]byte("small now")), Size: 9})
		must(err)
		_, err = s.R2().CopyObject(ctx, storage.ObjectRef{Bucket: "fixture-bucket", Key: "w/hello.txt"}, storage.ObjectRef{Bucket: "seeded-bucket", Key: "copy.txt"})
		must(err)
		_, err = s.D1().Query(ctx, fixtureDB.ID, []storage.Statement{
			{SQL: "INSERT INTO people (name, photo) VALUES (?, ?)", Params: []any{"carol", []byte{1, 2, 3}}},
			{SQL: "UPDATE people SET score = 10 WHERE name = ?", Params: []any{"alice"}},
		}, storage.QueryOptions{})
		must(err)
		_, err = s.D1().Query(ctx, fixtureDB2.ID, []storage.Statement{
			{SQL: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"},
			{SQL: "INSERT INTO notes (body) VALUES ('seeded')"},
		}, storage.QueryOptions{})
		must(err)
	})

	d = startDev(t, project, persist)
	t.Run("the Worker reads what the package wrote", func(t *testing.T) {
		got := d.do(map[string]any{"op": "kv.get", "key": "text"})
		if string(unb64(t, got["value"])) != "overwritten" || !reflect.DeepEqual(got["metadata"], map[string]any{"from": "mcp-cfstorage"}) {
			t.Fatalf("kv text = %v", got)
		}
		if got := d.do(map[string]any{"op": "kv.get", "key": "to-delete"}); got["found"] != false {
			t.Fatalf("a deleted key is back: %v", got)
		}
		list := d.do(map[string]any{"op": "kv.list", "binding": "KV2"})
		keys := list["keys"].([]any)
		if len(keys) != 3 {
			t.Fatalf("KV2 keys = %v", keys)
		}
		bin := keys[1].(map[string]any)
		if bin["name"] != "seed/bin" || !reflect.DeepEqual(bin["metadata"], map[string]any{"x": []any{1.0, 2.0}}) {
			t.Fatalf("seed/bin listed as %v", bin)
		}
		if ttl := keys[2].(map[string]any)["expiration"].(float64); ttl < float64(time.Now().Unix()+3500) {
			t.Fatalf("seed/ttl expires at %v", ttl)
		}
		if text := d.do(map[string]any{"op": "kv.list", "prefix": "text"})["keys"].([]any)[0].(map[string]any); text["expiration"] != float64(exp) {
			t.Fatalf("text listed as %v, want expiration %d", text, exp)
		}
		got = d.do(map[string]any{"op": "kv.get", "binding": "KV2", "key": "seed/bin"})
		if !bytes.Equal(unb64(t, got["value"]), binary) {
			t.Fatalf("seed/bin = %v", got)
		}

		got = d.do(map[string]any{"op": "r2.get", "binding": "BUCKET2", "key": "dir/page.html"})
		sum := md5.Sum([]byte("<p>hi</p>"))
		if string(unb64(t, got["value"])) != "<p>hi</p>" || got["etag"] != hex.EncodeToString(sum[:]) ||
			!reflect.DeepEqual(got["httpMetadata"], map[string]any{"contentType": "text/html; charset=utf-8", "cacheControl": "no-store"}) ||
			!reflect.DeepEqual(got["customMetadata"], map[string]any{"author": "mcp"}) || got["uploaded"] != uploaded.Format("2006-01-02T15:04:05.000Z") {
			t.Fatalf("page.html = %v (uploaded %v)", got, uploaded)
		}
		got = d.do(map[string]any{"op": "r2.get", "key": "parts.bin", "range": map[string]any{"offset": 6, "length": 3}})
		if string(unb64(t, got["value"])) != "now" {
			t.Fatalf("parts.bin = %v", got)
		}
		got = d.do(map[string]any{"op": "r2.get", "binding": "BUCKET2", "key": "copy.txt"})
		if string(unb64(t, got["value"])) != "hi there" || got["customMetadata"].(map[string]any)["k"] != "v" {
			t.Fatalf("copy.txt = %v", got)
		}
		if list := d.do(map[string]any{"op": "r2.list", "binding": "BUCKET2"}); len(list["objects"].([]any)) != 2 {
			t.Fatalf("BUCKET2 = %v", list)
		}

		got = d.do(map[string]any{"op": "d1.exec", "sql": "SELECT name, photo, score FROM people ORDER BY id"})
		want := []any{[]any{"alice", nil, 10.0}, []any{"bob", nil, 2.0}, []any{"carol", []any{1.0, 2.0, 3.0}, nil}}
		if !reflect.DeepEqual(got["rows"], want) {
			t.Fatalf("people = %#v, want %#v", got["rows"], want)
		}
		got = d.do(map[string]any{"op": "d1.exec", "binding": "DB2", "sql": "SELECT body FROM notes"})
		if !reflect.DeepEqual(got["rows"], []any{[]any{"seeded"}}) {
			t.Fatalf("notes = %v", got)
		}
		// And the Worker can go on writing to the files the package made.
		d.do(map[string]any{"op": "kv.put", "binding": "KV2", "key": "seed/a", "value": b64([]byte("B"))})
	})
	d.stop()

	t.Run("reads the Worker's write over the package's", func(t *testing.T) {
		if _, got := kvGet(t, s, fixtureKV2.ID, "seed/a"); string(got) != "B" {
			t.Fatalf("seed/a = %q", got)
		}
	})
}

// Seeding before wrangler dev ever ran: the package makes the persist dir
// and Miniflare's files from nothing, and the Worker's first run reads them.
func TestSeedBeforeDevEverRan(t *testing.T) {
	wranglertest.Bin(t)
	ctx := context.Background()
	project := wranglertest.CopyProject(t, "testdata/worker")
	persist := filepath.Join(t.TempDir(), "never", "ran")
	s := openStore(t, persist)
	if err := s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "greeting", Body: strings.NewReader("hello"), Size: 5, Metadata: json.RawMessage(`{"lang":"en"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "index.html", Body: strings.NewReader("<h1>hi</h1>"), Size: 11,
		HTTP: storage.HTTPMetadata{ContentType: "text/html"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.D1().Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)"}, {SQL: "INSERT INTO kv VALUES ('a', 'b')"}}, storage.QueryOptions{}); err != nil {
		t.Fatal(err)
	}

	d := startDev(t, project, persist)
	if got := d.do(map[string]any{"op": "kv.get", "key": "greeting"}); string(unb64(t, got["value"])) != "hello" || !reflect.DeepEqual(got["metadata"], map[string]any{"lang": "en"}) {
		t.Fatalf("greeting = %v", got)
	}
	if got := d.do(map[string]any{"op": "r2.get", "key": "index.html"}); string(unb64(t, got["value"])) != "<h1>hi</h1>" || got["httpMetadata"].(map[string]any)["contentType"] != "text/html" {
		t.Fatalf("index.html = %v", got)
	}
	if got := d.do(map[string]any{"op": "d1.exec", "sql": "SELECT v FROM kv WHERE k = 'a'"}); !reflect.DeepEqual(got["rows"], []any{[]any{"b"}}) {
		t.Fatalf("kv = %v", got)
	}
}
