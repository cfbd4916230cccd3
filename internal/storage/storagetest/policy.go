package storagetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// policyFixture is one namespace and one bucket, each holding "k", written
// through an unrestricted store.
type policyFixture struct {
	ns     storage.Namespace
	bucket string
}

func seed(t *testing.T, b storage.Backend, hint string) policyFixture {
	t.Helper()
	rw := storage.Guard(b, storage.Policy{})
	ns := mustCreateNS(t, rw, hint)
	p := kvPut("k", []byte("v"))
	p.Metadata = json.RawMessage(`{"m":1}`)
	mustPutKVWith(t, rw, ns.ID, p)
	bucket := mustCreateBucket(t, rw, hint)
	mustPutObject(t, rw, bucket, "k", []byte("object"))
	return policyFixture{ns: ns, bucket: bucket}
}

type namedOp struct {
	name string
	op   func(t *testing.T) error
}

func (s *suite) readOnly(t *testing.T) {
	s.testBackend(t, "WritesRefused", func(t *testing.T, b storage.Backend) {
		f := seed(t, b, "ro")
		ro := storage.Guard(b, storage.Policy{ReadOnly: true})
		if !ro.ReadOnly() {
			t.Error("Store.ReadOnly() is false under a read-only policy")
		}
		kv, r2 := ro.KV(), ro.R2()
		src := storage.ObjectRef{Bucket: f.bucket, Key: "k"}
		writes := []namedOp{
			{"CreateNamespace", func(t *testing.T) error { return nil2(kv.CreateNamespace(t.Context(), nsTitle(t, "ro new"))) }},
			{"RenameNamespace", func(t *testing.T) error { return kv.RenameNamespace(t.Context(), f.ns.ID, nsTitle(t, "ro renamed")) }},
			{"DeleteNamespace", func(t *testing.T) error { return kv.DeleteNamespace(t.Context(), f.ns.ID) }},
			{"Put", func(t *testing.T) error { return kv.Put(t.Context(), f.ns.ID, kvPut("k", []byte("changed"))) }},
			{"PutNew", func(t *testing.T) error { return kv.Put(t.Context(), f.ns.ID, kvPut("new", []byte("x"))) }},
			{"Delete", func(t *testing.T) error { return kv.Delete(t.Context(), f.ns.ID, "k") }},
			{"BulkPut", func(t *testing.T) error {
				return nil2(kv.BulkPut(t.Context(), f.ns.ID, []storage.KVEntry{{Key: "k", Value: []byte("x")}, {Key: "n", Value: []byte("y")}}))
			}},
			{"BulkDelete", func(t *testing.T) error { return nil2(kv.BulkDelete(t.Context(), f.ns.ID, []string{"k"})) }},
			{"CreateBucket", func(t *testing.T) error {
				return nil2(r2.CreateBucket(t.Context(), storage.BucketSpec{Name: bucketName(t, "ro-new")}))
			}},
			{"DeleteBucket", func(t *testing.T) error { return r2.DeleteBucket(t.Context(), f.bucket) }},
			{"PutObject", func(t *testing.T) error {
				return nil2(r2.PutObject(t.Context(), objPut(f.bucket, "k", []byte("changed"))))
			}},
			{"PutObjectNew", func(t *testing.T) error { return nil2(r2.PutObject(t.Context(), objPut(f.bucket, "new", nil))) }},
			{"CopyObject", func(t *testing.T) error {
				return nil2(r2.CopyObject(t.Context(), src, storage.ObjectRef{Bucket: f.bucket, Key: "copy"}))
			}},
			{"DeleteObjects", func(t *testing.T) error { return nil2(r2.DeleteObjects(t.Context(), f.bucket, []string{"k"})) }},
			{"PresignPUT", func(t *testing.T) error {
				return nil2(r2.Presign(t.Context(), storage.PresignRequest{Bucket: f.bucket, Key: "k", Method: "PUT", Expires: time.Hour}))
			}},
		}
		before := snapshot(t, b)
		for _, w := range writes {
			t.Run(w.name, func(t *testing.T) {
				wantErr(t, w.op(t), storage.CodeReadOnly, "")
			})
		}
		wantUnchanged(t, b, before, "writes under a read-only policy")
	})

	s.testBackend(t, "ReadsWork", func(t *testing.T, b storage.Backend) {
		f := seed(t, b, "ro reads")
		ro := storage.Guard(b, storage.Policy{ReadOnly: true})
		kv, r2, ctx := ro.KV(), ro.R2(), t.Context()
		before := snapshot(t, b)

		if !slices.Contains(listNamespaces(t, ro, 0), f.ns) {
			t.Errorf("ListNamespaces does not show %+v", f.ns)
		}
		got, err := kv.GetNamespace(ctx, f.ns.ID)
		must(t, err, "GetNamespace")
		if got != f.ns {
			t.Errorf("GetNamespace = %+v, want %+v", got, f.ns)
		}
		got, err = ro.Namespace(ctx, f.ns.Title)
		must(t, err, "Namespace(title)")
		if got.ID != f.ns.ID {
			t.Errorf("Namespace(title) = %+v, want id %s", got, f.ns.ID)
		}
		v := wantKVValue(t, ro, f.ns.ID, "k", []byte("v"))
		wantMetadata(t, "Get", v.Metadata, json.RawMessage(`{"m":1}`))
		wantStrings(t, "List", keyNames(listKeys(t, ro, f.ns.ID, storage.ListOptions{})), []string{"k"})
		items, err := kv.BulkGet(ctx, f.ns.ID, []string{"k", "absent"}, storage.BulkGetOptions{})
		must(t, err, "BulkGet")
		if len(items) != 2 || !items[0].Found || string(items[0].Value) != "v" || items[1].Found {
			t.Errorf("BulkGet = %+v", items)
		}

		if !slices.Contains(bucketNames(listBuckets(t, ro, storage.ListOptions{})), f.bucket) {
			t.Errorf("ListBuckets does not show %s", f.bucket)
		}
		_, err = r2.GetBucket(ctx, f.bucket)
		must(t, err, "GetBucket")
		wantStrings(t, "ListObjects", listObjects(t, ro, f.bucket, storage.ObjectListOptions{Delimiter: "/"}).keys(), []string{"k"})
		head, err := r2.HeadObject(ctx, f.bucket, "k")
		must(t, err, "HeadObject")
		if head.Size != 6 {
			t.Errorf("HeadObject size %d, want 6", head.Size)
		}
		wantObject(t, ro, f.bucket, "k", []byte("object"))
		part, _ := mustGetObject(t, ro, f.bucket, "k", &storage.ByteRange{Start: 1, End: 2})
		if string(part) != "bj" {
			t.Errorf("range 1-2 = %q, want %q", part, "bj")
		}
		if _, err := r2.Presign(ctx, storage.PresignRequest{Bucket: f.bucket, Key: "k", Method: "GET", Expires: time.Hour}); err != nil {
			wantErr(t, err, storage.CodeUnsupported, "")
		}
		wantUnchanged(t, b, before, "reads")
	})
}

func (s *suite) allowLists(t *testing.T) {
	s.testBackend(t, "Namespaces", func(t *testing.T, b storage.Backend) {
		rw := storage.Guard(b, storage.Policy{})
		byID := mustCreateNS(t, rw, "allowed by id")
		byTitle := mustCreateNS(t, rw, "allowed by title")
		hidden := mustCreateNS(t, rw, "hidden")
		for _, ns := range []storage.Namespace{byID, byTitle, hidden} {
			mustPutKV(t, rw, ns.ID, "k", []byte(ns.Title))
		}
		al := storage.Guard(b, storage.Policy{Namespaces: []string{byID.ID, byTitle.Title}})
		kv, ctx := al.KV(), t.Context()

		for _, limit := range []int{0, 1} {
			var ids []string
			for _, ns := range listNamespaces(t, al, limit) {
				ids = append(ids, ns.ID)
			}
			slices.Sort(ids)
			want := []string{byID.ID, byTitle.ID}
			slices.Sort(want)
			wantStrings(t, "ListNamespaces ids", ids, want)
		}

		// Allowed ones resolve by id and by title, whichever the list named.
		for _, ns := range []storage.Namespace{byID, byTitle} {
			for _, ref := range []string{ns.ID, ns.Title} {
				got, err := al.Namespace(ctx, ref)
				must(t, err, "Namespace("+ref+")")
				if got.ID != ns.ID {
					t.Errorf("Namespace(%q) = %+v, want id %s", ref, got, ns.ID)
				}
			}
			got, err := kv.GetNamespace(ctx, ns.ID)
			must(t, err, "GetNamespace of an allowed namespace")
			if got != ns {
				t.Errorf("GetNamespace = %+v, want %+v", got, ns)
			}
			wantKVValue(t, al, ns.ID, "k", []byte(ns.Title))
		}

		// Everything about the hidden one is not_found, and says nothing
		// about it beyond what the caller gave.
		before := snapshot(t, b)
		id := hidden.ID
		ops := []namedOp{
			{"NamespaceByID", func(t *testing.T) error { return nil2(al.Namespace(t.Context(), id)) }},
			{"NamespaceByTitle", func(t *testing.T) error { return nil2(al.Namespace(t.Context(), hidden.Title)) }},
			{"GetNamespace", func(t *testing.T) error { return nil2(kv.GetNamespace(t.Context(), id)) }},
			{"RenameNamespace", func(t *testing.T) error { return kv.RenameNamespace(t.Context(), id, nsTitle(t, "renamed")) }},
			{"DeleteNamespace", func(t *testing.T) error { return kv.DeleteNamespace(t.Context(), id) }},
			{"Get", func(t *testing.T) error { return nil2(kv.Get(t.Context(), id, "k")) }},
			{"Put", func(t *testing.T) error { return kv.Put(t.Context(), id, kvPut("k", []byte("x"))) }},
			{"Delete", func(t *testing.T) error { return kv.Delete(t.Context(), id, "k") }},
			{"List", func(t *testing.T) error { return nil2(kv.List(t.Context(), id, storage.ListOptions{})) }},
			{"BulkPut", func(t *testing.T) error {
				return nil2(kv.BulkPut(t.Context(), id, []storage.KVEntry{{Key: "k", Value: []byte("x")}}))
			}},
			{"BulkGet", func(t *testing.T) error {
				return nil2(kv.BulkGet(t.Context(), id, []string{"k"}, storage.BulkGetOptions{}))
			}},
			{"BulkDelete", func(t *testing.T) error { return nil2(kv.BulkDelete(t.Context(), id, []string{"k"})) }},
		}
		for _, o := range ops {
			t.Run("Hidden"+o.name, func(t *testing.T) {
				err := o.op(t)
				wantNotFound(t, err)
				if o.name != "NamespaceByTitle" && strings.Contains(err.Error(), hidden.Title) {
					t.Errorf("the error %q reveals the hidden namespace's title", err)
				}
			})
		}
		_, err := kv.CreateNamespace(ctx, nsTitle(t, "outside"))
		wantErr(t, err, storage.CodePermissionDenied, "title")
		wantUnchanged(t, b, before, "calls outside the allow-list")

		// Writes inside the allow-list work.
		mustPutKV(t, al, byTitle.ID, "k2", []byte("written"))
		wantKVValue(t, rw, byTitle.ID, "k2", []byte("written"))
	})

	s.testBackend(t, "Buckets", func(t *testing.T, b storage.Backend) {
		rw := storage.Guard(b, storage.Policy{})
		allowed := mustCreateBucket(t, rw, "allowed")
		hidden := mustCreateBucket(t, rw, "hidden")
		mustPutObject(t, rw, allowed, "k", []byte("allowed"))
		mustPutObject(t, rw, hidden, "k", []byte("hidden"))
		al := storage.Guard(b, storage.Policy{Buckets: []string{allowed}})
		r2 := al.R2()

		for _, opts := range []storage.ListOptions{{}, {Limit: 1}, {Prefix: "st-"}} {
			wantStrings(t, "ListBuckets", bucketNames(listBuckets(t, al, opts)), []string{allowed})
		}
		before := snapshot(t, b)
		in := storage.ObjectRef{Bucket: allowed, Key: "k"}
		out := storage.ObjectRef{Bucket: hidden, Key: "k"}
		ops := []namedOp{
			{"GetBucket", func(t *testing.T) error { return nil2(r2.GetBucket(t.Context(), hidden)) }},
			{"DeleteBucket", func(t *testing.T) error { return r2.DeleteBucket(t.Context(), hidden) }},
			{"ListObjects", func(t *testing.T) error {
				return nil2(r2.ListObjects(t.Context(), hidden, storage.ObjectListOptions{}))
			}},
			{"HeadObject", func(t *testing.T) error { return nil2(r2.HeadObject(t.Context(), hidden, "k")) }},
			{"GetObject", func(t *testing.T) error { return nil2(r2.GetObject(t.Context(), hidden, "k", nil)) }},
			{"PutObject", func(t *testing.T) error { return nil2(r2.PutObject(t.Context(), objPut(hidden, "k", []byte("x")))) }},
			{"CopyOut", func(t *testing.T) error {
				return nil2(r2.CopyObject(t.Context(), out, storage.ObjectRef{Bucket: allowed, Key: "stolen"}))
			}},
			{"CopyIn", func(t *testing.T) error {
				return nil2(r2.CopyObject(t.Context(), in, storage.ObjectRef{Bucket: hidden, Key: "planted"}))
			}},
			{"DeleteObjects", func(t *testing.T) error { return nil2(r2.DeleteObjects(t.Context(), hidden, []string{"k"})) }},
			{"Presign", func(t *testing.T) error {
				return nil2(r2.Presign(t.Context(), storage.PresignRequest{Bucket: hidden, Key: "k", Method: "GET", Expires: time.Hour}))
			}},
		}
		for _, o := range ops {
			t.Run("Hidden"+o.name, func(t *testing.T) {
				wantNotFound(t, o.op(t))
			})
		}
		_, err := r2.CreateBucket(t.Context(), storage.BucketSpec{Name: bucketName(t, "outside")})
		wantErr(t, err, storage.CodePermissionDenied, "")
		wantUnchanged(t, b, before, "calls outside the allow-list")

		// The allowed bucket works as usual.
		wantObject(t, al, allowed, "k", []byte("allowed"))
		mustPutObject(t, al, allowed, "k2", []byte("written"))
		_, err = r2.CopyObject(t.Context(), in, storage.ObjectRef{Bucket: allowed, Key: "k3"})
		must(t, err, "CopyObject inside the allowed bucket")
		wantStrings(t, "ListObjects", listObjects(t, al, allowed, storage.ObjectListOptions{}).keys(), []string{"k", "k2", "k3"})
	})
}
