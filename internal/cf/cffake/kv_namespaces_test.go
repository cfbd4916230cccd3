package cffake_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestNamespaceLifecycle(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)

	var created namespace
	a.json(http.MethodPost, kvBase, map[string]string{"title": "site-config"}).ok(t, &created)
	if !hex32.MatchString(created.ID) || created.Title != "site-config" || !created.SupportsURLEncoding {
		t.Fatalf("created %+v", created)
	}

	var got namespace
	a.get(kvBase+"/"+created.ID).ok(t, &got)
	if got != created {
		t.Fatalf("get = %+v, want %+v", got, created)
	}

	var renamed namespace
	a.json(http.MethodPut, kvBase+"/"+created.ID, map[string]string{"title": "renamed"}).ok(t, &renamed)
	if renamed.ID != created.ID || renamed.Title != "renamed" {
		t.Fatalf("renamed = %+v", renamed)
	}
	// Renaming to its own title is not a conflict.
	a.json(http.MethodPut, kvBase+"/"+created.ID, map[string]string{"title": "renamed"}).ok(t, nil)

	a.put(created.ID, "k", "v").ok(t, nil)
	r := a.do(http.MethodDelete, kvBase+"/"+created.ID, nil).ok(t, nil)
	if string(r.env.Result) != "null" {
		t.Fatalf("delete result = %s, want null", r.env.Result)
	}
	a.get(kvBase+"/"+created.ID).fails(t, 404, 10013)
	a.value(created.ID, "k").fails(t, 404, 10013)
	a.do(http.MethodDelete, kvBase+"/"+created.ID, nil).fails(t, 404, 10013)
}

func TestNamespaceRejections(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	id := a.createNamespace("taken")
	other := a.createNamespace("other")
	missing := strings.Repeat("a", 32)

	tests := []struct {
		name   string
		call   func() *response
		status int
		code   int
	}{
		{"duplicate title", func() *response { return a.json(http.MethodPost, kvBase, map[string]string{"title": "taken"}) }, 400, 10014},
		{"rename onto a taken title", func() *response {
			return a.json(http.MethodPut, kvBase+"/"+other, map[string]string{"title": "taken"})
		}, 400, 10014},
		{"missing title", func() *response { return a.json(http.MethodPost, kvBase, map[string]string{}) }, 400, 10019},
		{"empty title", func() *response { return a.json(http.MethodPost, kvBase, map[string]string{"title": ""}) }, 400, 10019},
		{"malformed JSON", func() *response { return a.do(http.MethodPost, kvBase, strings.NewReader(`{"title":`)) }, 400, 6007},
		{"title of the wrong type", func() *response { return a.do(http.MethodPost, kvBase, strings.NewReader(`{"title":5}`)) }, 400, 6007},
		{"malformed rename body", func() *response { return a.do(http.MethodPut, kvBase+"/"+id, strings.NewReader(`[`)) }, 400, 6007},
		{"unknown namespace", func() *response { return a.get(kvBase + "/" + missing) }, 404, 10013},
		{"rename unknown namespace", func() *response {
			return a.json(http.MethodPut, kvBase+"/"+missing, map[string]string{"title": "x"})
		}, 404, 10013},
		{"malformed namespace id", func() *response { return a.get(kvBase + "/not-a-namespace") }, 400, 10011},
		{"uppercase namespace id parses but is not found", func() *response { return a.get(kvBase + "/" + strings.ToUpper(id)) }, 404, 10013},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call().fails(t, tt.status, tt.code)
		})
	}
}

func TestListNamespacesPaginates(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	var titles []string
	for i := range 12 {
		title := fmt.Sprintf("ns-%02d", i)
		titles = append(titles, title)
		a.createNamespace(title)
	}
	var got []string
	for pageNo := 1; pageNo <= 4; pageNo++ {
		var page []namespace
		var info pageInfo
		r := a.get(fmt.Sprintf("%s?per_page=5&page=%d", kvBase, pageNo)).ok(t, &page)
		r.info(t, &info)
		wantCount := []int{5, 5, 2, 0}[pageNo-1]
		if len(page) != wantCount || info.Count != wantCount || info.TotalCount != 12 || info.Page != pageNo || info.PerPage != 5 {
			t.Fatalf("page %d: %d namespaces, result_info %+v", pageNo, len(page), info)
		}
		for _, ns := range page {
			got = append(got, ns.Title)
		}
	}
	if !slices.Equal(got, titles) {
		t.Fatalf("titles = %v, want %v", got, titles)
	}

	var desc []namespace
	a.get(kvBase+"?order=title&direction=desc&per_page=5").ok(t, &desc)
	if desc[0].Title != "ns-11" || desc[4].Title != "ns-07" {
		t.Fatalf("desc by title starts %s … %s", desc[0].Title, desc[4].Title)
	}
	var byID []namespace
	a.get(kvBase+"?order=id&per_page=100").ok(t, &byID)
	if !slices.IsSortedFunc(byID, func(x, y namespace) int { return strings.Compare(x.ID, y.ID) }) || len(byID) != 12 {
		t.Fatalf("order=id is not sorted by id")
	}
	var def []namespace
	var info pageInfo
	a.get(kvBase).ok(t, &def).info(t, &info)
	if info.PerPage != 20 || info.Page != 1 || len(def) != 12 {
		t.Fatalf("defaults: %+v with %d namespaces", info, len(def))
	}
}

func TestListNamespacesRejectsOutOfBounds(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	tests := []struct {
		query string
		code  int
	}{
		{"per_page=4", 10008},
		{"per_page=101", 10008},
		{"per_page=ten", 10008},
		{"per_page=", 10008},
		{"page=0", 10007},
		{"page=1.5", 10007},
		{"order=created", 10029},
		{"direction=sideways", 10029},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a.get(kvBase+"?"+tt.query).fails(t, 400, tt.code)
		})
	}
	for _, q := range []string{"per_page=5", "per_page=100", "page=99"} {
		t.Run(q, func(t *testing.T) { a.get(kvBase+"?"+q).ok(t, nil) })
	}
}
