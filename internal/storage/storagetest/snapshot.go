package storagetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// state is everything a backend holds, as far as the API shows it: used to
// prove that a refused call changed nothing.
type state struct {
	Namespaces map[string]string            // id -> title
	Keys       map[string]map[string]string // namespace id -> key -> value summary
	Buckets    map[string]string            // name -> storage class
	Objects    map[string]map[string]string // bucket -> key -> object summary
}

// snapshot reads the whole state of b through an unrestricted store.
func snapshot(t *testing.T, b storage.Backend) state {
	t.Helper()
	st := storage.Guard(b, storage.Policy{})
	s := state{
		Namespaces: map[string]string{},
		Keys:       map[string]map[string]string{},
		Buckets:    map[string]string{},
		Objects:    map[string]map[string]string{},
	}
	for _, ns := range listNamespaces(t, st, 0) {
		s.Namespaces[ns.ID] = ns.Title
		keys := map[string]string{}
		for _, k := range listKeys(t, st, ns.ID, storage.ListOptions{Limit: storage.MaxKVListLimit}) {
			v, err := st.KV().Get(t.Context(), ns.ID, k.Name)
			must(t, err, fmt.Sprintf("snapshot: Get %q", k.Name))
			d, err := digestOf(v.Body)
			v.Body.Close()
			must(t, err, "snapshot: reading "+k.Name)
			keys[k.Name] = fmt.Sprintf("size=%d sha256=%s meta=%s exp=%d", d.Size, d.SHA256, v.Metadata, v.Expiration)
		}
		s.Keys[ns.ID] = keys
	}
	for _, b := range listBuckets(t, st, storage.ListOptions{Limit: storage.MaxBucketList}) {
		s.Buckets[b.Name] = b.StorageClass
		objs := map[string]string{}
		for _, o := range listObjects(t, st, b.Name, storage.ObjectListOptions{Limit: storage.MaxObjectList}).Objects {
			head, err := st.R2().HeadObject(t.Context(), b.Name, o.Key)
			must(t, err, fmt.Sprintf("snapshot: HeadObject %q", o.Key))
			objs[o.Key] = fmt.Sprintf("size=%d etag=%s http=%+v meta=%v", head.Size, head.ETag, head.HTTP, head.CustomMetadata)
		}
		s.Objects[b.Name] = objs
	}
	return s
}

// wantUnchanged fails the test, listing the differences, when the backend's
// state is no longer before.
func wantUnchanged(t *testing.T, b storage.Backend, before state, after string) {
	t.Helper()
	now := snapshot(t, b)
	var diffs []string
	diffMap(&diffs, "namespace", before.Namespaces, now.Namespaces)
	diffMap(&diffs, "bucket", before.Buckets, now.Buckets)
	for _, id := range slices.Sorted(maps.Keys(before.Keys)) {
		diffMap(&diffs, "namespace "+id+": key", before.Keys[id], now.Keys[id])
	}
	for _, name := range slices.Sorted(maps.Keys(before.Objects)) {
		diffMap(&diffs, "bucket "+name+": object", before.Objects[name], now.Objects[name])
	}
	if len(diffs) > 0 {
		t.Errorf("%s changed stored data:\n\t%s", after, strings.Join(diffs, "\n\t"))
	}
}

func diffMap(diffs *[]string, what string, before, now map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(before)) {
		n, ok := now[k]
		switch {
		case !ok:
			*diffs = append(*diffs, fmt.Sprintf("%s %q is gone", what, k))
		case n != before[k]:
			*diffs = append(*diffs, fmt.Sprintf("%s %q changed: %s -> %s", what, k, before[k], n))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(now)) {
		if _, ok := before[k]; !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s %q appeared: %s", what, k, now[k]))
		}
	}
}
