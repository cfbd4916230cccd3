package miniflare

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage/storagetest"
)

// TestBehaviour runs the behaviour suite on the files path, with dev not
// running. The suite makes its own namespaces, buckets and databases, which
// wrangler dev cannot: suiteBackend plays the part of the wrangler config,
// adding and removing bindings (and the files of removed ones), so that
// every data operation is the package's own, on Miniflare's layout.
func TestBehaviour(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		s, err := Open(filepath.Join(t.TempDir(), "state"), Bindings{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return &suiteBackend{s: s, buckets: map[string]storage.Bucket{}}
	})
}

// suiteBackend is a Store whose bindings a test can create and delete.
type suiteBackend struct {
	s  *Store
	mu sync.Mutex // orders the edits of the bindings
	// buckets are what the suite created them with: a wrangler config says
	// nothing of a bucket's creation date, location or storage class.
	buckets map[string]storage.Bucket
}

func (b *suiteBackend) Name() string   { return "wrangler" }
func (b *suiteBackend) KV() storage.KV { return suiteKV{b.s.KV(), b} }
func (b *suiteBackend) R2() storage.R2 { return suiteR2{b.s.R2(), b} }
func (b *suiteBackend) D1() storage.D1 { return suiteD1{b.s.D1(), b} }
func (b *suiteBackend) Close() error   { return nil }
func (b *suiteBackend) Describe(context.Context) (storage.Description, error) {
	return storage.Description{Backend: "wrangler", DataDir: b.s.Dir()}, nil
}

// edit changes a copy of the bindings and installs it.
func (b *suiteBackend) edit(f func(*Bindings) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := *b.s.bindings()
	if err := f(&cur); err != nil {
		return err
	}
	b.s.SetBindings(cur)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type suiteKV struct {
	storage.KV
	b *suiteBackend
}

func (k suiteKV) CreateNamespace(ctx context.Context, title string) (storage.Namespace, error) {
	ns := Namespace{ID: randomHex(16), Title: title}
	err := k.b.edit(func(bs *Bindings) error {
		for _, o := range bs.KV {
			if o.Title == title {
				return storage.Errorf(storage.CodeAlreadyExists, "a KV namespace titled %q already exists", title)
			}
		}
		bs.KV = append(slices.Clone(bs.KV), ns)
		return nil
	})
	return storage.Namespace{ID: ns.ID, Title: ns.Title}, err
}

func (k suiteKV) RenameNamespace(ctx context.Context, id, title string) error {
	return k.b.edit(func(bs *Bindings) error {
		bs.KV = slices.Clone(bs.KV)
		i := slices.IndexFunc(bs.KV, func(n Namespace) bool { return n.ID == id })
		if i < 0 {
			return errNoNamespace(id)
		}
		for _, o := range bs.KV {
			if o.Title == title && o.ID != id {
				return storage.Errorf(storage.CodeAlreadyExists, "a KV namespace titled %q already exists", title)
			}
		}
		bs.KV[i].Title = title
		return nil
	})
}

func (k suiteKV) DeleteNamespace(ctx context.Context, id string) error {
	err := k.b.edit(func(bs *Bindings) error {
		i := slices.IndexFunc(bs.KV, func(n Namespace) bool { return n.ID == id })
		if i < 0 {
			return errNoNamespace(id)
		}
		bs.KV = slices.Delete(slices.Clone(bs.KV), i, i+1)
		return nil
	})
	if err == nil {
		os.Remove(k.b.s.objectFile(areaKV, id))
		os.RemoveAll(filepath.Dir(k.b.s.blobDir(areaKV, id)))
	}
	return err
}

type suiteR2 struct {
	storage.R2
	b *suiteBackend
}

func (r suiteR2) CreateBucket(ctx context.Context, spec storage.BucketSpec) (storage.Bucket, error) {
	err := r.b.edit(func(bs *Bindings) error {
		if slices.Contains(bs.R2, Bucket{Name: spec.Name}) {
			return storage.Errorf(storage.CodeAlreadyExists, "bucket %q already exists", spec.Name)
		}
		bs.R2 = append(slices.Clone(bs.R2), Bucket{Name: spec.Name})
		b := storage.Bucket{Name: spec.Name, CreationDate: time.Now().UTC(), Location: spec.LocationHint,
			StorageClass: cmp.Or(spec.StorageClass, "Standard"), Jurisdiction: cmp.Or(spec.Jurisdiction, "default")}
		r.b.buckets[spec.Name] = b
		return nil
	})
	if err != nil {
		return storage.Bucket{}, err
	}
	return r.GetBucket(ctx, spec.Name)
}

func (r suiteR2) DeleteBucket(ctx context.Context, name string) error {
	page, err := r.ListObjects(ctx, name, storage.ObjectListOptions{Limit: 1})
	if err != nil {
		return err
	}
	if len(page.Objects) > 0 {
		return storage.Errorf(storage.CodeConflict, "bucket %q is not empty", name)
	}
	err = r.b.edit(func(bs *Bindings) error {
		i := slices.Index(bs.R2, Bucket{Name: name})
		if i < 0 {
			return errNoBucket(name)
		}
		bs.R2 = slices.Delete(slices.Clone(bs.R2), i, i+1)
		delete(r.b.buckets, name)
		return nil
	})
	if err == nil {
		os.Remove(r.b.s.objectFile(areaR2, name))
		os.RemoveAll(filepath.Dir(r.b.s.blobDir(areaR2, name)))
	}
	return err
}

// created overlays what the suite created b with.
func (r suiteR2) created(b storage.Bucket) storage.Bucket {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if c, ok := r.b.buckets[b.Name]; ok {
		return c
	}
	return b
}

func (r suiteR2) GetBucket(ctx context.Context, name string) (storage.Bucket, error) {
	b, err := r.R2.GetBucket(ctx, name)
	return r.created(b), err
}

func (r suiteR2) ListBuckets(ctx context.Context, opts storage.ListOptions) (storage.BucketPage, error) {
	page, err := r.R2.ListBuckets(ctx, opts)
	for i, b := range page.Buckets {
		page.Buckets[i] = r.created(b)
	}
	return page, err
}

type suiteD1 struct {
	storage.D1
	b *suiteBackend
}

func (d suiteD1) CreateDatabase(ctx context.Context, spec storage.DatabaseSpec) (storage.Database, error) {
	db := Database{ID: storage.NewDatabaseID(), Name: spec.Name}
	err := d.b.edit(func(bs *Bindings) error {
		for _, o := range bs.D1 {
			if o.Name == spec.Name {
				return storage.Errorf(storage.CodeAlreadyExists, "a D1 database named %q already exists", spec.Name)
			}
		}
		bs.D1 = append(slices.Clone(bs.D1), db)
		return nil
	})
	if err != nil {
		return storage.Database{}, err
	}
	return d.GetDatabase(ctx, db.ID)
}

func (d suiteD1) DeleteDatabase(ctx context.Context, id string) error {
	err := d.b.edit(func(bs *Bindings) error {
		i := slices.IndexFunc(bs.D1, func(db Database) bool { return db.ID == id })
		if i < 0 {
			return errNoDatabase(id)
		}
		bs.D1 = slices.Delete(slices.Clone(bs.D1), i, i+1)
		return nil
	})
	if err == nil {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(d.b.s.objectFile(areaD1, id) + suffix)
		}
	}
	return err
}
