package local

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// r2Store is R2 on the local store.
type r2Store struct{ b *Backend }

var _ storage.R2 = (*r2Store)(nil)

// R2's defaults for a bucket created without a choice.
const (
	defaultStorageClass = "Standard"
	defaultJurisdiction = "default"
)

// maxBlobAttempts bounds how often a read chases an object that keeps being
// overwritten between reading its row and opening its blob.
const maxBlobAttempts = 10

func errNoBucket(name string) error {
	// The same words as storage.Guard's.
	return storage.Errorf(storage.CodeNotFound, "bucket %q: no such R2 bucket (call list_r2_buckets to see them)", name)
}

func errNoObject(bucket, key string) error {
	return storage.Errorf(storage.CodeNotFound, "object %q: not found in bucket %q", key, bucket)
}

func bucketExists(ctx context.Context, q querier, name string) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM r2_buckets WHERE name = ?", name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoBucket(name)
	}
	return dbErr(ctx, "reading bucket", err)
}

const bucketCols = "name, created_ms, location, storage_class, jurisdiction"

func scanBucket(row interface{ Scan(...any) error }) (storage.Bucket, error) {
	var (
		b  storage.Bucket
		ms int64
	)
	err := row.Scan(&b.Name, &ms, &b.Location, &b.StorageClass, &b.Jurisdiction)
	b.CreationDate = time.UnixMilli(ms).UTC()
	return b, err
}

func (r *r2Store) ListBuckets(ctx context.Context, opts storage.ListOptions) (storage.BucketPage, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.BucketPage{}, err
	}
	c, err := decodeCursor(opts.Cursor, kindBuckets)
	if err != nil {
		return storage.BucketPage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultBucketList, storage.MaxBucketList)

	var w where
	prefix(&w, "name", opts.Prefix)
	if opts.Cursor != "" {
		w.add("name > ?", string(c.Key))
	}
	rows, err := st.q().QueryContext(ctx,
		"SELECT "+bucketCols+" FROM r2_buckets"+w.sql()+" ORDER BY name LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return storage.BucketPage{}, dbErr(ctx, "listing buckets", err)
	}
	defer rows.Close()
	page := storage.BucketPage{Buckets: []storage.Bucket{}}
	for rows.Next() {
		b, err := scanBucket(rows)
		if err != nil {
			return storage.BucketPage{}, dbErr(ctx, "listing buckets", err)
		}
		page.Buckets = append(page.Buckets, b)
	}
	if err := rows.Err(); err != nil {
		return storage.BucketPage{}, dbErr(ctx, "listing buckets", err)
	}
	if len(page.Buckets) > limit {
		page.Buckets = page.Buckets[:limit]
		page.Cursor = cursor{Kind: kindBuckets, Key: []byte(page.Buckets[limit-1].Name)}.encode()
	}
	return page, nil
}

func (r *r2Store) GetBucket(ctx context.Context, name string) (storage.Bucket, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.Bucket{}, err
	}
	b, err := scanBucket(st.q().QueryRowContext(ctx, "SELECT "+bucketCols+" FROM r2_buckets WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Bucket{}, errNoBucket(name)
	}
	if err != nil {
		return storage.Bucket{}, dbErr(ctx, "reading bucket", err)
	}
	return b, nil
}

func (r *r2Store) CreateBucket(ctx context.Context, spec storage.BucketSpec) (storage.Bucket, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.Bucket{}, err
	}
	b := storage.Bucket{
		Name:         spec.Name,
		CreationDate: time.UnixMilli(st.now().UnixMilli()).UTC(),
		Location:     spec.LocationHint, // a hint; with none, R2 picks and we have nothing to pick
		StorageClass: cmp.Or(spec.StorageClass, defaultStorageClass),
		Jurisdiction: cmp.Or(spec.Jurisdiction, defaultJurisdiction),
	}
	err = st.update(ctx, "creating bucket", func(ctx context.Context, tx queries) error {
		err := bucketExists(ctx, tx, b.Name)
		switch {
		case err == nil:
			return storage.Errorf(storage.CodeAlreadyExists, "bucket %q already exists", b.Name)
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO r2_buckets ("+bucketCols+") VALUES (?, ?, ?, ?, ?)",
			b.Name, b.CreationDate.UnixMilli(), b.Location, b.StorageClass, b.Jurisdiction)
		return dbErr(ctx, "creating bucket", err)
	})
	if err != nil {
		return storage.Bucket{}, err
	}
	return b, nil
}

func (r *r2Store) DeleteBucket(ctx context.Context, name string) error {
	st, err := r.b.open(ctx)
	if err != nil {
		return err
	}
	return st.update(ctx, "deleting bucket", func(ctx context.Context, tx queries) error {
		if err := bucketExists(ctx, tx, name); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM r2_objects WHERE bucket = ?", name).Scan(&n); err != nil {
			return dbErr(ctx, "deleting bucket", err)
		}
		if n > 0 {
			return storage.Errorf(storage.CodeConflict,
				"bucket %q is not empty: it holds %d object(s); delete them first (r2_delete), then the bucket", name, n)
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM r2_buckets WHERE name = ?", name)
		return dbErr(ctx, "deleting bucket", err)
	})
}

// objectRow is an object's row: what the API reports, and where its bytes are.
type objectRow struct {
	info   storage.ObjectInfo
	blobID string
}

const objectCols = `key, size, etag, uploaded_ms, content_type, content_language, content_disposition,
	content_encoding, cache_control, custom_metadata, blob_id`

func scanObject(row interface{ Scan(...any) error }) (objectRow, error) {
	var (
		o    objectRow
		key  []byte
		ms   int64
		meta sql.NullString
	)
	h := &o.info.HTTP
	err := row.Scan(&key, &o.info.Size, &o.info.ETag, &ms, &h.ContentType, &h.ContentLanguage,
		&h.ContentDisposition, &h.ContentEncoding, &h.CacheControl, &meta, &o.blobID)
	if err != nil {
		return objectRow{}, err
	}
	o.info.Key = string(key)
	o.info.Uploaded = time.UnixMilli(ms).UTC()
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &o.info.CustomMetadata); err != nil {
			return objectRow{}, fmt.Errorf("custom metadata of %q: %w", key, err)
		}
	}
	return o, nil
}

// readObject reads the row of bucket/key; a miss says whether the bucket or
// the object is missing.
func readObject(ctx context.Context, q querier, bucket, key string) (objectRow, error) {
	o, err := scanObject(q.QueryRowContext(ctx,
		"SELECT "+objectCols+" FROM r2_objects WHERE bucket = ? AND key = ?", bucket, []byte(key)))
	if errors.Is(err, sql.ErrNoRows) {
		if err := bucketExists(ctx, q, bucket); err != nil {
			return objectRow{}, err
		}
		return objectRow{}, errNoObject(bucket, key)
	}
	if err != nil {
		return objectRow{}, dbErr(ctx, "reading object", err)
	}
	return o, nil
}

// withBlob reads the row of bucket/key and calls fn with it. When fn fails
// with fs.ErrNotExist, a concurrent overwrite or delete removed the blob
// after the row was read, so the row is read again: it names the new blob,
// or the object is gone. A row that still names the missing blob means the
// data dir lost a file.
func (s *store) withBlob(ctx context.Context, bucket, key string, fn func(objectRow) error) (objectRow, error) {
	var missing string
	for range maxBlobAttempts {
		o, err := readObject(ctx, s.q(), bucket, key)
		if err != nil {
			return objectRow{}, err
		}
		if o.blobID == missing {
			return objectRow{}, storage.Errorf(storage.CodeInternal,
				"object %q in bucket %q: its data file %s is missing from %s", key, bucket, missing, s.blobs)
		}
		err = fn(o)
		if !errors.Is(err, fs.ErrNotExist) {
			return o, err
		}
		missing = o.blobID
	}
	return objectRow{}, storage.Errorf(storage.CodeUnavailable,
		"object %q in bucket %q was overwritten %d times while being opened: try again", key, bucket, maxBlobAttempts)
}

func (r *r2Store) HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	o, err := readObject(ctx, st.q(), bucket, key)
	return o.info, err
}

func (r *r2Store) GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error) {
	// Guard has checked the range's shape; checked again so that an
	// unguarded call cannot seek to a negative offset.
	if err := storage.ValidateRange(rng); err != nil {
		return nil, err
	}
	st, err := r.b.open(ctx)
	if err != nil {
		return nil, err
	}
	var f *os.File
	o, err := st.withBlob(ctx, bucket, key, func(o objectRow) error {
		var err error
		f, err = st.openBlob(o.blobID)
		return err
	})
	if err != nil {
		if !isStorageErr(err) {
			err = fsErr(ctx, "opening object data", err)
		}
		return nil, err
	}
	// Once open, the file stays readable whatever a writer does next.
	start, length, err := rng.Span(o.info.Size)
	if err == nil {
		err = checkBlobSize(f, fmt.Sprintf("object %q", o.info.Key), o.info.Size)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &storage.Object{
		Info:   o.info,
		Length: length,
		Body:   &objectBody{ctx: ctx, op: "reading object data", r: io.NewSectionReader(f, start, length), f: f},
	}, nil
}

// objectBody streams a section of an open blob. Like a network body, it
// belongs to its request: once ctx is done, reads fail with its error.
type objectBody struct {
	ctx context.Context
	op  string // what a read does, for its error
	r   *io.SectionReader
	f   *os.File
}

func (b *objectBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, fmt.Errorf("local: %s: %w", b.op, err)
	}
	return b.r.Read(p)
}

func (b *objectBody) Close() error { return b.f.Close() }

func isStorageErr(err error) bool {
	var se *storage.Error
	return errors.As(err, &se)
}

func (r *r2Store) PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	// Fail before streaming what could be gigabytes into a missing bucket.
	if err := bucketExists(ctx, st.q(), put.Bucket); err != nil {
		return storage.ObjectInfo{}, err
	}
	tmp, etag, err := st.receive(ctx, "content", put.Body, put.Size, put.Progress, true)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	id, err := st.install(ctx, tmp)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info := storage.ObjectInfo{
		Key:            put.Key,
		Size:           put.Size,
		ETag:           etag,
		Uploaded:       time.UnixMilli(st.now().UnixMilli()).UTC(),
		HTTP:           put.HTTP,
		CustomMetadata: maps.Clone(put.CustomMetadata), // not the caller's map
	}
	if err := st.commitObject(ctx, put.Bucket, info, id); err != nil {
		return storage.ObjectInfo{}, err
	}
	return info, nil
}

// commitObject points bucket/info.Key at blob id in one transaction, then
// removes the blob it replaced. If the transaction fails, blob id is removed
// too, unless the commit itself failed: then it may have reached the disk
// after all, and the sweep (which checks) removes it if it did not.
func (s *store) commitObject(ctx context.Context, bucket string, info storage.ObjectInfo, id string) error {
	var meta any // NULL for none
	if len(info.CustomMetadata) > 0 {
		js, _ := json.Marshal(info.CustomMetadata) // a map[string]string always marshals
		meta = string(js)
	}
	var replaced string
	err := s.update(ctx, "writing object", func(ctx context.Context, tx queries) error {
		if err := bucketExists(ctx, tx, bucket); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, "SELECT blob_id FROM r2_objects WHERE bucket = ? AND key = ?",
			bucket, []byte(info.Key)).Scan(&replaced)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return dbErr(ctx, "writing object", err)
		}
		h := info.HTTP
		_, err = tx.ExecContext(ctx, `
INSERT INTO r2_objects (bucket, `+objectCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (bucket, key) DO UPDATE SET
	size = excluded.size, etag = excluded.etag, uploaded_ms = excluded.uploaded_ms,
	content_type = excluded.content_type, content_language = excluded.content_language,
	content_disposition = excluded.content_disposition, content_encoding = excluded.content_encoding,
	cache_control = excluded.cache_control, custom_metadata = excluded.custom_metadata,
	blob_id = excluded.blob_id`,
			bucket, []byte(info.Key), info.Size, info.ETag, info.Uploaded.UnixMilli(),
			h.ContentType, h.ContentLanguage, h.ContentDisposition, h.ContentEncoding, h.CacheControl,
			meta, id)
		return dbErr(ctx, "writing object", err)
	})
	if err != nil {
		if !errors.Is(err, errCommit) {
			s.removeBlob(id)
		}
		return err
	}
	if replaced != "" {
		s.removeBlob(replaced)
	}
	return nil
}

func (r *r2Store) CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := bucketExists(ctx, st.q(), dst.Bucket); err != nil {
		return storage.ObjectInfo{}, err
	}
	var id string
	o, err := st.withBlob(ctx, src.Bucket, src.Key, func(o objectRow) error {
		var err error
		id, err = st.link(o.blobID)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// A file system without hard links: copy the bytes.
			id, err = st.copyBlob(ctx, o)
		}
		return err
	})
	if err != nil {
		if !isStorageErr(err) {
			err = fsErr(ctx, "copying object data", err)
		}
		return storage.ObjectInfo{}, err
	}
	info := o.info
	info.Key = dst.Key
	info.Uploaded = time.UnixMilli(st.now().UnixMilli()).UTC()
	if err := st.commitObject(ctx, dst.Bucket, info, id); err != nil {
		return storage.ObjectInfo{}, err
	}
	return info, nil
}

// copyBlob streams the blob of o into a new blob and checks it against the
// ETag on the way.
func (s *store) copyBlob(ctx context.Context, o objectRow) (string, error) {
	f, err := s.openBlob(o.blobID)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tmp, etag, err := s.receive(ctx, "content", f, o.info.Size, nil, true)
	if err != nil {
		return "", err
	}
	if etag != o.info.ETag {
		os.Remove(tmp)
		return "", storage.Errorf(storage.CodeInternal,
			"object %q: its data file does not match its ETag: the data dir is damaged", o.info.Key)
	}
	return s.install(ctx, tmp)
}

func (r *r2Store) DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.DeleteResult{}, err
	}
	var removed []string
	err = st.update(ctx, "deleting objects", func(ctx context.Context, tx queries) error {
		if err := bucketExists(ctx, tx, bucket); err != nil {
			return err
		}
		stmt, err := tx.stmt(ctx, "DELETE FROM r2_objects WHERE bucket = ? AND key = ? RETURNING blob_id")
		if err != nil {
			return dbErr(ctx, "deleting objects", err)
		}
		for _, key := range keys {
			var id string
			err := stmt.QueryRowContext(ctx, bucket, []byte(key)).Scan(&id)
			switch {
			case errors.Is(err, sql.ErrNoRows): // absent: deleted all the same, as in S3
			case err != nil:
				return dbErr(ctx, "deleting objects", err)
			default:
				removed = append(removed, id)
			}
		}
		return nil
	})
	if err != nil {
		return storage.DeleteResult{}, err
	}
	for _, id := range removed {
		st.removeBlob(id)
	}
	return storage.DeleteResult{Deleted: append([]string{}, keys...), Errors: []storage.DeleteError{}}, nil
}

func (r *r2Store) Presign(ctx context.Context, req storage.PresignRequest) (storage.PresignedURL, error) {
	return storage.PresignedURL{}, storage.Errorf(storage.CodeUnsupported,
		"presigned URLs need the cloudflare backend (--backend cloudflare): the local backend has no public HTTP endpoint")
}

// ListObjects pages through a bucket in key order. With a delimiter, the
// keys under each common prefix are rolled up into one entry of Prefixes and
// skipped by seeking past them on the index, not by reading them.
func (r *r2Store) ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error) {
	st, err := r.b.open(ctx)
	if err != nil {
		return storage.ObjectPage{}, err
	}
	c, err := decodeCursor(opts.Cursor, kindObjects)
	if err != nil {
		return storage.ObjectPage{}, err
	}
	l := objectLister{
		bucket: bucket,
		prefix: []byte(opts.Prefix),
		delim:  []byte(opts.Delimiter),
		limit:  storage.PageSize(opts.Limit, storage.DefaultObjectList, storage.MaxObjectList),
		pos:    c,
		page:   storage.ObjectPage{Objects: []storage.ObjectInfo{}, Prefixes: []string{}},
	}
	l.pos.Kind = kindObjects
	err = st.view(ctx, "listing objects", func(tx queries) error {
		if err := bucketExists(ctx, tx, bucket); err != nil {
			return err
		}
		return l.run(ctx, tx)
	})
	if err != nil {
		return storage.ObjectPage{}, err
	}
	return l.page, nil
}

// objectLister is one ListObjects call.
type objectLister struct {
	bucket string
	prefix []byte
	delim  []byte
	limit  int
	pos    cursor // where the listing stands: after pos.Key, or at it when pos.Incl
	page   storage.ObjectPage

	scanned int // rows read, for tests: a rolled-up prefix costs one
}

func (l *objectLister) filled() int { return len(l.page.Objects) + len(l.page.Prefixes) }

// where selects the keys from the current position on.
func (l *objectLister) where() where {
	w := where{conds: []string{"bucket = ?"}, args: []any{l.bucket}}
	prefix(&w, "key", l.prefix)
	switch {
	case l.pos.Incl:
		w.add("key >= ?", l.pos.Key)
	case l.pos.Key != nil:
		w.add("key > ?", l.pos.Key)
	}
	return w
}

func (l *objectLister) run(ctx context.Context, tx querier) error {
	for {
		want := l.limit - l.filled()
		if want == 0 {
			// Full: a cursor only if something is left, so the last page
			// never has one.
			more, err := l.more(ctx, tx)
			if more {
				l.page.Cursor = l.pos.encode()
			}
			return err
		}
		done, err := l.batch(ctx, tx, want)
		if done || err != nil {
			return err
		}
	}
}

// batch reads up to want keys from the position on and reports whether the
// keys ran out. It stops early after rolling up a prefix: the position then
// jumps past every key under it and the next batch starts there.
func (l *objectLister) batch(ctx context.Context, tx querier, want int) (done bool, err error) {
	w := l.where()
	rows, err := tx.QueryContext(ctx,
		"SELECT "+objectCols+" FROM r2_objects"+w.sql()+" ORDER BY key LIMIT ?", append(w.args, want)...)
	if err != nil {
		return false, dbErr(ctx, "listing objects", err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		got++
		l.scanned++
		o, err := scanObject(rows)
		if err != nil {
			return false, dbErr(ctx, "listing objects", err)
		}
		key := []byte(o.info.Key)
		if len(l.delim) > 0 {
			if i := bytes.Index(key[len(l.prefix):], l.delim); i >= 0 {
				common := key[:len(l.prefix)+i+len(l.delim)]
				l.page.Prefixes = append(l.page.Prefixes, string(common))
				end, ok := storage.PrefixEnd(common)
				if !ok {
					// Nothing can sort after common: the listing is over.
					return true, nil
				}
				l.pos = cursor{Kind: kindObjects, Key: end, Incl: true}
				return false, nil
			}
		}
		l.page.Objects = append(l.page.Objects, o.info)
		l.pos = cursor{Kind: kindObjects, Key: key}
	}
	if err := rows.Err(); err != nil {
		return false, dbErr(ctx, "listing objects", err)
	}
	return got < want, nil
}

// more reports whether any key lies past the position.
func (l *objectLister) more(ctx context.Context, tx querier) (bool, error) {
	w := l.where()
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM r2_objects"+w.sql()+" LIMIT 1", w.args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, dbErr(ctx, "listing objects", err)
}
