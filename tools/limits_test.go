package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Every limit of DESIGN.md section 3 and internal/storage/limits.go, hit
// through the MCP tools: the call fails with the right code, the message
// names the argument and the limit, and nothing stored changes.

// The data every refusal test starts from; state() must read it back
// unchanged after a refused call.
const (
	seedNS      = "limits"
	seedBucket  = "limits-bucket"
	emptyBucket = "empty-bucket"
	unknownNSID = "0123456789abcdef0123456789abcdef"
)

// maxErrorText bounds the text of any tool error: an error repeats what it
// refuses, and a model's context is no place for megabytes of it.
const maxErrorText = 2048

// seed stores a little of everything and returns the namespace id.
func seed(t *testing.T, h *harness) string {
	t.Helper()
	id := h.OK("create_kv_namespace", map[string]any{"title": seedNS})["id"].(string)
	h.OK("kv_put", map[string]any{"namespace": id, "key": "keep", "value": "original",
		"metadata": map[string]any{"v": 1}, "expiration_ttl": 3600})
	h.OK("kv_put", map[string]any{"namespace": id, "key": "plain", "value": "plain value"})
	h.OK("create_r2_bucket", map[string]any{"name": seedBucket})
	h.OK("r2_upload", map[string]any{"bucket": seedBucket, "key": "keep.txt", "content": "original",
		"custom_metadata": map[string]string{"v": "1"}})
	h.OK("create_r2_bucket", map[string]any{"name": emptyBucket})
	return id
}

// state renders everything the server stores, read back through its own
// tools: namespaces, every key with its value, metadata and expiration,
// buckets, and every object with its size, ETag and metadata.
func (h *harness) state(t *testing.T) string {
	t.Helper()
	var out []any
	nss := h.OK("list_kv_namespaces", map[string]any{"limit": 100})
	if nss["cursor"] != nil {
		t.Fatal("state: more than 100 namespaces")
	}
	for _, n := range nss["namespaces"].([]any) {
		id := n.(map[string]any)["id"].(string)
		out = append(out, n)
		var names []string
		for cursor, pages := "", 0; ; pages++ {
			if pages > 50 {
				t.Fatal("state: kv_list does not end")
			}
			args := map[string]any{"namespace": id, "limit": 1000}
			if cursor != "" {
				args["cursor"] = cursor
			}
			page := h.OK("kv_list", args)
			for _, k := range page["keys"].([]any) {
				out = append(out, k)
				names = append(names, k.(map[string]any)["name"].(string))
			}
			c, _ := page["cursor"].(string)
			if c == "" {
				break
			}
			cursor = c
		}
		for len(names) > 0 {
			chunk := names[:min(len(names), 100)]
			names = names[len(chunk):]
			args := map[string]any{"namespace": id, "keys": chunk}
			if res := h.Call("kv_bulk_get", args); !res.IsError {
				out = append(out, h.OK("kv_bulk_get", args)["values"])
				continue
			}
			// Values over the inline limit: their size is in the error.
			for _, k := range chunk {
				args := map[string]any{"namespace": id, "key": k}
				if res := h.Call("kv_get", args); res.IsError {
					out = append(out, mcptest.Text(res))
				} else {
					out = append(out, h.OK("kv_get", args))
				}
			}
		}
	}
	buckets := h.OK("list_r2_buckets", map[string]any{"limit": 1000})
	if buckets["cursor"] != nil {
		t.Fatal("state: more than 1000 buckets")
	}
	for _, b := range buckets["buckets"].([]any) {
		name := b.(map[string]any)["name"].(string)
		out = append(out, b)
		for cursor, pages := "", 0; ; pages++ {
			if pages > 50 {
				t.Fatal("state: r2_list does not end")
			}
			args := map[string]any{"bucket": name, "delimiter": "", "limit": 1000}
			if cursor != "" {
				args["cursor"] = cursor
			}
			page := h.OK("r2_list", args)
			for _, o := range page["objects"].([]any) {
				out = append(out, o, h.OK("r2_head", map[string]any{"bucket": name, "key": o.(map[string]any)["key"]}))
			}
			c, _ := page["cursor"].(string)
			if c == "" {
				break
			}
			cursor = c
		}
	}
	js, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// toolCase is one call. With a code it must fail with that code, its
// message must contain every string of want, and the stored data must stay
// as it was. Without one it must succeed and change the stored data exactly
// when writes is set.
type toolCase struct {
	name string
	tool string
	args map[string]any
	// sparse > 0 makes a sparse file of that many bytes in the files root
	// (nothing is allocated) and passes it as file_path.
	sparse int64
	code   string
	want   []string
	writes bool
	// result, when set, are fields the successful result must hold; with
	// skipState the stored data is not read back (10,000 keys take long).
	result    map[string]any
	skipState bool
}

const (
	invalid  = "invalid_argument"
	tooLarge = "too_large"
	notFound = "not_found"
	denied   = "permission_denied"
)

// fromNow in arguments becomes that many seconds from the moment of the
// call: under -race a table can run minutes after it was built.
type fromNow int64

func resolveTimes(v any) any {
	switch v := v.(type) {
	case fromNow:
		return time.Now().Unix() + int64(v)
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = resolveTimes(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = resolveTimes(x)
		}
		return out
	}
	return v
}

// fixture is one seeded server that the cases of a table share, one after
// another, each through its own client session (a session reports failures
// to the test that opened it). A case that changes the stored data, or
// fails, leaves the fixture dirty and the next case gets a fresh one, so a
// failure never spreads to the cases after it.
type fixture struct {
	srv     *server.MCPServer
	base    string // holds root, data and out, nothing else
	root    string // the files root
	dataDir string
	out     string // a directory outside the root
	state   string // the stored data right after seeding
}

// newFixture builds a server as newHarness does, its files kept until
// parent ends; failures are reported to t.
func newFixture(parent, t *testing.T, s setup) *fixture {
	t.Helper()
	base := parent.TempDir()
	fx := &fixture{base: base, root: filepath.Join(base, "root"), dataDir: filepath.Join(base, "data"), out: filepath.Join(base, "out")}
	for _, d := range []string{fx.root, fx.dataDir, fx.out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fx.srv = newServer(parent, t, s, fx.root, fx.dataDir)
	h := fx.session(t)
	seed(t, h)
	fx.state = h.state(t)
	return fx
}

func (fx *fixture) session(t *testing.T) *harness {
	t.Helper()
	return &harness{Session: mcptest.InProcess(t, fx.srv), root: fx.root, dataDir: fx.dataDir}
}

// runCases runs the cases in order on shared fixtures (see fixture).
func runCases(t *testing.T, s setup, cases []toolCase) {
	t.Helper()
	seen := map[string]bool{}
	var fx *fixture
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases are named %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(st *testing.T) {
			clean := false
			defer func() {
				if !clean {
					fx = nil
				}
			}()
			if fx == nil {
				fx = newFixture(t, st, s)
			}
			h := fx.session(st)
			args := resolveTimes(c.args).(map[string]any)
			if c.sparse > 0 {
				args["file_path"] = sparseFile(st, fx.root, c.sparse)
			}
			if c.code != "" {
				msg := h.Fail(c.tool, args, c.code)
				checkMessage(st, msg, c.want...)
				if after := h.state(st); after != fx.state {
					st.Errorf("the refused %s call changed the stored data\nbefore: %s\nafter: %s", c.tool, fx.state, after)
					return
				}
			} else {
				res := h.OK(c.tool, args)
				for k, v := range c.result {
					if !jsonEqual(st, res[k], v) {
						st.Errorf("%s: result %s = %v, want %v", c.tool, k, res[k], v)
					}
				}
				if c.writes && c.skipState {
					return // dirty
				}
				if changed := h.state(st) != fx.state; changed != c.writes {
					st.Errorf("%s: stored data changed = %v, want %v", c.tool, changed, c.writes)
					return
				}
				if c.writes {
					return // dirty: the next case needs a fresh fixture
				}
			}
			// The server still answers after whatever it was sent.
			h.OK("whoami", nil)
			clean = true
		})
	}
}

func checkMessage(t *testing.T, msg string, want ...string) {
	t.Helper()
	if len(msg) > maxErrorText {
		t.Errorf("error text is %d bytes, over %d: %.300s...", len(msg), maxErrorText, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", abbrev(msg), w)
		}
	}
}

func abbrev(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// sparseFile makes a file of size bytes that occupies no disk space.
func sparseFile(t *testing.T, dir string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("sparse-%d.bin", size))
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Skipf("this file system cannot hold a sparse file of %d bytes: %v", size, err)
	}
	return p
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// keyList returns n distinct keys.
func keyList(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%05d", i)
	}
	return keys
}

// entryList returns n small bulk entries.
func entryList(n int) []any {
	entries := make([]any, n)
	for i := range entries {
		entries[i] = map[string]any{"key": fmt.Sprintf("key-%05d", i), "value": "v"}
	}
	return entries
}

// metadataOf returns JSON metadata of exactly size bytes once serialized.
func metadataOf(size int) map[string]any {
	return map[string]any{"pad": repeat("m", size-len(`{"pad":""}`))}
}

// customMetadataOf returns R2 custom metadata of size bytes (names plus values).
func customMetadataOf(size int) map[string]string {
	return map[string]string{"k": repeat("c", size-1)}
}

func kv(extra map[string]any) map[string]any {
	args := map[string]any{"namespace": seedNS}
	maps.Copy(args, extra)
	return args
}

func r2(extra map[string]any) map[string]any {
	args := map[string]any{"bucket": seedBucket}
	maps.Copy(args, extra)
	return args
}

func TestLimitsRefused(t *testing.T) {
	t.Parallel()
	runCases(t, setup{}, []toolCase{
		// KV keys: 1..512 bytes, not "." or "..", on every tool that takes one.
		{name: "kv_put key empty", tool: "kv_put", args: kv(map[string]any{"key": "", "value": "v"}), code: invalid, want: []string{"key", "empty"}},
		{name: "kv_put key 513 bytes", tool: "kv_put", args: kv(map[string]any{"key": repeat("k", 513), "value": "v"}), code: invalid, want: []string{"key", "513", "512"}},
		{name: "kv_put key 513 bytes of UTF-8", tool: "kv_put", args: kv(map[string]any{"key": repeat("é", 256) + "k", "value": "v"}), code: invalid, want: []string{"key", "513", "512"}},
		{name: "kv_put key dot", tool: "kv_put", args: kv(map[string]any{"key": ".", "value": "v"}), code: invalid, want: []string{"key", `"."`}},
		{name: "kv_put key dotdot", tool: "kv_put", args: kv(map[string]any{"key": "..", "value": "v"}), code: invalid, want: []string{"key", `".."`}},
		{name: "kv_get key 513 bytes", tool: "kv_get", args: kv(map[string]any{"key": repeat("k", 513)}), code: invalid, want: []string{"key", "512"}},
		{name: "kv_get key dotdot", tool: "kv_get", args: kv(map[string]any{"key": ".."}), code: invalid, want: []string{"key", `".."`}},
		{name: "kv_delete key empty", tool: "kv_delete", args: kv(map[string]any{"key": ""}), code: invalid, want: []string{"key", "empty"}},
		{name: "kv_delete key 513 bytes", tool: "kv_delete", args: kv(map[string]any{"key": repeat("k", 513)}), code: invalid, want: []string{"key", "512"}},

		// KV values: at most 25 MiB. The file is sparse: nothing big is allocated.
		{name: "kv_put value 25 MiB + 1", tool: "kv_put", args: kv(map[string]any{"key": "big"}), sparse: storage.MaxKVValueBytes + 1, code: tooLarge,
			want: []string{"value", "26214401", "26214400", "25 MiB"}},

		// KV metadata: at most 1024 bytes of JSON.
		{name: "kv_put metadata 1025 bytes", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "metadata": metadataOf(1025)}), code: tooLarge,
			want: []string{"metadata", "1025", "1024"}},

		// Expiration: ttl >= 60, absolute >= now+60, not both.
		{name: "kv_put expiration_ttl 59", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration_ttl": 59}), code: invalid, want: []string{"expiration_ttl", "59", "60"}},
		{name: "kv_put expiration_ttl 0", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration_ttl": 0}), code: invalid, want: []string{"expiration_ttl", "60"}},
		{name: "kv_put expiration_ttl negative", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration_ttl": -3600}), code: invalid, want: []string{"expiration_ttl", "60"}},
		{name: "kv_put expiration now+59", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration": fromNow(59)}), code: invalid, want: []string{"expiration", "60"}},
		{name: "kv_put expiration in the past", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration": fromNow(-3600)}), code: invalid, want: []string{"expiration", "60"}},
		{name: "kv_put expiration negative", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration": -1}), code: invalid, want: []string{"expiration", "60"}},
		{name: "kv_put expiration and expiration_ttl", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration": fromNow(3600), "expiration_ttl": 3600}), code: invalid,
			want: []string{"expiration", "expiration_ttl", "not both"}},

		// Bulk writes: 1..10,000 entries, each valid; one bad entry writes none.
		{name: "kv_bulk_put 10001 entries", tool: "kv_bulk_put", args: kv(map[string]any{"entries": entryList(10_001)}), code: tooLarge, want: []string{"entries", "10001", "10000"}},
		{name: "kv_bulk_put no entries", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{}}), code: invalid, want: []string{"entries", "1"}},
		{name: "kv_bulk_put entries null", tool: "kv_bulk_put", args: kv(map[string]any{"entries": nil}), code: invalid, want: []string{"entries"}},
		{name: "kv_bulk_put third key 513 bytes", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{
			map[string]any{"key": "a", "value": "1"}, map[string]any{"key": "b", "value": "2"}, map[string]any{"key": repeat("k", 513), "value": "3"}}}),
			code: invalid, want: []string{"entries[2].key", "512"}},
		{name: "kv_bulk_put key dot", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{
			map[string]any{"key": "a", "value": "1"}, map[string]any{"key": ".", "value": "2"}}}), code: invalid, want: []string{"entries[1].key", `"."`}},
		{name: "kv_bulk_put metadata 1025 bytes", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{
			map[string]any{"key": "a", "value": "1"}, map[string]any{"key": "b", "value": "2", "metadata": metadataOf(1025)}}}),
			code: tooLarge, want: []string{"entries[1].metadata", "1024"}},
		{name: "kv_bulk_put expiration_ttl 59", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{
			map[string]any{"key": "a", "value": "1"}, map[string]any{"key": "b", "value": "2", "expiration_ttl": 59}}}),
			code: invalid, want: []string{"entries", "1", "expiration_ttl", "60"}},
		{name: "kv_bulk_put expiration in the past", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{
			map[string]any{"key": "a", "value": "1", "expiration": fromNow(-10)}}}), code: invalid, want: []string{"entries[0].expiration", "60"}},
		{name: "kv_bulk_put expiration and ttl", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{
			map[string]any{"key": "a", "value": "1", "expiration": fromNow(3600), "expiration_ttl": 3600}}}), code: invalid,
			want: []string{"entries[0]", "expiration", "expiration_ttl"}},

		// Bulk reads: 1..100 keys; bulk deletes: 1..10,000 keys.
		{name: "kv_bulk_get 101 keys", tool: "kv_bulk_get", args: kv(map[string]any{"keys": keyList(101)}), code: tooLarge, want: []string{"keys", "101", "100"}},
		{name: "kv_bulk_get no keys", tool: "kv_bulk_get", args: kv(map[string]any{"keys": []string{}}), code: invalid, want: []string{"keys", "1"}},
		{name: "kv_bulk_get key 513 bytes", tool: "kv_bulk_get", args: kv(map[string]any{"keys": []string{"keep", repeat("k", 513)}}), code: invalid, want: []string{"keys[1]", "512"}},
		{name: "kv_bulk_delete 10001 keys", tool: "kv_bulk_delete", args: kv(map[string]any{"keys": append(keyList(10_000), "keep")}), code: tooLarge, want: []string{"keys", "10001", "10000"}},
		{name: "kv_bulk_delete no keys", tool: "kv_bulk_delete", args: kv(map[string]any{"keys": []string{}}), code: invalid, want: []string{"keys", "1"}},
		{name: "kv_bulk_delete key dotdot", tool: "kv_bulk_delete", args: kv(map[string]any{"keys": []string{"keep", ".."}}), code: invalid, want: []string{"keys[1]", `".."`}},

		// Listing: kv_list limit 10..1000 (0 is not "default": the schema says minimum 10), prefix <= 512 bytes.
		{name: "kv_list limit 9", tool: "kv_list", args: kv(map[string]any{"limit": 9}), code: invalid, want: []string{"limit", "9", "10"}},
		{name: "kv_list limit 1001", tool: "kv_list", args: kv(map[string]any{"limit": 1001}), code: invalid, want: []string{"limit", "1001", "1000"}},
		{name: "kv_list limit 0", tool: "kv_list", args: kv(map[string]any{"limit": 0}), code: invalid, want: []string{"limit", "10"}},
		{name: "kv_list prefix 513 bytes", tool: "kv_list", args: kv(map[string]any{"prefix": repeat("p", 513)}), code: invalid, want: []string{"prefix", "512"}},
		{name: "list_kv_namespaces limit 101", tool: "list_kv_namespaces", args: map[string]any{"limit": 101}, code: invalid, want: []string{"limit", "100"}},
		{name: "list_kv_namespaces limit 0", tool: "list_kv_namespaces", args: map[string]any{"limit": 0}, code: invalid, want: []string{"limit", "1"}},

		// Namespace titles: not blank, <= 512 bytes, no control characters.
		{name: "create_kv_namespace title empty", tool: "create_kv_namespace", args: map[string]any{"title": ""}, code: invalid, want: []string{"title", "empty"}},
		{name: "create_kv_namespace title blank", tool: "create_kv_namespace", args: map[string]any{"title": " \t "}, code: invalid, want: []string{"title", "empty"}},
		{name: "create_kv_namespace title 513 bytes", tool: "create_kv_namespace", args: map[string]any{"title": repeat("t", 513)}, code: invalid, want: []string{"title", "513", "512"}},
		{name: "create_kv_namespace title control character", tool: "create_kv_namespace", args: map[string]any{"title": "a\nb"}, code: invalid, want: []string{"title", "control"}},
		{name: "rename_kv_namespace title empty", tool: "rename_kv_namespace", args: map[string]any{"namespace": seedNS, "title": ""}, code: invalid, want: []string{"title", "empty"}},
		{name: "rename_kv_namespace title 513 bytes", tool: "rename_kv_namespace", args: map[string]any{"namespace": seedNS, "title": repeat("t", 513)}, code: invalid, want: []string{"title", "512"}},

		// Bucket names: 3..63 of [a-z0-9-], alphanumeric at both ends. The
		// messages quote the name; the limit is "3 to 63" or the character rule.
		{name: "bucket name ab", tool: "create_r2_bucket", args: map[string]any{"name": "ab"}, code: invalid, want: []string{`"ab"`, "3", "63"}},
		{name: "bucket name empty", tool: "create_r2_bucket", args: map[string]any{"name": ""}, code: invalid, want: []string{`""`, "3", "63"}},
		{name: "bucket name 64 characters", tool: "create_r2_bucket", args: map[string]any{"name": repeat("b", 64)}, code: invalid, want: []string{repeat("b", 64), "3", "63"}},
		{name: "bucket name Upper", tool: "create_r2_bucket", args: map[string]any{"name": "Upper"}, code: invalid, want: []string{`"Upper"`, "a-z"}},
		{name: "bucket name -lead", tool: "create_r2_bucket", args: map[string]any{"name": "-lead"}, code: invalid, want: []string{`"-lead"`, "start and end"}},
		{name: "bucket name trail-", tool: "create_r2_bucket", args: map[string]any{"name": "trail-"}, code: invalid, want: []string{`"trail-"`, "start and end"}},
		{name: "bucket name under_score", tool: "create_r2_bucket", args: map[string]any{"name": "under_score"}, code: invalid, want: []string{`"under_score"`, "a-z"}},
		{name: "bucket name with a dot", tool: "create_r2_bucket", args: map[string]any{"name": "my.bucket"}, code: invalid, want: []string{`"my.bucket"`, "a-z"}},
		{name: "r2_upload to a bucket named Upper", tool: "r2_upload", args: map[string]any{"bucket": "Upper", "key": "k", "content": "x"}, code: invalid, want: []string{"bucket", `"Upper"`}},

		// R2 keys: 1..1024 bytes, on every tool that takes one.
		{name: "r2_upload key 1025 bytes", tool: "r2_upload", args: r2(map[string]any{"key": repeat("k", 1025), "content": "x"}), code: invalid, want: []string{"key", "1025", "1024"}},
		{name: "r2_upload key empty", tool: "r2_upload", args: r2(map[string]any{"key": "", "content": "x"}), code: invalid, want: []string{"key", "empty"}},
		{name: "r2_head key 1025 bytes", tool: "r2_head", args: r2(map[string]any{"key": repeat("k", 1025)}), code: invalid, want: []string{"key", "1024"}},
		{name: "r2_download key 1025 bytes", tool: "r2_download", args: r2(map[string]any{"key": repeat("k", 1025)}), code: invalid, want: []string{"key", "1024"}},
		{name: "r2_copy to a key of 1025 bytes", tool: "r2_copy", args: map[string]any{"source_bucket": seedBucket, "source_key": "keep.txt", "bucket": seedBucket, "key": repeat("k", 1025)},
			code: invalid, want: []string{"key", "1024"}},

		// Custom metadata: at most 8192 bytes of names and values.
		{name: "r2_upload custom_metadata 8193 bytes", tool: "r2_upload", args: r2(map[string]any{"key": "new.txt", "content": "x", "custom_metadata": customMetadataOf(8193)}),
			code: tooLarge, want: []string{"custom_metadata", "8193", "8192"}},
		{name: "r2_upload custom_metadata empty name", tool: "r2_upload", args: r2(map[string]any{"key": "new.txt", "content": "x", "custom_metadata": map[string]string{"": "v"}}),
			code: invalid, want: []string{"custom_metadata", "empty"}},

		// Listing: r2_list limit 1..1000 (an explicit 0 is below the declared minimum), prefix <= 1024 bytes.
		{name: "r2_list limit 0", tool: "r2_list", args: r2(map[string]any{"limit": 0}), code: invalid, want: []string{"limit", "1"}},
		{name: "r2_list limit 1001", tool: "r2_list", args: r2(map[string]any{"limit": 1001}), code: invalid, want: []string{"limit", "1001", "1000"}},
		{name: "r2_list prefix 1025 bytes", tool: "r2_list", args: r2(map[string]any{"prefix": repeat("p", 1025)}), code: invalid, want: []string{"prefix", "1024"}},
		{name: "list_r2_buckets limit 0", tool: "list_r2_buckets", args: map[string]any{"limit": 0}, code: invalid, want: []string{"limit", "1"}},
		{name: "list_r2_buckets limit 1001", tool: "list_r2_buckets", args: map[string]any{"limit": 1001}, code: invalid, want: []string{"limit", "1000"}},

		// Deletes: 1..1000 keys.
		{name: "r2_delete no keys", tool: "r2_delete", args: r2(map[string]any{"keys": []string{}}), code: invalid, want: []string{"keys", "1"}},
		{name: "r2_delete 1001 keys", tool: "r2_delete", args: r2(map[string]any{"keys": append(keyList(1000), "keep.txt")}), code: tooLarge, want: []string{"keys", "1001", "1000"}},
		{name: "r2_delete key 1025 bytes", tool: "r2_delete", args: r2(map[string]any{"keys": []string{"keep.txt", repeat("k", 1025)}}), code: invalid, want: []string{"keys[1]", "1024"}},

		// Byte ranges.
		{name: "r2_download range_end before range_start", tool: "r2_download", args: r2(map[string]any{"key": "keep.txt", "range_start": 3, "range_end": 1}), code: invalid,
			want: []string{"range_end", "range_start"}},
		{name: "r2_download range_start negative", tool: "r2_download", args: r2(map[string]any{"key": "keep.txt", "range_start": -1}), code: invalid, want: []string{"range_start", "0"}},

		// Presigned URLs: GET or PUT, 1..604800 seconds. Validation comes
		// before the local backend's "unsupported".
		{name: "r2_presign expires_in 0", tool: "r2_presign", args: r2(map[string]any{"key": "keep.txt", "expires_in": 0}), code: invalid, want: []string{"expires_in", "1"}},
		{name: "r2_presign expires_in 604801", tool: "r2_presign", args: r2(map[string]any{"key": "keep.txt", "expires_in": 604801}), code: invalid, want: []string{"expires_in", "604801", "604800"}},
		{name: "r2_presign method DELETE", tool: "r2_presign", args: r2(map[string]any{"key": "keep.txt", "method": "DELETE"}), code: invalid, want: []string{"method", "GET", "PUT"}},
		{name: "r2_presign key 1025 bytes", tool: "r2_presign", args: r2(map[string]any{"key": repeat("k", 1025)}), code: invalid, want: []string{"key", "1024"}},
	})
}

// The limits are where Cloudflare puts them, not one off: a call exactly at
// each limit succeeds. (Presign reaches the local backend's "unsupported",
// which it can only do once its arguments passed validation.)
func TestLimitsAccepted(t *testing.T) {
	t.Parallel()
	runCases(t, setup{}, []toolCase{
		{name: "kv key 512 bytes", tool: "kv_put", args: kv(map[string]any{"key": repeat("k", 512), "value": "v"}), writes: true},
		{name: "kv key 1 byte", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v"}), writes: true},
		{name: "kv key of three dots", tool: "kv_put", args: kv(map[string]any{"key": "...", "value": "v"}), writes: true},
		{name: "kv value 25 MiB", tool: "kv_put", args: kv(map[string]any{"key": "big"}), sparse: storage.MaxKVValueBytes, writes: true},
		{name: "kv metadata 1024 bytes", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "metadata": metadataOf(1024)}), writes: true},
		{name: "kv expiration_ttl 60", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration_ttl": 60}), writes: true},
		{name: "kv expiration now+120", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "expiration": fromNow(120)}), writes: true},
		{name: "kv_bulk_put 10000 entries", tool: "kv_bulk_put", args: kv(map[string]any{"entries": entryList(10_000)}), writes: true, skipState: true,
			result: map[string]any{"written": 10_000, "failed": []any{}}},
		{name: "kv_bulk_get 100 keys", tool: "kv_bulk_get", args: kv(map[string]any{"keys": keyList(100)})},
		{name: "kv_bulk_delete 10000 keys", tool: "kv_bulk_delete", args: kv(map[string]any{"keys": append(keyList(9_999), "keep")}), writes: true,
			result: map[string]any{"deleted": 10_000}},
		{name: "kv_list limit 10", tool: "kv_list", args: kv(map[string]any{"limit": 10})},
		{name: "kv_list limit 1000", tool: "kv_list", args: kv(map[string]any{"limit": 1000})},
		{name: "kv_list prefix 512 bytes", tool: "kv_list", args: kv(map[string]any{"prefix": repeat("p", 512)})},
		{name: "list_kv_namespaces limit 1", tool: "list_kv_namespaces", args: map[string]any{"limit": 1}},
		{name: "list_kv_namespaces limit 100", tool: "list_kv_namespaces", args: map[string]any{"limit": 100}},
		{name: "namespace title 512 bytes", tool: "create_kv_namespace", args: map[string]any{"title": repeat("t", 512)}, writes: true},
		{name: "bucket name 3 characters", tool: "create_r2_bucket", args: map[string]any{"name": "abc"}, writes: true},
		{name: "bucket name 63 characters", tool: "create_r2_bucket", args: map[string]any{"name": repeat("b", 63)}, writes: true},
		{name: "bucket name with inner dashes and digits", tool: "create_r2_bucket", args: map[string]any{"name": "0-a--9"}, writes: true},
		{name: "r2 key 1024 bytes", tool: "r2_upload", args: r2(map[string]any{"key": repeat("k", 1024), "content": "x"}), writes: true},
		{name: "r2 custom_metadata 8192 bytes", tool: "r2_upload", args: r2(map[string]any{"key": "m.txt", "content": "x", "custom_metadata": customMetadataOf(8192)}), writes: true},
		{name: "r2_list limit 1", tool: "r2_list", args: r2(map[string]any{"limit": 1})},
		{name: "r2_list limit 1000", tool: "r2_list", args: r2(map[string]any{"limit": 1000})},
		{name: "r2_list prefix 1024 bytes", tool: "r2_list", args: r2(map[string]any{"prefix": repeat("p", 1024)})},
		{name: "list_r2_buckets limit 1", tool: "list_r2_buckets", args: map[string]any{"limit": 1}},
		{name: "list_r2_buckets limit 1000", tool: "list_r2_buckets", args: map[string]any{"limit": 1000}},
		{name: "r2_delete 1 key", tool: "r2_delete", args: r2(map[string]any{"keys": []string{"keep.txt"}}), writes: true},
		{name: "r2_delete 1000 keys", tool: "r2_delete", args: r2(map[string]any{"keys": append(keyList(999), "keep.txt")}), writes: true},
		{name: "r2_download range to the last byte", tool: "r2_download", args: r2(map[string]any{"key": "keep.txt", "range_start": 0, "range_end": 7})},
		{name: "r2_presign expires_in 1", tool: "r2_presign", args: r2(map[string]any{"key": "keep.txt", "expires_in": 1}), code: "unsupported", want: []string{"cloudflare"}},
		{name: "r2_presign expires_in 604800", tool: "r2_presign", args: r2(map[string]any{"key": "keep.txt", "expires_in": 604800}), code: "unsupported", want: []string{"cloudflare"}},
		{name: "r2_presign PUT", tool: "r2_presign", args: r2(map[string]any{"key": "keep.txt", "method": "PUT"}), code: "unsupported", want: []string{"cloudflare"}},
	})
}

// The 100 MB bulk limit is tested at the Store every tool goes through, not
// through MCP: a request over 100 MB has to carry 100 MB of JSON (a value
// counts in decoded bytes, and keys and metadata of 10,000 entries add up to
// at most 15 MB), and passing that through the in-process client costs about
// 1 GB of memory and 13-30 s, over 60 s under -race, almost all of it JSON
// encoding in mcp-go's client and server. kv_bulk_put hands its entries to
// Store.KV().BulkPut unchanged, so this is the check that refuses them.
// Here the values share one backing array: nothing big is allocated twice.
func TestBulkPutByteLimit(t *testing.T) {
	t.Parallel()
	backing := make([]byte, 25_000_000)
	entries := func(n, valueLen int) []storage.KVEntry {
		es := make([]storage.KVEntry, n)
		for i := range es {
			es[i] = storage.KVEntry{Key: fmt.Sprintf("k%0*d", len(fmt.Sprint(n-1)), i), Value: backing[:valueLen]}
		}
		return es
	}
	total := func(es []storage.KVEntry) (n int) {
		for _, e := range es {
			n += len(e.Key) + len(e.Value) + len(e.Metadata)
		}
		return n
	}
	// Four entries of 2-byte keys: 4 * (2 + 24,999,998) = 100,000,000.
	atLimit := entries(4, 24_999_998)
	if total(atLimit) != storage.MaxBulkBytes {
		t.Fatalf("test setup: %d bytes, want exactly %d", total(atLimit), storage.MaxBulkBytes)
	}
	if err := storage.ValidateBulkPut(atLimit, time.Now()); err != nil {
		t.Fatalf("exactly %d bytes refused: %v", storage.MaxBulkBytes, err)
	}
	overByOne := entries(4, 24_999_998)
	overByOne[3].Value = backing[:24_999_999]
	cases := map[string][]storage.KVEntry{
		"one byte over":                     overByOne,
		"10000 entries, 100.05 MB in total": entries(10_000, 10_000),
		"four entries of 25 MB":             entries(4, 25_000_000),
	}
	for name, es := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := storage.Guard(local.New(t.TempDir()), storage.Policy{})
			t.Cleanup(func() { st.Close() })
			ctx := context.Background()
			ns, err := st.KV().CreateNamespace(ctx, "bulk")
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.KV().BulkPut(ctx, ns.ID, es)
			if storage.CodeOf(err) != storage.CodeTooLarge {
				t.Fatalf("BulkPut of %d bytes: err = %v, want too_large", total(es), err)
			}
			checkMessage(t, err.Error(), "entries", fmt.Sprint(total(es)), "100000000", "100 MB")
			page, err := st.KV().List(ctx, ns.ID, storage.ListOptions{})
			if err != nil || len(page.Keys) != 0 {
				t.Fatalf("a refused bulk write stored %d keys (err %v)", len(page.Keys), err)
			}
		})
	}
}

// tripwire is a body that must never be read: the size alone must refuse it.
type tripwire struct{ t *testing.T }

func (w tripwire) Read([]byte) (int, error) {
	w.t.Error("the body of an upload over the limit was read")
	return 0, errors.New("tripwire: this body must not be read")
}

func (w tripwire) ReadAt([]byte, int64) (int, error) { return w.Read(nil) }

// An R2 object is at most 5 TiB. Through MCP this needs a 5 TiB file_path;
// a sparse one costs nothing, but were the check ever missing the backend
// would try to copy 5 TiB onto the disk. The Store every tool uses is given
// a body that fails the test if read instead.
func TestObjectSizeLimit(t *testing.T) {
	t.Parallel()
	st := storage.Guard(local.New(t.TempDir()), storage.Policy{})
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.R2().CreateBucket(ctx, storage.BucketSpec{Name: "huge"}); err != nil {
		t.Fatal(err)
	}
	put := storage.ObjectPut{Bucket: "huge", Key: "big.bin", Body: tripwire{t}, Size: storage.MaxObjectBytes + 1}
	_, err := st.R2().PutObject(ctx, put)
	if storage.CodeOf(err) != storage.CodeTooLarge {
		t.Fatalf("PutObject of 5 TiB + 1: err = %v, want too_large", err)
	}
	checkMessage(t, err.Error(), "5497558138881", "5497558138880", "5 TiB")
	if _, err := st.R2().HeadObject(ctx, "huge", "big.bin"); storage.CodeOf(err) != storage.CodeNotFound {
		t.Fatalf("after a refused upload, HeadObject: %v, want not_found", err)
	}
	put.Size = storage.MaxObjectBytes
	if err := storage.ValidateObjectPut(put); err != nil {
		t.Fatalf("exactly 5 TiB refused: %v", err)
	}
}

// The state used by every refusal test must see every kind of change, or
// "nothing changed" would prove nothing.
func TestStateSeesEveryChange(t *testing.T) {
	t.Parallel()
	changes := []struct {
		tool string
		args map[string]any
	}{
		{"kv_put", kv(map[string]any{"key": "new", "value": "v"})},
		{"kv_put", kv(map[string]any{"key": "keep", "value": "changed", "metadata": map[string]any{"v": 1}, "expiration_ttl": 3600})},
		{"kv_put", kv(map[string]any{"key": "plain", "value": "plain value", "metadata": map[string]any{"v": 2}})},
		{"kv_put", kv(map[string]any{"key": "plain", "value": "plain value", "expiration_ttl": 7200})},
		{"kv_delete", kv(map[string]any{"key": "plain"})},
		{"create_kv_namespace", map[string]any{"title": "other"}},
		{"rename_kv_namespace", map[string]any{"namespace": seedNS, "title": "renamed"}},
		{"delete_kv_namespace", map[string]any{"namespace": seedNS, "confirm": seedNS}},
		{"create_r2_bucket", map[string]any{"name": "another"}},
		{"delete_r2_bucket", map[string]any{"bucket": emptyBucket, "confirm": emptyBucket}},
		{"r2_upload", r2(map[string]any{"key": "new.txt", "content": "x"})},
		{"r2_upload", r2(map[string]any{"key": "keep.txt", "content": "changed!", "custom_metadata": map[string]string{"v": "1"}})},
		{"r2_upload", r2(map[string]any{"key": "keep.txt", "content": "original", "custom_metadata": map[string]string{"v": "2"}})},
		{"r2_upload", r2(map[string]any{"key": "keep.txt", "content": "original", "custom_metadata": map[string]string{"v": "1"}, "cache_control": "no-store"})},
		{"r2_delete", r2(map[string]any{"keys": []string{"keep.txt"}})},
	}
	for i, c := range changes {
		t.Run(fmt.Sprintf("%d %s", i, c.tool), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{})
			seed(t, h)
			before := h.state(t)
			if again := h.state(t); again != before {
				t.Fatalf("state differs between two reads of the same data:\n%s\n%s", before, again)
			}
			h.OK(c.tool, c.args)
			if h.state(t) == before {
				t.Errorf("state does not see %s(%v)", c.tool, c.args)
			}
		})
	}
}

// TestEveryLimitIsTested guards against a limit being added to storage/limits.go
// without a test here: every exported constant is listed, with where it is
// tested.
func TestEveryLimitIsTested(t *testing.T) {
	tested := map[string]int64{
		"MaxKVKeyBytes":          storage.MaxKVKeyBytes,                         // kv_put key 513 bytes
		"MaxKVValueBytes":        storage.MaxKVValueBytes,                       // kv_put value 25 MiB + 1
		"MaxKVMetadataBytes":     storage.MaxKVMetadataBytes,                    // kv_put metadata 1025 bytes
		"MinExpirationTTL":       storage.MinExpirationTTL,                      // expiration_ttl 59, expiration now+59
		"MaxBulkEntries":         storage.MaxBulkEntries,                        // kv_bulk_put 10001 entries
		"MaxBulkBytes":           storage.MaxBulkBytes,                          // TestBulkPutByteLimit
		"MaxBulkGetKeys":         storage.MaxBulkGetKeys,                        // kv_bulk_get 101 keys
		"MaxBulkDeleteKeys":      storage.MaxBulkDeleteKeys,                     // kv_bulk_delete 10001 keys
		"MinKVListLimit":         storage.MinKVListLimit,                        // kv_list limit 9
		"MaxKVListLimit":         storage.MaxKVListLimit,                        // kv_list limit 1001
		"MaxNamespaceList":       storage.MaxNamespaceList,                      // list_kv_namespaces limit 101
		"MaxNamespaceTitle":      storage.MaxNamespaceTitle,                     // title 513 bytes
		"MinBucketName":          storage.MinBucketName,                         // bucket name ab
		"MaxBucketName":          storage.MaxBucketName,                         // bucket name 64 characters
		"MaxObjectKeyBytes":      storage.MaxObjectKeyBytes,                     // r2_upload key 1025 bytes
		"MaxCustomMetadataBytes": storage.MaxCustomMetadataBytes,                // custom_metadata 8193 bytes
		"MaxObjectBytes":         storage.MaxObjectBytes,                        // TestObjectSizeLimit
		"MaxObjectList":          storage.MaxObjectList,                         // r2_list limit 1001
		"MaxBucketList":          storage.MaxBucketList,                         // list_r2_buckets limit 1001
		"MaxDeleteObjects":       storage.MaxDeleteObjects,                      // r2_delete 1001 keys
		"MaxPresignExpiry":       int64(storage.MaxPresignExpiry / time.Second), // expires_in 604801
	}
	src, err := os.ReadFile(filepath.Join("..", "internal", "storage", "limits.go"))
	if err != nil {
		t.Skipf("cannot read limits.go: %v", err)
	}
	_, block, _ := bytes.Cut(src, []byte("\nconst (\n"))
	block, _, _ = bytes.Cut(block, []byte("\n)\n"))
	if len(block) == 0 {
		t.Fatal("limits.go has no const block")
	}
	for line := range strings.Lines(string(block)) {
		name, _, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || !strings.HasPrefix(name, "M") || strings.HasPrefix(name, "Default") {
			continue
		}
		if _, ok := tested[name]; !ok {
			t.Errorf("storage.%s has no test in limits_test.go", name)
		}
	}
}
