package miniflare

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// r2Schema is Miniflare's own (workers/r2/schemas.worker.ts). An object
// is one blob (blob_id), or, when uploaded in parts, blob_id NULL and its
// parts in _mf_multipart_parts (object_key, in part_number order). size is
// in bytes, uploaded in milliseconds, etag the hex MD5 of a single upload
// ("<md5 of the parts' MD5s>-<parts>" for a multipart one), version 16
// random bytes in hex, http_metadata and custom_metadata JSON objects,
// checksums a JSON object of the checksums the uploader gave (the MD5 is
// implied by an ETag of 32 hex digits).
const r2Schema = `
CREATE TABLE IF NOT EXISTS _mf_objects (
    key TEXT PRIMARY KEY,
    blob_id TEXT,
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    uploaded INTEGER NOT NULL,
    checksums TEXT NOT NULL,
    http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _mf_multipart_uploads (
    upload_id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL,
    state TINYINT DEFAULT 0 NOT NULL
);
CREATE TABLE IF NOT EXISTS _mf_multipart_parts (
    upload_id TEXT NOT NULL REFERENCES _mf_multipart_uploads(upload_id),
    part_number INTEGER NOT NULL,
    blob_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    checksum_md5 TEXT NOT NULL,
    object_key TEXT REFERENCES _mf_objects(key) DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (upload_id, part_number)
);
`

var (
	r2Objects = table{name: "_mf_objects", cols: []string{"key", "blob_id", "version", "size", "etag", "uploaded", "checksums", "http_metadata", "custom_metadata"}}
	r2Parts   = table{name: "_mf_multipart_parts", cols: []string{"blob_id", "size", "object_key", "part_number"}}
)

// httpFields is the http_metadata column: the Workers runtime's R2
// httpFields, as Miniflare stores them.
type httpFields struct {
	ContentType        string   `json:"contentType,omitempty"`
	ContentLanguage    string   `json:"contentLanguage,omitempty"`
	ContentDisposition string   `json:"contentDisposition,omitempty"`
	ContentEncoding    string   `json:"contentEncoding,omitempty"`
	CacheControl       string   `json:"cacheControl,omitempty"`
	CacheExpiry        *float64 `json:"cacheExpiry,omitempty"` // kept as read; storage has no field for it
}

// r2Store is R2 over the persisted state.
type r2Store struct{ s *Store }

var _ storage.R2 = (*r2Store)(nil)

func errNoBucket(name string) error {
	return storage.Errorf(storage.CodeNotFound, "bucket %q: no such R2 bucket in the wrangler config (call list_r2_buckets to see them)", name)
}

func errNoObject(bucket, key string) error {
	return storage.Errorf(storage.CodeNotFound, "object %q: not found in bucket %q", key, bucket)
}

func (r *r2Store) bucket(name string) error {
	for _, b := range r.s.bindings().R2 {
		if b.Name == name {
			return nil
		}
	}
	return errNoBucket(name)
}

func (r *r2Store) file(bucket string) string    { return r.s.objectFile(areaR2, bucket) }
func (r *r2Store) blobDir(bucket string) string { return r.s.blobDir(areaR2, bucket) }

func (r *r2Store) ListBuckets(ctx context.Context, opts storage.ListOptions) (storage.BucketPage, error) {
	c, err := decodeCursor(opts.Cursor, "b")
	if err != nil {
		return storage.BucketPage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultBucketList, storage.MaxBucketList)
	names := make([]string, 0, len(r.s.bindings().R2))
	for _, b := range r.s.bindings().R2 {
		names = append(names, b.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	page := storage.BucketPage{Buckets: []storage.Bucket{}}
	for _, name := range names {
		if !strings.HasPrefix(name, opts.Prefix) || opts.Cursor != "" && name <= string(c.Key) {
			continue
		}
		if len(page.Buckets) == limit {
			page.Cursor = cursor{Kind: "b", Key: []byte(page.Buckets[limit-1].Name)}.encode()
			break
		}
		page.Buckets = append(page.Buckets, r.describe(name))
	}
	return page, nil
}

// describe is a bound bucket: its creation date is unknown (zero) until
// the Worker or this package first wrote to it, then its file's.
func (r *r2Store) describe(name string) storage.Bucket {
	b := storage.Bucket{Name: name, Location: "local", StorageClass: "Standard", Jurisdiction: "default"}
	if fi, err := os.Stat(r.file(name)); err == nil {
		b.CreationDate = fi.ModTime().UTC()
	}
	return b
}

func (r *r2Store) GetBucket(ctx context.Context, name string) (storage.Bucket, error) {
	if err := r.bucket(name); err != nil {
		return storage.Bucket{}, err
	}
	return r.describe(name), nil
}

func (r *r2Store) CreateBucket(ctx context.Context, spec storage.BucketSpec) (storage.Bucket, error) {
	return storage.Bucket{}, errCreateBucket(spec.Name)
}

func (r *r2Store) DeleteBucket(ctx context.Context, name string) error {
	return errConfigOwned("deleting an R2 bucket", "remove its [[r2_buckets]] block from the wrangler config")
}

func (r *r2Store) Presign(ctx context.Context, req storage.PresignRequest) (storage.PresignedURL, error) {
	return storage.PresignedURL{}, storage.Errorf(storage.CodeUnsupported,
		"presigned URLs need the cloudflare backend (--backend cloudflare): wrangler dev serves no S3 endpoint to sign for")
}

// objectRow is an object's row.
type objectRow struct {
	info   storage.ObjectInfo
	blobID sql.NullString // NULL: a multipart object
}

const objectCols = "key, blob_id, size, etag, uploaded, http_metadata, custom_metadata"

func scanObject(row interface{ Scan(...any) error }) (objectRow, error) {
	var (
		o              objectRow
		ms             int64
		httpJS, custJS string
	)
	if err := row.Scan(&o.info.Key, &o.blobID, &o.info.Size, &o.info.ETag, &ms, &httpJS, &custJS); err != nil {
		return objectRow{}, err
	}
	o.info.Uploaded = time.UnixMilli(ms).UTC()
	var h httpFields
	if json.Unmarshal([]byte(httpJS), &h) == nil {
		o.info.HTTP = storage.HTTPMetadata{
			ContentType: h.ContentType, ContentLanguage: h.ContentLanguage, ContentDisposition: h.ContentDisposition,
			ContentEncoding: h.ContentEncoding, CacheControl: h.CacheControl,
		}
	}
	o.info.CustomMetadata = map[string]string{}
	json.Unmarshal([]byte(custJS), &o.info.CustomMetadata)
	return o, nil
}

// part is one part of a multipart object.
type part struct {
	blobID string
	size   int64
}

// readObject reads the row of key and, for a multipart object, its parts,
// in one read transaction.
func (r *r2Store) readObject(ctx context.Context, bucket, key string) (o objectRow, parts []part, err error) {
	c, empty, err := r.s.openRead(ctx, r.file(bucket), r2Objects)
	if errors.Is(err, errNoFile) || err == nil && empty {
		if c != nil {
			c.Close()
		}
		return objectRow{}, nil, errNoObject(bucket, key)
	}
	if err != nil {
		return objectRow{}, nil, err
	}
	defer c.Close()
	tx, err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return objectRow{}, nil, dbErr(ctx, "reading an object from", c.path, false, err)
	}
	defer tx.Rollback()
	o, err = scanObject(tx.QueryRowContext(ctx, "SELECT "+objectCols+" FROM _mf_objects WHERE key = ?", key))
	if errors.Is(err, sql.ErrNoRows) {
		return objectRow{}, nil, errNoObject(bucket, key)
	}
	if err != nil {
		return objectRow{}, nil, dbErr(ctx, "reading an object from", c.path, false, err)
	}
	if o.blobID.Valid {
		return o, nil, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT blob_id, size FROM _mf_multipart_parts WHERE object_key = ? ORDER BY part_number", key)
	if err != nil {
		return objectRow{}, nil, dbErr(ctx, "reading an object's parts from", c.path, false, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.blobID, &p.size); err != nil {
			return objectRow{}, nil, dbErr(ctx, "reading an object's parts from", c.path, false, err)
		}
		parts = append(parts, p)
	}
	return o, parts, dbErr(ctx, "reading an object's parts from", c.path, false, rows.Err())
}

func (r *r2Store) HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	if err := r.bucket(bucket); err != nil {
		return storage.ObjectInfo{}, err
	}
	o, _, err := r.readObject(ctx, bucket, key)
	return o.info, err
}

func (r *r2Store) GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error) {
	if err := storage.ValidateRange(rng); err != nil {
		return nil, err
	}
	if err := r.bucket(bucket); err != nil {
		return nil, err
	}
	for range maxBlobAttempts {
		o, parts, err := r.readObject(ctx, bucket, key)
		if err != nil {
			return nil, err
		}
		start, length, err := rng.Span(o.info.Size)
		if err != nil {
			return nil, err
		}
		if o.blobID.Valid {
			parts = []part{{blobID: o.blobID.String, size: o.info.Size}}
		}
		body, err := r.openParts(ctx, bucket, parts, start, length)
		if errors.Is(err, fs.ErrNotExist) {
			continue // replaced meanwhile: read the row again
		}
		if err != nil {
			if !isStorageErr(err) {
				err = fsErr(ctx, "opening object "+key, err)
			}
			return nil, err
		}
		return &storage.Object{Info: o.info, Length: length, Body: body}, nil
	}
	return nil, storage.Errorf(storage.CodeUnavailable,
		"object %q in bucket %q: its data file in %s is missing, or it was replaced %d times while being opened: try again", key, bucket, r.blobDir(bucket), maxBlobAttempts)
}

// openParts opens the first blob the range [start, start+length) needs
// now, so that a blob already gone is seen before any byte is served, and
// the others as the body reaches them: a large multipart object does not
// take one descriptor per part.
func (r *r2Store) openParts(ctx context.Context, bucket string, parts []part, start, length int64) (io.ReadCloser, error) {
	b := &partsBody{ctx: ctx, dir: r.blobDir(bucket)}
	off := int64(0)
	for _, p := range parts {
		if end := off + p.size; length > 0 && start < end && start+length > off {
			from := max(start, off) - off
			to := min(start+length, end) - off
			b.pending = append(b.pending, section{blobID: p.blobID, size: p.size, off: from, n: to - from})
		}
		off += p.size
	}
	if len(b.pending) > 0 {
		if err := b.next(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

type section struct {
	blobID string
	size   int64 // of the whole blob, as its row says
	off, n int64
}

// partsBody streams sections of blobs one after another. Like a network
// body, it belongs to its request: once ctx is done, reads fail with its
// error.
type partsBody struct {
	ctx     context.Context
	dir     string
	pending []section
	f       *os.File
	cur     io.Reader
}

func (b *partsBody) next() error {
	s := b.pending[0]
	b.pending = b.pending[1:]
	f, err := openBlob(b.dir, s.blobID)
	if err != nil {
		return err
	}
	// A blob whose size is not its row's is damage (a truncated copy of
	// the state): refuse it rather than serve a short body.
	if fi, err := f.Stat(); err != nil || fi.Size() != s.size {
		f.Close()
		return storage.Errorf(storage.CodeInternal, "wrangler state: the blob %s in %s does not hold the %d bytes its row says: the state is damaged", s.blobID, b.dir, s.size)
	}
	b.f, b.cur = f, io.NewSectionReader(f, s.off, s.n)
	return nil
}

func (b *partsBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, fmt.Errorf("wrangler state: reading an object: %w", err)
	}
	for {
		if b.cur == nil {
			return 0, io.EOF
		}
		n, err := b.cur.Read(p)
		if err == io.EOF {
			b.f.Close()
			b.f, b.cur = nil, nil
			if len(b.pending) > 0 {
				if err := b.next(); err != nil {
					return n, err
				}
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (b *partsBody) Close() error {
	if b.f != nil {
		b.f.Close()
		b.f, b.cur = nil, nil
	}
	b.pending = nil
	return nil
}

func (r *r2Store) PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error) {
	if err := r.bucket(put.Bucket); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := r.s.checkWritable(); err != nil {
		return storage.ObjectInfo{}, err
	}
	info := storage.ObjectInfo{
		Key:            put.Key,
		Size:           put.Size,
		HTTP:           put.HTTP,
		CustomMetadata: maps.Clone(put.CustomMetadata),
	}
	if info.CustomMetadata == nil {
		info.CustomMetadata = map[string]string{}
	}
	return info, r.write(ctx, put.Bucket, &info, put.Body, put.Progress)
}

// write stores an object as Miniflare's put does: a blob, then one
// transaction that replaces the row (and drops the parts of a multipart
// object it replaces). It is crash-safe as kvStore.write is, step by step.
// It sets info's ETag (when empty: the MD5 of the bytes) and Uploaded.
func (r *r2Store) write(ctx context.Context, bucket string, info *storage.ObjectInfo, body io.Reader, progress func(int64)) (err error) {
	dir := r.blobDir(bucket)
	r.s.sweepTemps(dir)
	id, sum, err := r.s.writeBlob(ctx, dir, body, blobWrite{field: "content", size: info.Size, md5: true, progress: progress})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			r.s.removeBlobs(dir, []string{id})
		}
	}()
	if info.ETag == "" {
		info.ETag = sum
	}
	info.Uploaded = time.UnixMilli(r.s.opts.Now().UnixMilli()).UTC()
	httpJS, _ := json.Marshal(httpFields{
		ContentType: info.HTTP.ContentType, ContentLanguage: info.HTTP.ContentLanguage,
		ContentDisposition: info.HTTP.ContentDisposition, ContentEncoding: info.HTTP.ContentEncoding,
		CacheControl: info.HTTP.CacheControl,
	})
	custJS, _ := json.Marshal(info.CustomMetadata)
	var version [16]byte
	rand.Read(version[:])

	r.s.reached("blobs written")
	c, err := r.s.openWrite(ctx, r.file(bucket), r2Schema, r2Objects, r2Parts)
	if err != nil {
		return err
	}
	defer c.Close()
	var replaced []string
	err = inTx(ctx, c, "writing an object to", func(tx *sql.Tx) error {
		old, err := dropObject(ctx, tx, info.Key)
		if err != nil {
			return err
		}
		replaced = old
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO _mf_objects
	(key, blob_id, version, size, etag, uploaded, checksums, http_metadata, custom_metadata)
	VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?)`,
			info.Key, id, hex.EncodeToString(version[:]), info.Size, info.ETag, info.Uploaded.UnixMilli(), string(httpJS), string(custJS))
		r.s.reached("rows written")
		return err
	})
	if err != nil {
		return err
	}
	r.s.reached("committed")
	r.s.removeBlobs(dir, replaced)
	return nil
}

// dropObject deletes the row of key and the parts of a multipart object,
// and returns the blobs they named, as Miniflare's deleteByKeys does.
func dropObject(ctx context.Context, tx *sql.Tx, key string) ([]string, error) {
	var id sql.NullString
	err := tx.QueryRowContext(ctx, "DELETE FROM _mf_objects WHERE key = ? RETURNING blob_id", key).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	case id.Valid:
		return []string{id.String}, nil
	}
	rows, err := tx.QueryContext(ctx, "DELETE FROM _mf_multipart_parts WHERE object_key = ? RETURNING blob_id", key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		ids = append(ids, p)
	}
	return ids, rows.Err()
}

// CopyObject streams the source into a new blob: the source may be a
// multipart object, whose bytes are in several blobs. The copy keeps the
// source's ETag and metadata, as R2's copy does.
func (r *r2Store) CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error) {
	if err := r.bucket(dst.Bucket); err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := r.s.checkWritable(); err != nil {
		return storage.ObjectInfo{}, err
	}
	o, err := r.GetObject(ctx, src.Bucket, src.Key, nil)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	defer o.Body.Close()
	info := o.Info
	info.Key = dst.Key
	info.CustomMetadata = maps.Clone(info.CustomMetadata)
	if err := r.write(ctx, dst.Bucket, &info, o.Body, nil); err != nil {
		return storage.ObjectInfo{}, err
	}
	return info, nil
}

func (r *r2Store) DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error) {
	if err := r.bucket(bucket); err != nil {
		return storage.DeleteResult{}, err
	}
	if err := r.s.checkWritable(); err != nil {
		return storage.DeleteResult{}, err
	}
	res := storage.DeleteResult{Deleted: slices.Clone(keys), Errors: []storage.DeleteError{}}
	if res.Deleted == nil {
		res.Deleted = []string{}
	}
	if _, err := os.Stat(r.file(bucket)); errors.Is(err, fs.ErrNotExist) {
		return res, nil // nothing was ever written: every key is gone already
	}
	c, err := r.s.openWrite(ctx, r.file(bucket), r2Schema, r2Objects, r2Parts)
	if err != nil {
		return storage.DeleteResult{}, err
	}
	defer c.Close()
	var removed []string
	err = inTx(ctx, c, "deleting objects from", func(tx *sql.Tx) error {
		for _, key := range keys {
			ids, err := dropObject(ctx, tx, key)
			if err != nil {
				return err
			}
			removed = append(removed, ids...)
		}
		return nil
	})
	if err != nil {
		return storage.DeleteResult{}, err
	}
	r.s.removeBlobs(r.blobDir(bucket), removed)
	return res, nil
}

// ListObjects pages through a bucket in key order. With a delimiter, the
// keys under each common prefix are rolled up into one entry of Prefixes,
// skipped by seeking past them on the index.
func (r *r2Store) ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error) {
	if err := r.bucket(bucket); err != nil {
		return storage.ObjectPage{}, err
	}
	cur, err := decodeCursor(opts.Cursor, "o")
	if err != nil {
		return storage.ObjectPage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultObjectList, storage.MaxObjectList)
	page := storage.ObjectPage{Objects: []storage.ObjectInfo{}, Prefixes: []string{}}
	c, empty, err := r.s.openRead(ctx, r.file(bucket), r2Objects)
	if errors.Is(err, errNoFile) {
		return page, nil
	}
	if err != nil {
		return storage.ObjectPage{}, err
	}
	defer c.Close()
	if empty {
		return page, nil
	}
	tx, err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot for every query of the page
	if err != nil {
		return storage.ObjectPage{}, dbErr(ctx, "listing objects in", c.path, false, err)
	}
	defer tx.Rollback()

	// entry is one item of the page and where the next page resumes after it.
	type entry struct {
		obj    *storage.ObjectInfo
		prefix string
		resume cursor
	}
	var entries []entry
	from := cur
	if opts.Cursor == "" {
		from = cursor{}
	}
	for done := false; !done && len(entries) <= limit; {
		w := where{}
		w.prefix("key", opts.Prefix)
		switch {
		case from.Incl:
			w.add("key >= ?", string(from.Key)) // TEXT, as the keys are
		case len(from.Key) > 0:
			w.add("key > ?", string(from.Key))
		}
		want := limit + 1 - len(entries)
		rows, err := tx.QueryContext(ctx, "SELECT "+objectCols+" FROM _mf_objects"+w.sql()+" ORDER BY key LIMIT ?", append(w.args, want)...)
		if err != nil {
			return storage.ObjectPage{}, dbErr(ctx, "listing objects in", c.path, false, err)
		}
		var batch []objectRow
		for rows.Next() {
			o, err := scanObject(rows)
			if err != nil {
				rows.Close()
				return storage.ObjectPage{}, dbErr(ctx, "listing objects in", c.path, false, err)
			}
			batch = append(batch, o)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return storage.ObjectPage{}, dbErr(ctx, "listing objects in", c.path, false, err)
		}
		done = len(batch) < want
		for _, o := range batch {
			rest := strings.TrimPrefix(o.info.Key, opts.Prefix)
			if i := strings.Index(rest, opts.Delimiter); opts.Delimiter != "" && i >= 0 {
				p := o.info.Key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				end, ok := storage.PrefixEnd(p)
				entries = append(entries, entry{prefix: p, resume: cursor{Kind: "o", Key: []byte(end), Incl: true}})
				if !ok {
					done = true
				} else {
					from, done = cursor{Key: []byte(end), Incl: true}, false
				}
				break // seek past the prefix's keys
			}
			info := o.info
			entries = append(entries, entry{obj: &info, resume: cursor{Kind: "o", Key: []byte(o.info.Key)}})
			from = cursor{Key: []byte(o.info.Key)}
		}
	}
	if len(entries) > limit {
		entries = entries[:limit]
		page.Cursor = entries[limit-1].resume.encode()
	}
	for _, e := range entries {
		if e.obj != nil {
			page.Objects = append(page.Objects, *e.obj)
		} else {
			page.Prefixes = append(page.Prefixes, e.prefix)
		}
	}
	return page, nil
}
