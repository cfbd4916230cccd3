package cffake_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// Keys with characters that mean something in a URL round-trip when the
// client escapes them with url.PathEscape, and only then.
func TestEscapedKeysRoundTrip(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("escaping")
	keys := []string{
		"a/b", "/leading", "trailing/", "a//b", "q?x", "frag#ment", "100%", "%2F", "with space",
		"plus+sign", "é-ü-日本", "emoji-🙂", "../up", "a\\b", "semi;colon", "amp&eq=", "tab\tkey",
	}
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			esc := url.PathEscape(k)
			a.put(ns, esc, "value of "+k).ok(t, nil)
			if r := a.value(ns, esc); r.status != 200 || string(r.body) != "value of "+k {
				t.Fatalf("GET %s = %d %q", esc, r.status, r.body)
			}
		})
	}
	listed, _ := a.keys(ns, "")
	got := names(listed)
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %q, want %q", got, want)
	}
	// Metadata and delete take the key the same way.
	for _, k := range keys {
		a.get(kvBase+"/"+ns+"/metadata/"+url.PathEscape(k)).ok(t, nil)
		a.do(http.MethodDelete, kvBase+"/"+ns+"/values/"+url.PathEscape(k), nil).ok(t, nil)
	}
	if left, _ := a.keys(ns, ""); len(left) != 0 {
		t.Fatalf("left after deleting: %v", names(left))
	}
}

// Unescaped, the same keys go wrong the way they go wrong at Cloudflare.
func TestUnescapedKeysMisroute(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	ns := a.createNamespace("misrouting")
	putRoute := "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"

	// "/" splits the key into two segments: no such route.
	a.put(ns, "a/b", "v").fails(t, 404, 7003)
	a.value(ns, "a/b").fails(t, 404, 7003)
	a.do(http.MethodDelete, kvBase+"/"+ns+"/values/a/b", nil).fails(t, 404, 7003)
	if n := srv.Count(putRoute); n != 0 {
		t.Fatalf("the PUT route was reached %d times", n)
	}

	// "?" starts the query: the value is written to "q".
	a.put(ns, "q?x", "v").ok(t, nil)
	// "#" starts a fragment, which a client never sends: written to "frag".
	a.put(ns, "frag#ment", "v").ok(t, nil)
	listed, _ := a.keys(ns, "")
	if got := names(listed); !slices.Equal(got, []string{"frag", "q"}) {
		t.Fatalf("keys = %q, want the truncated keys", got)
	}
	// A "%" that happens to form an escape is decoded: "%2F" is "/".
	a.put(ns, "%2F", "v").ok(t, nil)
	a.value(ns, url.PathEscape("/")).ok200(t)

	// A space may be sent raw or as %20: both are the key "with space".
	a.put(ns, "with%20space", "v").ok(t, nil)
	a.value(ns, url.PathEscape("with space")).ok200(t)

	// The log shows the path exactly as sent.
	var paths []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPut {
			paths = append(paths, r.Path)
		}
	}
	if !slices.Contains(paths, kvBase+"/"+ns+"/values/a/b") || !slices.Contains(paths, kvBase+"/"+ns+"/values/%2F") {
		t.Fatalf("logged paths %q", paths)
	}
}
