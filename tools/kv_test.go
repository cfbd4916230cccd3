package tools_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestKVNamespaceLifecycle(t *testing.T) {
	h := newHarness(t, setup{})
	created := h.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	id := created["id"].(string)
	if len(id) != 32 {
		t.Fatalf("id %q is not 32 hex digits", id)
	}
	toml := created["wrangler_toml"].(string)
	for _, want := range []string{"[[kv_namespaces]]", `binding = "SITE_CONFIG"`, `id = "` + id + `"`} {
		if !strings.Contains(toml, want) {
			t.Errorf("wrangler_toml lacks %q:\n%s", want, toml)
		}
	}
	h.Fail("create_kv_namespace", map[string]any{"title": "site-config"}, "already_exists")

	list := h.OK("list_kv_namespaces", nil)
	if ns := list["namespaces"].([]any); len(ns) != 1 || ns[0].(map[string]any)["title"] != "site-config" {
		t.Fatalf("namespaces = %v", ns)
	}

	renamed := h.OK("rename_kv_namespace", map[string]any{"namespace": "site-config", "title": "site-settings"})
	if renamed["id"] != id || renamed["title"] != "site-settings" {
		t.Fatalf("rename = %v", renamed)
	}
	h.Fail("kv_get", map[string]any{"namespace": "site-config", "key": "k"}, "not_found")

	h.OK("kv_put", map[string]any{"namespace": id, "key": "k", "value": "v"})
	msg := h.Fail("delete_kv_namespace", map[string]any{"namespace": id, "confirm": "site-config"}, "invalid_argument")
	if !strings.Contains(msg, `"site-settings"`) {
		t.Errorf("confirm error does not name the title: %s", msg)
	}
	if got := h.OK("kv_get", map[string]any{"namespace": id, "key": "k"}); got["found"] != true {
		t.Fatal("a refused delete removed data")
	}
	h.OK("delete_kv_namespace", map[string]any{"namespace": "site-settings", "confirm": "site-settings"})
	h.Fail("kv_get", map[string]any{"namespace": id, "key": "k"}, "not_found")
}

func TestKVValues(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	ns := "site-config"

	put := h.OK("kv_put", map[string]any{"namespace": ns, "key": "site-title", "value": "My Cloudflare Site",
		"expiration_ttl": 3600, "metadata": map[string]any{"owner": "web", "v": 2}})
	if put["size"] != float64(len("My Cloudflare Site")) {
		t.Errorf("put size = %v", put["size"])
	}
	exp := int64(put["expiration"].(float64))
	if now := time.Now().Unix(); exp < now+3590 || exp > now+3610 {
		t.Errorf("expiration %d is not about an hour from now", exp)
	}
	got, gotValue := h.Read("kv_get", map[string]any{"namespace": ns, "key": "site-title"})
	if got["found"] != true || gotValue != "My Cloudflare Site" || got["encoding"] != "text" {
		t.Fatalf("kv_get = %v", got)
	}
	if md := got["metadata"].(map[string]any); md["owner"] != "web" || md["v"] != float64(2) {
		t.Errorf("metadata = %v", md)
	}
	if int64(got["expiration"].(float64)) != exp {
		t.Errorf("get expiration %v != put expiration %d", got["expiration"], exp)
	}

	missing := h.OK("kv_get", map[string]any{"namespace": ns, "key": "nope"})
	if missing["found"] != false {
		t.Errorf("missing key: %v", missing)
	}

	// Every byte value survives, and auto encoding picks base64 for it.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	h.OK("kv_put", map[string]any{"namespace": ns, "key": "bytes", "value_base64": base64.StdEncoding.EncodeToString(all)})
	bin, binValue := h.Read("kv_get", map[string]any{"namespace": ns, "key": "bytes"})
	if bin["encoding"] != "base64" {
		t.Fatalf("binary value encoding = %v", bin["encoding"])
	}
	if dec, _ := base64.StdEncoding.DecodeString(binValue); string(dec) != string(all) {
		t.Fatal("binary value changed on the way through")
	}
	h.Fail("kv_get", map[string]any{"namespace": ns, "key": "bytes", "encoding": "text"}, "invalid_argument")

	// JSON values can come back parsed.
	h.OK("kv_put", map[string]any{"namespace": ns, "key": "flags", "value": `{"beta": true}`})
	js, jsValue := h.Read("kv_get", map[string]any{"namespace": ns, "key": "flags", "encoding": "json"})
	var v map[string]any
	if err := json.Unmarshal([]byte(jsValue), &v); err != nil || v["beta"] != true || js["encoding"] != "json" {
		t.Errorf("json value = %v (%v)", jsValue, js)
	}

	// An empty value is a value.
	h.OK("kv_put", map[string]any{"namespace": ns, "key": "empty", "value": ""})
	if e := h.OK("kv_get", map[string]any{"namespace": ns, "key": "empty"}); e["found"] != true {
		t.Errorf("empty value: %v", e)
	}

	h.OK("kv_delete", map[string]any{"namespace": ns, "key": "site-title"})
	h.OK("kv_delete", map[string]any{"namespace": ns, "key": "site-title"}) // idempotent
	if g := h.OK("kv_get", map[string]any{"namespace": ns, "key": "site-title"}); g["found"] != false {
		t.Error("deleted key still found")
	}
}

func TestKVListPages(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_kv_namespace", map[string]any{"title": "cfg"})
	var entries []any
	for i := range 25 {
		entries = append(entries, map[string]any{"key": fmt.Sprintf("config:%02d", i), "value": fmt.Sprint(i)})
	}
	entries = append(entries, map[string]any{"key": "other", "value": "x"})
	if res := h.OK("kv_bulk_put", map[string]any{"namespace": "cfg", "entries": entries}); res["written"] != float64(26) {
		t.Fatalf("bulk put = %v", res)
	}
	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("listing does not end")
		}
		args := map[string]any{"namespace": "cfg", "prefix": "config:", "limit": 10}
		if cursor != "" {
			args["cursor"] = cursor
		}
		page := h.OK("kv_list", args)
		for _, k := range page["keys"].([]any) {
			names = append(names, k.(map[string]any)["name"].(string))
		}
		c, ok := page["cursor"].(string)
		if !ok || c == "" {
			break
		}
		cursor = c
	}
	if len(names) != 25 || names[0] != "config:00" || names[24] != "config:24" {
		t.Fatalf("listed %d keys: %v", len(names), names)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Fatalf("keys out of order: %q before %q", names[i-1], names[i])
		}
	}
	got := h.OK("kv_bulk_get", map[string]any{"namespace": "cfg", "keys": []string{"config:03", "missing", "other"}})
	vals := got["values"].([]any)
	if len(vals) != 3 || vals[0].(map[string]any)["value"] != "3" || vals[1].(map[string]any)["found"] != false ||
		vals[2].(map[string]any)["value"] != "x" {
		t.Fatalf("bulk get = %v", vals)
	}
	del := h.OK("kv_bulk_delete", map[string]any{"namespace": "cfg", "keys": []string{"config:00", "config:01", "absent"}})
	if del["deleted"] != float64(3) {
		t.Errorf("bulk delete = %v", del)
	}
	if g := h.OK("kv_get", map[string]any{"namespace": "cfg", "key": "config:00"}); g["found"] != false {
		t.Error("bulk-deleted key still there")
	}
}

func TestKVFilesStreamAndConfine(t *testing.T) {
	h := newHarness(t, setup{maxInline: 64})
	h.OK("create_kv_namespace", map[string]any{"title": "files"})
	big := strings.Repeat("0123456789abcdef", 64) // 1 KiB, over the 64-byte inline cap
	src := filepath.Join(h.root, "big.txt")
	if err := os.WriteFile(src, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	h.OK("kv_put", map[string]any{"namespace": "files", "key": "big", "file_path": src})
	msg := h.Fail("kv_get", map[string]any{"namespace": "files", "key": "big"}, "too_large")
	if !strings.Contains(msg, "save_to") || !strings.Contains(msg, "64") {
		t.Errorf("too_large message should name the limit and save_to: %s", msg)
	}
	saved := h.OK("kv_get", map[string]any{"namespace": "files", "key": "big", "save_to": "out/../copy.txt"})
	data, err := os.ReadFile(filepath.Join(h.root, "copy.txt"))
	if err != nil || string(data) != big {
		t.Fatalf("saved file differs (err %v); result %v", err, saved)
	}
	h.Fail("kv_put", map[string]any{"namespace": "files", "key": "x", "file_path": "/etc/hostname"}, "permission_denied")
	h.Fail("kv_get", map[string]any{"namespace": "files", "key": "big", "save_to": "../escape.txt"}, "permission_denied")
	if _, err := os.Stat(filepath.Join(filepath.Dir(h.root), "escape.txt")); err == nil {
		t.Fatal("save_to wrote outside the root")
	}
	if g := h.OK("kv_get", map[string]any{"namespace": "files", "key": "x"}); g["found"] != false {
		t.Fatal("a refused file_path stored a value")
	}
}

// A value near KV's 25 MiB limit goes in from file_path and out to save_to
// without the server holding it in memory: what the whole round trip
// allocates stays far below the value's size.
func TestKVLargeValueStreams(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_kv_namespace", map[string]any{"title": "files"})
	const size = 24 << 20
	src := filepath.Join(h.root, "big.bin")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h.OK("kv_put", map[string]any{"namespace": "files", "key": "big", "file_path": src})
	got := h.OK("kv_get", map[string]any{"namespace": "files", "key": "big", "save_to": "copy.bin"})
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/3 {
		t.Errorf("a %d-byte value allocated %d bytes on its way in and out: it is held in memory", size, alloc)
	} else {
		t.Logf("a %d MiB value in and out: %d KiB allocated", size>>20, alloc>>10)
	}
	copied, err := os.ReadFile(filepath.Join(h.root, "copy.bin"))
	if err != nil || !bytes.Equal(copied, data) {
		t.Fatalf("saved value differs (err %v); result %v", err, got)
	}
}

// kv_bulk_get returns values inline, so their sum is capped by
// --max-inline-bytes: over it, too_large names the limit and the way out.
func TestKVBulkGetInlineLimit(t *testing.T) {
	h := newHarness(t, setup{maxInline: 100})
	h.OK("create_kv_namespace", map[string]any{"title": "cap"})
	h.OK("kv_put", map[string]any{"namespace": "cap", "key": "a", "value": strings.Repeat("a", 60)})
	h.OK("kv_put", map[string]any{"namespace": "cap", "key": "b", "value": strings.Repeat("b", 40)})
	h.OK("kv_put", map[string]any{"namespace": "cap", "key": "c", "value": "c"})
	if got := h.OK("kv_bulk_get", map[string]any{"namespace": "cap", "keys": []string{"a", "b", "missing"}}); len(got["values"].([]any)) != 3 {
		t.Errorf("100 bytes under a 100-byte limit: %v", got)
	}
	msg := h.Fail("kv_bulk_get", map[string]any{"namespace": "cap", "keys": []string{"a", "b", "c"}}, "too_large")
	for _, want := range []string{"keys", "100", "--max-inline-bytes", "kv_get", "save_to"} {
		if !strings.Contains(msg, want) {
			t.Errorf("too_large message lacks %q: %s", want, msg)
		}
	}
}
