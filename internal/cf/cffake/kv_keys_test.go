package cffake_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestListKeysOrderPrefixAndFields(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t, fixedClock())
	ns := a.createNamespace("list")
	for _, k := range []string{"b", "a", "B", "é", "ab", "a/c", "z"} {
		a.put(ns, url.PathEscape(k), "v").ok(t, nil)
	}
	body, ct := multipartBody(t, []byte("v"), `{"tag":"x"}`)
	a.do(http.MethodPut, kvBase+"/"+ns+"/values/m?expiration_ttl=300", body, "Content-Type", ct).ok(t, nil)

	keys, info := a.keys(ns, "")
	// Byte order of UTF-8: uppercase before lowercase, "é" (0xC3…) last.
	if got := strings.Join(names(keys), ","); got != "B,a,a/c,ab,b,m,z,é" {
		t.Fatalf("order = %s", got)
	}
	if info.Count != 8 || info.Cursor != "" {
		t.Fatalf("result_info = %+v", info)
	}
	m := keys[5]
	if m.Expiration != t0.Unix()+300 || string(m.Metadata) != `{"tag":"x"}` {
		t.Fatalf("m = %+v", m)
	}
	if keys[0].Expiration != 0 || keys[0].Metadata != nil {
		t.Fatalf("a key without expiry or metadata lists them: %+v", keys[0])
	}
	// The raw JSON omits absent fields rather than sending null or 0.
	raw := a.get(kvBase + "/" + ns + "/keys?prefix=B").body
	if !strings.Contains(string(raw), `"result":[{"name":"B"}]`) {
		t.Fatalf("B lists as %s", raw)
	}

	keys, _ = a.keys(ns, "prefix=a")
	if got := strings.Join(names(keys), ","); got != "a,a/c,ab" {
		t.Fatalf("prefix a = %s", got)
	}
	keys, _ = a.keys(ns, "prefix="+url.QueryEscape("é"))
	if got := strings.Join(names(keys), ","); got != "é" {
		t.Fatalf("prefix é = %s", got)
	}
	keys, _ = a.keys(ns, "prefix=nothing")
	if keys == nil || len(keys) != 0 {
		t.Fatalf("empty listing must be [], got %v", keys)
	}
}

func TestListKeysPaginates(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("pages")
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("key-%02d", i)
		want = append(want, k)
		a.put(ns, k, "v").ok(t, nil)
	}
	var got []string
	cursor := ""
	for pageNo := 0; ; pageNo++ {
		q := "limit=10"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		keys, info := a.keys(ns, q)
		if info.Count != len(keys) {
			t.Fatalf("count %d for %d keys", info.Count, len(keys))
		}
		got = append(got, names(keys)...)
		if info.Cursor == "" {
			if pageNo != 2 || len(keys) != 5 {
				t.Fatalf("last page is page %d with %d keys", pageNo, len(keys))
			}
			break
		}
		cursor = info.Cursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged keys = %v", got)
	}
}

func TestListKeysDefaultLimitIs1000(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("many")
	entries := make([]map[string]any, 1005)
	for i := range entries {
		entries[i] = map[string]any{"key": fmt.Sprintf("k%04d", i), "value": "v"}
	}
	a.json(http.MethodPut, kvBase+"/"+ns+"/bulk", entries).ok(t, nil)
	keys, info := a.keys(ns, "")
	if len(keys) != 1000 || info.Cursor == "" {
		t.Fatalf("first page: %d keys, cursor %q", len(keys), info.Cursor)
	}
	keys, info = a.keys(ns, "cursor="+url.QueryEscape(info.Cursor))
	if len(keys) != 5 || info.Cursor != "" || keys[0].Name != "k1000" {
		t.Fatalf("second page: %v, cursor %q", names(keys), info.Cursor)
	}
}

func TestListKeysRejections(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("bounds")
	tests := []struct {
		query  string
		status int
		code   int
	}{
		{"limit=9", 400, 10028},
		{"limit=0", 400, 10028},
		{"limit=1001", 400, 10028},
		{"limit=many", 400, 10028},
		{"limit=10.5", 400, 10028},
		{"cursor=bm90LWEtY3Vyc29y", 400, 10029},
		{"cursor=%25%25%25", 400, 10029},
		{"prefix=" + strings.Repeat("p", 513), 414, 10030},
	}
	for _, tt := range tests {
		t.Run(tt.query[:min(len(tt.query), 30)], func(t *testing.T) {
			a.get(kvBase+"/"+ns+"/keys?"+tt.query).fails(t, tt.status, tt.code)
		})
	}
	for _, q := range []string{"limit=10", "limit=1000", "prefix=" + strings.Repeat("p", 512)} {
		t.Run(q[:min(len(q), 30)], func(t *testing.T) {
			a.get(kvBase+"/"+ns+"/keys?"+q).ok(t, nil)
		})
	}
	a.get(kvBase+"/"+strings.Repeat("1", 32)+"/keys").fails(t, 404, 10013)
}

// A cursor from the bucket listing is not a key cursor.
func TestCursorsAreNotInterchangeable(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	for i := range 3 {
		a.createBucket(fmt.Sprintf("bucket-%d", i))
	}
	var info struct{ Cursor string }
	a.get(r2Base+"?per_page=1").ok(t, nil).info(t, &info)
	ns := a.createNamespace("c")
	a.get(kvBase+"/"+ns+"/keys?cursor="+url.QueryEscape(info.Cursor)).fails(t, 400, 10029)
}
