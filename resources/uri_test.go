package resources

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

var templateRegexps = map[string]*regexp.Regexp{
	TemplateR2: mcp.NewResourceTemplate(TemplateR2, "t").URITemplate.Regexp(),
	TemplateKV: mcp.NewResourceTemplate(TemplateKV, "t").URITemplate.Regexp(),
}

func checkRoundTrip(t *testing.T, container, key string) {
	t.Helper()
	for _, tc := range []struct {
		scheme, template, uri string
	}{
		{schemeR2, TemplateR2, ObjectURI(container, key)},
		{schemeKV, TemplateKV, KeyURI(container, key)},
	} {
		// Every URI this package makes must reach its template in mcp-go,
		// or reads of it would answer "not found".
		if !templateRegexps[tc.template].MatchString(tc.uri) {
			t.Fatalf("%q does not match %s", tc.uri, tc.template)
		}
		r, err := parseURI(tc.uri)
		if err != nil {
			t.Fatalf("parse %q: %v", tc.uri, err)
		}
		folder := key == "" || strings.HasSuffix(key, "/")
		if r.scheme != tc.scheme || r.container != container || r.key != key || r.folder != folder || r.cursor != "" {
			t.Fatalf("parse %q = %+v, want container %q key %q folder %v", tc.uri, r, container, key, folder)
		}
		if folder {
			next := withCursor(tc.uri, "c/+ =&?#%")
			if !templateRegexps[tc.template].MatchString(next) {
				t.Fatalf("%q does not match %s", next, tc.template)
			}
			if r, err := parseURI(next); err != nil || r.cursor != "c/+ =&?#%" || r.key != key {
				t.Fatalf("parse %q = %+v, %v", next, r, err)
			}
		}
	}
}

func TestURIRoundTrip(t *testing.T) {
	for _, key := range []string{"", "a", "a/", "photos/2026/", "a b", "a?b", "a#b", "100%", "%2F", "a+b=c&d;e,f:g@h$i",
		"ünï/日本語", "a//b", "./../x", "\x00\xff", "trailing/ /", "[x]{y}|\\^`\"<>'"} {
		checkRoundTrip(t, "my-bucket", key)
		checkRoundTrip(t, "site config: prod/eu?", key)
	}
	if got := ObjectURI("b", "odd keys/a b?c#d%e"); got != "r2://b/odd%20keys/a%20b%3Fc%23d%25e" {
		t.Errorf("ObjectURI = %s", got)
	}
}

func FuzzURIRoundTrip(f *testing.F) {
	f.Add("bucket", "photos/2026/a b?.jpg")
	f.Add("site:config", "%zz/#/?/")
	f.Fuzz(func(t *testing.T, container, key string) {
		if container == "" {
			return
		}
		checkRoundTrip(t, container, key)
	})
}

func TestParseURIRefusals(t *testing.T) {
	for _, uri := range []string{
		"s3://bucket/key", "r2:/bucket/key", "r2:///key", "r2://b/%zz", "r2://b/a#b", "r2://b/key?cursor=x",
		"r2://b/dir/?limit=1", "r2://b/dir/?cursor=%zz",
	} {
		if r, err := parseURI(uri); err == nil {
			t.Errorf("%s parsed as %+v", uri, r)
		}
	}
}
