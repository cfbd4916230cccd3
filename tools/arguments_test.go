package tools_test

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Bad arguments get an invalid_argument error that names the argument, and
// change nothing. Each case runs on its own seeded server (see runRefusals).
func TestBadArgumentsRefused(t *testing.T) {
	t.Parallel()
	okEntry := map[string]any{"key": "a", "value": "1"}
	runCases(t, setup{}, []toolCase{
		// Wrong types.
		{name: "limit is a string", tool: "kv_list", args: kv(map[string]any{"limit": "abc"}), code: invalid, want: []string{"limit", "string", "integer"}},
		{name: "limit is a fraction", tool: "r2_list", args: r2(map[string]any{"limit": 10.5}), code: invalid, want: []string{"limit", "integer"}},
		{name: "keys is not a list (bulk get)", tool: "kv_bulk_get", args: kv(map[string]any{"keys": "notalist"}), code: invalid, want: []string{"keys", "array"}},
		{name: "keys is not a list (bulk delete)", tool: "kv_bulk_delete", args: kv(map[string]any{"keys": "keep"}), code: invalid, want: []string{"keys", "array"}},
		{name: "keys is not a list (r2_delete)", tool: "r2_delete", args: r2(map[string]any{"keys": "keep.txt"}), code: invalid, want: []string{"keys", "array"}},
		{name: "a key in keys is a number", tool: "r2_delete", args: r2(map[string]any{"keys": []any{"keep.txt", 7}}), code: invalid, want: []string{"keys[1]", "string"}},
		{name: "value is a number", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": 42}), code: invalid, want: []string{"value", "number", "string"}},
		{name: "value is an object", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": map[string]any{"a": 1}}), code: invalid, want: []string{"value", "object"}},
		{name: "key is a number", tool: "kv_put", args: kv(map[string]any{"key": 1, "value": "v"}), code: invalid, want: []string{"key", "number"}},
		{name: "namespace is a number", tool: "kv_get", args: map[string]any{"namespace": 7, "key": "keep"}, code: invalid, want: []string{"namespace", "number"}},
		{name: "expiration_ttl is a string", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": "v", "expiration_ttl": "3600"}), code: invalid, want: []string{"expiration_ttl", "integer"}},
		{name: "content is a list", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt", "content": []string{"a"}}), code: invalid, want: []string{"content", "array"}},
		{name: "custom_metadata value is a number", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt", "content": "x", "custom_metadata": map[string]any{"v": 2}}),
			code: invalid, want: []string{"custom_metadata.v", "string"}},
		{name: "custom_metadata is a list", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt", "content": "x", "custom_metadata": []string{"v"}}),
			code: invalid, want: []string{"custom_metadata", "array"}},
		{name: "entries is not a list", tool: "kv_bulk_put", args: kv(map[string]any{"entries": "notalist"}), code: invalid, want: []string{"entries", "array"}},
		{name: "entry value is a number", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{okEntry, map[string]any{"key": "b", "value": 1}}}),
			code: invalid, want: []string{"entries[1].value", "string"}},
		{name: "entry base64 is a string", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{map[string]any{"key": "b", "value": "AA==", "base64": "yes"}}}),
			code: invalid, want: []string{"entries[0].base64", "boolean"}},
		{name: "range_start is a string", tool: "r2_download", args: r2(map[string]any{"key": "keep.txt", "range_start": "0"}), code: invalid, want: []string{"range_start", "integer"}},
		{name: "confirm is a boolean", tool: "delete_r2_bucket", args: map[string]any{"bucket": emptyBucket, "confirm": true}, code: invalid, want: []string{"confirm", "boolean"}},

		// Unknown argument names: a typo must not be ignored silently.
		{name: "valu instead of value", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": "new", "valu": "x"}), code: invalid, want: []string{"valu", "not allowed"}},
		{name: "valu alone", tool: "kv_put", args: kv(map[string]any{"key": "keep", "valu": "x"}), code: invalid, want: []string{"valu"}},
		{name: "ttl instead of expiration_ttl", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": "original", "ttl": 60}), code: invalid, want: []string{"ttl"}},
		{name: "contents instead of content", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt", "content": "x", "contents": "y"}), code: invalid, want: []string{"contents"}},
		{name: "unknown field in a bulk entry", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{okEntry, map[string]any{"key": "b", "value": "2", "ttl": 60}}}),
			code: invalid, want: []string{"entries[1]", "ttl"}},
		{name: "unknown argument on a tool without arguments", tool: "whoami", args: map[string]any{"verbose": true}, code: invalid, want: []string{"verbose"}},

		// Missing required arguments.
		{name: "kv_get without key", tool: "kv_get", args: kv(nil), code: invalid, want: []string{"missing", "key"}},
		{name: "kv_get without namespace", tool: "kv_get", args: map[string]any{"key": "keep"}, code: invalid, want: []string{"missing", "namespace"}},
		{name: "kv_put without anything", tool: "kv_put", args: map[string]any{}, code: invalid, want: []string{"namespace", "key"}},
		{name: "kv_put without arguments", tool: "kv_put", args: nil, code: invalid, want: []string{"namespace", "key"}},
		{name: "kv_bulk_put without entries", tool: "kv_bulk_put", args: kv(nil), code: invalid, want: []string{"entries"}},
		{name: "kv_bulk_put entry without value", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{okEntry, map[string]any{"key": "b"}}}), code: invalid,
			want: []string{"entries[1]", "value"}},
		{name: "r2_upload without bucket", tool: "r2_upload", args: map[string]any{"key": "k", "content": "x"}, code: invalid, want: []string{"bucket"}},
		{name: "r2_copy without source_key", tool: "r2_copy", args: map[string]any{"source_bucket": seedBucket, "bucket": seedBucket, "key": "copy.txt"}, code: invalid,
			want: []string{"source_key"}},
		{name: "create_r2_bucket without name", tool: "create_r2_bucket", args: map[string]any{}, code: invalid, want: []string{"name"}},
		{name: "delete_kv_namespace without confirm", tool: "delete_kv_namespace", args: map[string]any{"namespace": seedNS}, code: invalid, want: []string{"confirm"}},
		{name: "delete_r2_bucket without confirm", tool: "delete_r2_bucket", args: map[string]any{"bucket": emptyBucket}, code: invalid, want: []string{"confirm"}},
		{name: "kv_put with an empty namespace", tool: "kv_put", args: map[string]any{"namespace": "", "key": "k", "value": "v"}, code: invalid, want: []string{"namespace"}},

		// Exactly one of value / value_base64 / file_path, and of content / content_base64 / file_path.
		{name: "kv_put value and value_base64", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": "a", "value_base64": "YQ=="}), code: invalid,
			want: []string{"value", "value_base64", "file_path", "exactly one"}},
		{name: "kv_put value and file_path", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": "a", "file_path": "x"}), code: invalid, want: []string{"exactly one"}},
		{name: "kv_put none of them", tool: "kv_put", args: kv(map[string]any{"key": "keep"}), code: invalid, want: []string{"value", "value_base64", "file_path", "exactly one"}},
		{name: "kv_put value null", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value": nil}), code: invalid, want: []string{"value"}},
		{name: "r2_upload content and file_path", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt", "content": "a", "file_path": "x"}), code: invalid,
			want: []string{"content", "content_base64", "file_path", "exactly one"}},
		{name: "r2_upload content and content_base64", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt", "content": "a", "content_base64": "YQ=="}), code: invalid,
			want: []string{"exactly one"}},
		{name: "r2_upload none of them", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt"}), code: invalid, want: []string{"exactly one"}},

		// Invalid base64.
		{name: "kv_put value_base64 invalid", tool: "kv_put", args: kv(map[string]any{"key": "keep", "value_base64": "not base64!"}), code: invalid, want: []string{"value_base64", "base64"}},
		{name: "r2_upload content_base64 invalid", tool: "r2_upload", args: r2(map[string]any{"key": "keep.txt", "content_base64": "%%%"}), code: invalid, want: []string{"content_base64", "base64"}},
		{name: "bulk entry base64 invalid", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{okEntry, map[string]any{"key": "b", "value": "@@@", "base64": true}}}),
			code: invalid, want: []string{"entries[1].value", "base64"}},

		// Values outside an enum.
		{name: "kv_get encoding hex", tool: "kv_get", args: kv(map[string]any{"key": "keep", "encoding": "hex"}), code: invalid, want: []string{"encoding", "auto", "text", "base64", "json"}},
		{name: "r2_download encoding hex", tool: "r2_download", args: r2(map[string]any{"key": "keep.txt", "encoding": "hex"}), code: invalid, want: []string{"encoding", "base64"}},
		{name: "r2_download encoding json", tool: "r2_download", args: r2(map[string]any{"key": "keep.txt", "encoding": "json"}), code: invalid, want: []string{"encoding", "auto"}},
		{name: "create_r2_bucket location_hint mars", tool: "create_r2_bucket", args: map[string]any{"name": "new-bucket", "location_hint": "mars"}, code: invalid,
			want: []string{"location_hint", "weur"}},
		{name: "create_r2_bucket storage_class Glacier", tool: "create_r2_bucket", args: map[string]any{"name": "new-bucket", "storage_class": "Glacier"}, code: invalid,
			want: []string{"storage_class", "Standard"}},
		{name: "create_r2_bucket jurisdiction us", tool: "create_r2_bucket", args: map[string]any{"name": "new-bucket", "jurisdiction": "us"}, code: invalid,
			want: []string{"jurisdiction", "eu"}},

		// Cursors are opaque: one that was not issued is refused, not misread.
		{name: "kv_list garbage cursor", tool: "kv_list", args: kv(map[string]any{"cursor": "garbage!!"}), code: invalid, want: []string{"cursor"}},
		{name: "r2_list garbage cursor", tool: "r2_list", args: r2(map[string]any{"cursor": "garbage!!"}), code: invalid, want: []string{"cursor"}},
		{name: "list_kv_namespaces garbage cursor", tool: "list_kv_namespaces", args: map[string]any{"cursor": "Zm9v"}, code: invalid, want: []string{"cursor"}},
		{name: "list_r2_buckets garbage cursor", tool: "list_r2_buckets", args: map[string]any{"cursor": "e30"}, code: invalid, want: []string{"cursor"}},

		// Confirmations must match exactly; the data stays.
		{name: "delete_kv_namespace confirm mismatch", tool: "delete_kv_namespace", args: map[string]any{"namespace": seedNS, "confirm": "other"}, code: invalid,
			want: []string{"confirm", `"limits"`, "nothing was deleted"}},
		{name: "delete_kv_namespace confirm in other case", tool: "delete_kv_namespace", args: map[string]any{"namespace": seedNS, "confirm": "LIMITS"}, code: invalid,
			want: []string{"confirm"}},
		{name: "delete_kv_namespace confirm empty", tool: "delete_kv_namespace", args: map[string]any{"namespace": seedNS, "confirm": ""}, code: invalid, want: []string{"confirm"}},
		{name: "delete_r2_bucket confirm mismatch", tool: "delete_r2_bucket", args: map[string]any{"bucket": emptyBucket, "confirm": "other"}, code: invalid,
			want: []string{"confirm", `"empty-bucket"`, "nothing was deleted"}},
		{name: "delete_r2_bucket confirm with a space", tool: "delete_r2_bucket", args: map[string]any{"bucket": emptyBucket, "confirm": emptyBucket + " "}, code: invalid,
			want: []string{"confirm"}},

		// Namespaces and buckets that do not exist.
		{name: "kv_get unknown namespace title", tool: "kv_get", args: map[string]any{"namespace": "no-such-namespace", "key": "k"}, code: notFound, want: []string{"no-such-namespace"}},
		{name: "kv_get unknown namespace id", tool: "kv_get", args: map[string]any{"namespace": unknownNSID, "key": "k"}, code: notFound, want: []string{unknownNSID}},
		{name: "kv_put unknown namespace title", tool: "kv_put", args: map[string]any{"namespace": "no-such-namespace", "key": "k", "value": "v"}, code: notFound, want: []string{"no-such-namespace"}},
		{name: "kv_put unknown namespace id", tool: "kv_put", args: map[string]any{"namespace": unknownNSID, "key": "k", "value": "v"}, code: notFound, want: []string{unknownNSID}},
		{name: "kv_delete unknown namespace id", tool: "kv_delete", args: map[string]any{"namespace": unknownNSID, "key": "k"}, code: notFound, want: []string{unknownNSID}},
		{name: "kv_list unknown namespace", tool: "kv_list", args: map[string]any{"namespace": "no-such-namespace"}, code: notFound, want: []string{"no-such-namespace"}},
		{name: "kv_list unknown namespace id", tool: "kv_list", args: map[string]any{"namespace": unknownNSID}, code: notFound, want: []string{unknownNSID}},
		{name: "kv_bulk_put unknown namespace id", tool: "kv_bulk_put", args: map[string]any{"namespace": unknownNSID, "entries": []any{okEntry}}, code: notFound, want: []string{unknownNSID}},
		{name: "kv_bulk_get unknown namespace id", tool: "kv_bulk_get", args: map[string]any{"namespace": unknownNSID, "keys": []string{"a"}}, code: notFound, want: []string{unknownNSID}},
		{name: "kv_bulk_delete unknown namespace id", tool: "kv_bulk_delete", args: map[string]any{"namespace": unknownNSID, "keys": []string{"a"}}, code: notFound, want: []string{unknownNSID}},
		{name: "rename unknown namespace", tool: "rename_kv_namespace", args: map[string]any{"namespace": "no-such-namespace", "title": "x"}, code: notFound, want: []string{"no-such-namespace"}},
		{name: "rename unknown namespace id", tool: "rename_kv_namespace", args: map[string]any{"namespace": unknownNSID, "title": "x"}, code: notFound, want: []string{unknownNSID}},
		{name: "delete unknown namespace", tool: "delete_kv_namespace", args: map[string]any{"namespace": unknownNSID, "confirm": "x"}, code: notFound, want: []string{unknownNSID}},
		{name: "r2_list unknown bucket", tool: "r2_list", args: map[string]any{"bucket": "no-such-bucket"}, code: notFound, want: []string{"no-such-bucket"}},
		{name: "r2_upload unknown bucket", tool: "r2_upload", args: map[string]any{"bucket": "no-such-bucket", "key": "k", "content": "x"}, code: notFound, want: []string{"no-such-bucket"}},
		{name: "r2_download unknown bucket", tool: "r2_download", args: map[string]any{"bucket": "no-such-bucket", "key": "k"}, code: notFound, want: []string{"no-such-bucket"}},
		{name: "r2_head unknown bucket", tool: "r2_head", args: map[string]any{"bucket": "no-such-bucket", "key": "k"}, code: notFound, want: []string{"no-such-bucket"}},
		{name: "r2_delete unknown bucket", tool: "r2_delete", args: map[string]any{"bucket": "no-such-bucket", "keys": []string{"k"}}, code: notFound, want: []string{"no-such-bucket"}},
		{name: "r2_copy from unknown bucket", tool: "r2_copy", args: map[string]any{"source_bucket": "no-such-bucket", "source_key": "k", "bucket": seedBucket, "key": "copy"},
			code: notFound, want: []string{"no-such-bucket"}},
		{name: "r2_copy to unknown bucket", tool: "r2_copy", args: map[string]any{"source_bucket": seedBucket, "source_key": "keep.txt", "bucket": "no-such-bucket", "key": "copy"},
			code: notFound, want: []string{"no-such-bucket"}},
		{name: "r2_copy of a missing object", tool: "r2_copy", args: map[string]any{"source_bucket": seedBucket, "source_key": "missing.txt", "bucket": seedBucket, "key": "copy"},
			code: notFound, want: []string{"missing.txt"}},
		{name: "r2_download of a missing object", tool: "r2_download", args: r2(map[string]any{"key": "missing.txt"}), code: notFound, want: []string{"missing.txt"}},
		{name: "delete_r2_bucket unknown bucket", tool: "delete_r2_bucket", args: map[string]any{"bucket": "no-such-bucket", "confirm": "no-such-bucket"}, code: notFound,
			want: []string{"no-such-bucket"}},
	})
}

// With the right confirmation the same deletes succeed: the refusals above
// are about the confirmation, nothing else.
func TestConfirmedDeletes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	id := seed(t, h)
	h.OK("delete_r2_bucket", map[string]any{"bucket": emptyBucket, "confirm": emptyBucket})
	h.Fail("r2_list", map[string]any{"bucket": emptyBucket}, notFound)
	h.OK("delete_kv_namespace", map[string]any{"namespace": id, "confirm": seedNS})
	h.Fail("kv_get", map[string]any{"namespace": id, "key": "keep"}, notFound)
}

// Any JSON value is metadata, in kv_put and in every bulk entry, and it
// comes back as it went in.
func TestMetadataIsAnyJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	seed(t, h)
	values := map[string]any{
		"object": map[string]any{"owner": "web", "tags": []any{"a", "b"}, "n": 1.5, "ok": true, "none": nil},
		"array":  []any{1.0, "two", map[string]any{"three": 3.0}},
		"string": "just text",
		"number": 42.0,
		"bool":   false,
	}
	var entries []any
	for name, md := range values {
		h.OK("kv_put", kv(map[string]any{"key": "put-" + name, "value": "v", "metadata": md}))
		entries = append(entries, map[string]any{"key": "bulk-" + name, "value": "v", "metadata": md})
	}
	if res := h.OK("kv_bulk_put", kv(map[string]any{"entries": entries})); res["written"] != float64(len(values)) {
		t.Fatalf("bulk put = %v", res)
	}
	for name, md := range values {
		for _, key := range []string{"put-" + name, "bulk-" + name} {
			got := h.OK("kv_get", kv(map[string]any{"key": key}))
			if !jsonEqual(t, got["metadata"], md) {
				t.Errorf("%s: metadata %v came back as %v", key, md, got["metadata"])
			}
		}
	}
}

// Keys that look like paths, URLs or escapes are valid KV and R2 keys: they
// round-trip exactly, stay distinct from one another, and never become file
// names in the data dir.
func TestHostileKeysRoundTrip(t *testing.T) {
	t.Parallel()
	keys := []string{
		"../../etc/passwd",
		"a?b#c%20d",
		"spaces and ünïcödé",
		"/leading/slash",
		`\backslash`,
		`..\..\windows\win.ini`,
		"a/b", "a//b", "a/./b", "a/../a/b", "a/b/",
		"Key", "key", "KEY",
		"caf\u00e9", "cafe\u0301", // NFC and NFD spellings of café
		"tab\there", "new\nline", "nul\x00byte",
		"%2e%2e%2f", "...", "./x", "x/.",
		"emoji 🔑", "*", "'; DROP TABLE kv; --", "%_", "_%",
	}
	h := newHarness(t, setup{})
	id := seed(t, h)
	// Distinct values make any collision between two keys visible.
	value := func(i int) string { return "value of key " + string(rune('A'+i)) }

	existedBefore := map[string]bool{}
	for _, p := range keyPaths(h, keys) {
		if _, err := os.Lstat(p); err == nil {
			existedBefore[p] = true
		}
	}
	for i, key := range keys {
		h.OK("kv_put", map[string]any{"namespace": id, "key": key, "value": value(i)})
		h.OK("r2_upload", r2(map[string]any{"key": key, "content": value(i)}))
	}
	for i, key := range keys {
		got, gotValue := h.Read("kv_get", map[string]any{"namespace": id, "key": key})
		if got["found"] != true || got["key"] != key || gotValue != value(i) {
			t.Errorf("kv_get(%q) = %v, want value %q", key, got, value(i))
		}
		head := h.OK("r2_head", r2(map[string]any{"key": key}))
		if head["found"] != true || head["key"] != key {
			t.Errorf("r2_head(%q) = %v", key, head)
		}
		obj, objValue := h.Read("r2_download", r2(map[string]any{"key": key, "encoding": "text"}))
		if obj["key"] != key || objValue != value(i) {
			t.Errorf("r2_download(%q) = %v, want content %q", key, obj, value(i))
		}
	}

	// Listings name every key exactly once, byte for byte.
	want := map[string]bool{"keep": true, "plain": true}
	for _, k := range keys {
		want[k] = true
	}
	listed := map[string]bool{}
	for _, k := range h.OK("kv_list", map[string]any{"namespace": id, "limit": 1000})["keys"].([]any) {
		listed[k.(map[string]any)["name"].(string)] = true
	}
	if !maps.Equal(listed, want) {
		t.Errorf("kv_list names %q, want %q", sortedKeys(listed), sortedKeys(want))
	}
	want = map[string]bool{"keep.txt": true}
	for _, k := range keys {
		want[k] = true
	}
	listed = map[string]bool{}
	for _, o := range h.OK("r2_list", r2(map[string]any{"delimiter": "", "limit": 1000}))["objects"].([]any) {
		listed[o.(map[string]any)["key"].(string)] = true
	}
	if !maps.Equal(listed, want) {
		t.Errorf("r2_list keys %q, want %q", sortedKeys(listed), sortedKeys(want))
	}

	// No key became a path: nothing in the data dir is named after one, and
	// nothing appeared where a key read as a path would lead.
	err := filepath.WalkDir(h.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(h.dataDir, p)
		for _, part := range strings.Split(rel, string(filepath.Separator)) {
			if part == "passwd" || strings.Contains(part, "etc") || strings.Contains(part, "win.ini") ||
				strings.Contains(part, " ") || strings.ContainsAny(part, "?#%\\") {
				t.Errorf("the data dir holds %s, named after a key", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range keyPaths(h, keys) {
		if !existedBefore[p] {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s appeared: a key was used as a path", p)
			}
		}
	}

	// Deleting by the same exact keys removes exactly them.
	h.OK("kv_bulk_delete", map[string]any{"namespace": id, "keys": keys})
	if left := h.OK("kv_list", map[string]any{"namespace": id})["keys"].([]any); len(left) != 2 {
		t.Errorf("after deleting every hostile key, kv_list = %v", left)
	}
	del := h.OK("r2_delete", r2(map[string]any{"keys": keys}))
	if len(del["deleted"].([]any)) != len(keys) || len(del["errors"].([]any)) != 0 {
		t.Errorf("r2_delete = %v", del)
	}
	if left := h.OK("r2_list", r2(map[string]any{"delimiter": ""}))["objects"].([]any); len(left) != 1 {
		t.Errorf("after deleting every hostile key, r2_list = %v", left)
	}
}

// keyPaths lists where keys would land if a backend used them as paths
// relative to its data dir, its blob dirs or the files root.
func keyPaths(h *harness, keys []string) []string {
	var paths []string
	for _, dir := range []string{h.dataDir, filepath.Join(h.dataDir, "blobs"), filepath.Join(h.dataDir, "blobs", "ab"),
		filepath.Join(h.dataDir, "tmp"), h.root} {
		for _, key := range keys {
			if p := filepath.Join(dir, key); !strings.HasPrefix(dir+string(filepath.Separator), p+string(filepath.Separator)) {
				paths = append(paths, p) // not dir itself or one of its parents
			}
		}
	}
	return paths
}

// No argument can panic the server or make it echo megabytes back: deep
// nesting and huge strings end in an ordinary, short tool error.
func TestPathologicalArguments(t *testing.T) {
	t.Parallel()
	deep := func(levels int) any {
		var v any = "bottom"
		for range levels {
			v = map[string]any{"a": v}
		}
		return v
	}
	deepList := func(levels int) any {
		var v any = []any{}
		for range levels {
			v = []any{v}
		}
		return v
	}
	huge := repeat("h", 2<<20)  // 2 MiB, for keys and names
	big := repeat("b", 256<<10) // 256 KiB elsewhere: the cost under -race is in JSON
	bigPath := repeat("d/", 128<<10)
	runCases(t, setup{}, []toolCase{
		{name: "metadata nested 1000 levels", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "metadata": deep(1000)}), code: tooLarge, want: []string{"metadata", "1024"}},
		{name: "metadata list nested 1000 levels", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": "v", "metadata": deepList(1000)}), code: tooLarge, want: []string{"metadata", "1024"}},
		{name: "bulk metadata nested 1000 levels", tool: "kv_bulk_put", args: kv(map[string]any{"entries": []any{map[string]any{"key": "k", "value": "v", "metadata": deep(1000)}}}),
			code: tooLarge, want: []string{"entries[0].metadata", "1024"}},
		{name: "value nested 1000 levels", tool: "kv_put", args: kv(map[string]any{"key": "k", "value": deep(1000)}), code: invalid, want: []string{"value"}},
		{name: "custom_metadata nested 1000 levels", tool: "r2_upload", args: r2(map[string]any{"key": "k", "content": "x", "custom_metadata": deep(1000)}), code: invalid,
			want: []string{"custom_metadata.a", "string"}},
		{name: "unknown argument nested 1000 levels", tool: "kv_get", args: kv(map[string]any{"key": "keep", "extra": deep(1000)}), code: invalid, want: []string{"extra"}},
		{name: "kv_put key 2 MiB", tool: "kv_put", args: kv(map[string]any{"key": huge, "value": "v"}), code: invalid, want: []string{"key", "2097152", "512"}},
		{name: "kv_get key 256 KiB", tool: "kv_get", args: kv(map[string]any{"key": big}), code: invalid, want: []string{"key", "512"}},
		{name: "kv_bulk_get key 256 KiB", tool: "kv_bulk_get", args: kv(map[string]any{"keys": []string{big}}), code: invalid, want: []string{"keys[0]", "512"}},
		{name: "kv_list prefix 256 KiB", tool: "kv_list", args: kv(map[string]any{"prefix": big}), code: invalid, want: []string{"prefix", "512"}},
		{name: "kv_list cursor 256 KiB", tool: "kv_list", args: kv(map[string]any{"cursor": big}), code: invalid, want: []string{"cursor"}},
		{name: "r2_upload key 2 MiB", tool: "r2_upload", args: r2(map[string]any{"key": huge, "content": "x"}), code: invalid, want: []string{"key", "1024"}},
		{name: "r2_head key 256 KiB", tool: "r2_head", args: r2(map[string]any{"key": big}), code: invalid, want: []string{"key", "1024"}},
		{name: "namespace 2 MiB", tool: "kv_get", args: map[string]any{"namespace": huge, "key": "k"}, code: notFound, want: []string{"namespace", "hhhh"}},
		{name: "bucket 2 MiB", tool: "r2_head", args: map[string]any{"bucket": huge, "key": "k"}, code: invalid, want: []string{"bucket", "hhhh", "63"}},
		{name: "bucket name 256 KiB", tool: "create_r2_bucket", args: map[string]any{"name": big}, code: invalid, want: []string{"bbbb", "63"}},
		{name: "namespace title 256 KiB", tool: "create_kv_namespace", args: map[string]any{"title": big}, code: invalid, want: []string{"title", "512"}},
		{name: "confirm 256 KiB", tool: "delete_kv_namespace", args: map[string]any{"namespace": seedNS, "confirm": big}, code: invalid, want: []string{"confirm"}},
		{name: "file_path 256 KiB", tool: "kv_put", args: kv(map[string]any{"key": "k", "file_path": bigPath}), code: invalid, want: []string{"file_path", "4096"}},
		{name: "save_to 256 KiB", tool: "kv_get", args: kv(map[string]any{"key": "keep", "save_to": bigPath}), code: invalid, want: []string{"save_to", "4096"}},
		{name: "value_base64 256 KiB of garbage", tool: "kv_put", args: kv(map[string]any{"key": "k", "value_base64": repeat("!", 256<<10)}), code: invalid, want: []string{"value_base64"}},
		{name: "unknown argument named 256 KiB", tool: "kv_get", args: kv(map[string]any{"key": "keep", big: 1}), code: invalid, want: []string{"bbbb", "not allowed"}},
		{name: "10000 unknown arguments", tool: "kv_get", args: kv(manyArgs(10_000)), code: invalid, want: []string{"not allowed"}},
		{name: "encoding 256 KiB", tool: "kv_get", args: kv(map[string]any{"key": "keep", "encoding": big}), code: invalid, want: []string{"encoding"}},
	})
}

func manyArgs(n int) map[string]any {
	args := map[string]any{"key": "keep"}
	for i := range n {
		args["unknown_argument_"+strconv.Itoa(i)] = i
	}
	return args
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// jsonEqual compares two decoded JSON values by their encoding (object keys
// encode sorted).
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
