package cffake_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

func TestBucketLifecycle(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t, fixedClock())

	b := a.createBucket("photos")
	want := bucket{Name: "photos", CreationDate: "2026-11-27T12:00:00.000Z", Location: "enam", StorageClass: "Standard", Jurisdiction: "default"}
	if b != want {
		t.Fatalf("created %+v, want %+v", b, want)
	}
	var got bucket
	a.get(r2Base+"/photos").ok(t, &got)
	if got != want {
		t.Fatalf("get %+v", got)
	}

	var withOpts bucket
	a.json(http.MethodPost, r2Base, map[string]string{"name": "archive", "locationHint": "apac", "storageClass": "InfrequentAccess"}).ok(t, &withOpts)
	if withOpts.Location != "apac" || withOpts.StorageClass != "InfrequentAccess" {
		t.Fatalf("with options %+v", withOpts)
	}

	// A non-empty bucket cannot be deleted.
	if err := srv.SetBucketObjectCount(acct, "", "photos", 3); err != nil {
		t.Fatal(err)
	}
	a.do(http.MethodDelete, r2Base+"/photos", nil).fails(t, 409, 10008)
	a.get(r2Base+"/photos").ok(t, nil)
	if err := srv.SetBucketObjectCount(acct, "", "photos", 0); err != nil {
		t.Fatal(err)
	}
	r := a.do(http.MethodDelete, r2Base+"/photos", nil).ok(t, nil)
	if string(r.env.Result) != "{}" {
		t.Fatalf("delete result = %s, want {}", r.env.Result)
	}
	a.get(r2Base+"/photos").fails(t, 404, 10006)
	a.do(http.MethodDelete, r2Base+"/photos", nil).fails(t, 404, 10006)
	if err := srv.SetBucketObjectCount(acct, "", "photos", 1); err == nil {
		t.Fatal("SetBucketObjectCount accepted a bucket that does not exist")
	}
}

func TestBucketRejections(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	a.createBucket("taken")
	create := func(body map[string]string, header ...string) func() *response {
		return func() *response { return a.json(http.MethodPost, r2Base, body, header...) }
	}
	name := func(n string) func() *response { return create(map[string]string{"name": n}) }
	tests := []struct {
		name   string
		call   func() *response
		status int
		code   int // 0: success
	}{
		{"duplicate", name("taken"), 409, 10004},
		{"63 characters", name(strings.Repeat("a", 63)), 200, 0},
		{"64 characters", name(strings.Repeat("a", 64)), 400, 10005},
		{"2 characters", name("ab"), 400, 10005},
		{"uppercase", name("Photos"), 400, 10005},
		{"underscore", name("my_bucket"), 400, 10005},
		{"dot", name("my.bucket"), 400, 10005},
		{"leading hyphen", name("-abc"), 400, 10005},
		{"trailing hyphen", name("abc-"), 400, 10005},
		{"inner hyphens", name("a--b-c"), 200, 0},
		{"digits", name("123"), 200, 0},
		{"no name", create(map[string]string{}), 400, 10005},
		{"location hint oc", create(map[string]string{"name": "oc-bucket", "locationHint": "oc"}), 200, 0},
		{"bad location hint", create(map[string]string{"name": "x-bucket", "locationHint": "mars"}), 400, 10029},
		{"uppercase location hint", create(map[string]string{"name": "x-bucket", "locationHint": "WNAM"}), 400, 10029},
		{"bad storage class", create(map[string]string{"name": "x-bucket", "storageClass": "Glacier"}), 400, 10029},
		{"bad jurisdiction", create(map[string]string{"name": "x-bucket"}, "cf-r2-jurisdiction", "mars"), 400, 10029},
		{"malformed JSON", func() *response { return a.do(http.MethodPost, r2Base, strings.NewReader("{")) }, 400, 6007},
		{"get with an invalid name", func() *response { return a.get(r2Base + "/Not_Valid") }, 400, 10005},
		{"delete with an invalid name", func() *response { return a.do(http.MethodDelete, r2Base+"/ab", nil) }, 400, 10005},
		{"get a missing bucket", func() *response { return a.get(r2Base + "/missing") }, 404, 10006},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.call()
			if tt.code == 0 {
				r.ok(t, nil)
				return
			}
			r.fails(t, tt.status, tt.code)
		})
	}
}

func TestBucketJurisdictions(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	eu := []string{"cf-r2-jurisdiction", "eu"}
	a.createBucket("shared")
	b := a.createBucket("shared", eu...) // a separate namespace per jurisdiction
	if b.Jurisdiction != "eu" || b.Location != "weur" {
		t.Fatalf("EU bucket %+v", b)
	}
	a.createBucket("eu-only", eu...)
	a.json(http.MethodPost, r2Base, map[string]string{"name": "eu-only"}, eu...).fails(t, 409, 10004)

	list := func(header ...string) []string {
		t.Helper()
		var res struct{ Buckets []bucket }
		a.get(r2Base, header...).ok(t, &res)
		var out []string
		for _, b := range res.Buckets {
			out = append(out, b.Name+"/"+b.Jurisdiction)
		}
		return out
	}
	if got := list(); !slices.Equal(got, []string{"shared/default"}) {
		t.Fatalf("default jurisdiction lists %v", got)
	}
	if got := list(eu...); !slices.Equal(got, []string{"eu-only/eu", "shared/eu"}) {
		t.Fatalf("eu jurisdiction lists %v", got)
	}
	if got := list("cf-r2-jurisdiction", "fedramp"); len(got) != 0 {
		t.Fatalf("fedramp lists %v", got)
	}
	a.get(r2Base+"/eu-only").fails(t, 404, 10006)
	a.get(r2Base+"/eu-only", eu...).ok(t, nil)

	if err := srv.SetBucketObjectCount(acct, "eu", "shared", 1); err != nil {
		t.Fatal(err)
	}
	a.do(http.MethodDelete, r2Base+"/shared", nil, eu...).fails(t, 409, 10008)
	a.do(http.MethodDelete, r2Base+"/shared", nil).ok(t, nil) // the default one is empty
}

func TestListBucketsPaginates(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	var all []string
	for i := range 7 {
		n := fmt.Sprintf("bucket-%d", i)
		all = append(all, n)
		a.createBucket(n)
	}
	a.createBucket("other")

	type info struct {
		Cursor  string `json:"cursor"`
		PerPage int    `json:"per_page"`
	}
	walk := func(query string) []string {
		t.Helper()
		var got []string
		cursor := ""
		for range 20 {
			q := query
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			var res struct{ Buckets []bucket }
			var inf info
			a.get(r2Base+"?"+q).ok(t, &res).info(t, &inf)
			for _, b := range res.Buckets {
				got = append(got, b.Name)
			}
			if inf.Cursor == "" {
				return got
			}
			cursor = inf.Cursor
		}
		t.Fatal("pagination does not end")
		return nil
	}
	if got := walk("per_page=3&name_contains=bucket"); !slices.Equal(got, all) {
		t.Fatalf("asc = %v", got)
	}
	desc := slices.Clone(all)
	slices.Reverse(desc)
	if got := walk("per_page=2&name_contains=bucket&direction=desc&order=name"); !slices.Equal(got, desc) {
		t.Fatalf("desc = %v", got)
	}
	if got := walk("per_page=10&start_after=bucket-4"); !slices.Equal(got, []string{"bucket-5", "bucket-6", "other"}) {
		t.Fatalf("start_after = %v", got)
	}
	if got := walk("per_page=10&start_after=bucket-2&direction=desc"); !slices.Equal(got, []string{"bucket-1", "bucket-0"}) {
		t.Fatalf("start_after desc = %v", got)
	}
	var inf info
	a.get(r2Base).ok(t, nil).info(t, &inf)
	if inf.PerPage != 20 || inf.Cursor != "" {
		t.Fatalf("default result_info %+v", inf)
	}
	var empty struct{ Buckets []bucket }
	r := a.get(r2Base+"?name_contains=zzz").ok(t, &empty)
	if empty.Buckets == nil || !strings.Contains(string(r.env.Result), `"buckets":[]`) {
		t.Fatalf("empty listing = %s", r.env.Result)
	}

	for _, q := range []string{"per_page=0", "per_page=1001", "per_page=x", "order=created", "direction=up", "cursor=bogus!"} {
		t.Run(q, func(t *testing.T) { a.get(r2Base+"?"+q).fails(t, 400, 10029) })
	}
	for _, q := range []string{"per_page=1", "per_page=1000"} {
		t.Run(q, func(t *testing.T) { a.get(r2Base+"?"+q).ok(t, nil) })
	}
}

func TestBucketHooks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []string
	objects := map[string]int{}
	fail := false
	record := func(what string, b cffake.BucketRef) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, what+" "+b.Jurisdiction+"/"+b.Name)
		if fail {
			return errors.New("store is down")
		}
		return nil
	}
	a, _ := newAPI(t, cffake.WithBucketHooks(cffake.BucketHooks{
		Created: func(b cffake.BucketRef) error { return record("created", b) },
		Deleted: func(b cffake.BucketRef) error { return record("deleted", b) },
		ObjectCount: func(b cffake.BucketRef) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			if b.AccountID != acct {
				return 0, errors.New("wrong account")
			}
			return objects[b.Name], nil
		},
	}))
	a.createBucket("hooked")
	mu.Lock()
	objects["hooked"] = 2
	mu.Unlock()
	a.do(http.MethodDelete, r2Base+"/hooked", nil).fails(t, 409, 10008)
	mu.Lock()
	objects["hooked"] = 0
	mu.Unlock()
	a.do(http.MethodDelete, r2Base+"/hooked", nil).ok(t, nil)

	mu.Lock()
	fail = true
	mu.Unlock()
	a.json(http.MethodPost, r2Base, map[string]string{"name": "doomed"}).fails(t, 500, 10001)
	a.get(r2Base+"/doomed").fails(t, 404, 10006)

	want := []string{"created default/hooked", "deleted default/hooked", "created default/doomed"}
	if !slices.Equal(events, want) {
		t.Fatalf("events = %v", events)
	}
}

// Concurrent writers and readers leave consistent state (run with -race).
// The goroutines use plain requests and t.Errorf: t.Fatal belongs to the
// test's own goroutine.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	ns := a.createNamespace("concurrent")
	send := func(method, path, body string) (int, string, error) {
		req, err := http.NewRequest(method, srv.BaseURL()+path, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Authorization", "Bearer "+cffake.DefaultToken)
		res, err := srv.Client().Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		return res.StatusCode, string(data), err
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				k := fmt.Sprintf("w%d-k%d", w, i)
				path := kvBase + "/" + ns + "/values/" + k
				if status, body, err := send(http.MethodPut, path, k); err != nil || status != 200 {
					t.Errorf("PUT %s: %d %s %v", k, status, body, err)
				}
				if status, body, err := send(http.MethodGet, path, ""); err != nil || status != 200 || body != k {
					t.Errorf("GET %s: %d %q %v", k, status, body, err)
				}
				if status, body, err := send(http.MethodGet, kvBase+"/"+ns+"/keys?limit=10", ""); err != nil || status != 200 {
					t.Errorf("list: %d %s %v", status, body, err)
				}
				srv.Advance(time.Millisecond)
				_ = srv.Requests()
			}
			body := fmt.Sprintf(`{"name":"bucket-%d"}`, w)
			if status, resp, err := send(http.MethodPost, r2Base, body); err != nil || status != 200 {
				t.Errorf("create bucket: %d %s %v", status, resp, err)
			}
		})
	}
	wg.Wait()
	keys, _ := a.keys(ns, "")
	if len(keys) != 160 {
		t.Fatalf("%d keys after concurrent writes", len(keys))
	}
}
