package local

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// kvStore is Workers KV on the local store.
type kvStore struct{ b *Backend }

var _ storage.KV = (*kvStore)(nil)

// purgeBatch bounds how many expired values one write deletes on the way, so
// that a write after a mass expiry is not slowed by all of it at once.
const purgeBatch = 256

// kvInlineMax is the largest value kept in its row. A larger one is a blob
// file, written and installed as an object's bytes are, so that putting and
// getting it streams and memory does not grow with its size. Small values
// stay inline: one row read is faster than a row and a file.
const kvInlineMax = 64 << 10

func errNoNamespace(id string) error {
	// The same words as storage.Guard's, so a missing namespace reads alike
	// whichever layer notices it.
	return storage.Errorf(storage.CodeNotFound, "namespace %q: no such KV namespace (call list_kv_namespaces to see them)", id)
}

// namespaceExists fails with not_found unless namespace id exists.
func namespaceExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM kv_namespaces WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoNamespace(id)
	}
	return dbErr(ctx, "reading namespace", err)
}

func (k *kvStore) ListNamespaces(ctx context.Context, opts storage.ListOptions) (storage.NamespacePage, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return storage.NamespacePage{}, err
	}
	c, err := decodeCursor(opts.Cursor, kindNamespaces)
	if err != nil {
		return storage.NamespacePage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultNamespaceList, storage.MaxNamespaceList)

	var w where
	prefix(&w, "title", opts.Prefix) // BINARY collation compares the UTF-8 bytes
	if opts.Cursor != "" {
		w.add("(title, id) > (?, ?)", string(c.Key), c.ID)
	}
	rows, err := st.q().QueryContext(ctx,
		"SELECT id, title FROM kv_namespaces"+w.sql()+" ORDER BY title, id LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return storage.NamespacePage{}, dbErr(ctx, "listing namespaces", err)
	}
	defer rows.Close()
	page := storage.NamespacePage{Namespaces: []storage.Namespace{}}
	for rows.Next() {
		var ns storage.Namespace
		if err := rows.Scan(&ns.ID, &ns.Title); err != nil {
			return storage.NamespacePage{}, dbErr(ctx, "listing namespaces", err)
		}
		page.Namespaces = append(page.Namespaces, ns)
	}
	if err := rows.Err(); err != nil {
		return storage.NamespacePage{}, dbErr(ctx, "listing namespaces", err)
	}
	if len(page.Namespaces) > limit {
		page.Namespaces = page.Namespaces[:limit]
		last := page.Namespaces[limit-1]
		page.Cursor = cursor{Kind: kindNamespaces, Key: []byte(last.Title), ID: last.ID}.encode()
	}
	return page, nil
}

func (k *kvStore) GetNamespace(ctx context.Context, id string) (storage.Namespace, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return storage.Namespace{}, err
	}
	ns := storage.Namespace{ID: id}
	err = st.q().QueryRowContext(ctx, "SELECT title FROM kv_namespaces WHERE id = ?", id).Scan(&ns.Title)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Namespace{}, errNoNamespace(id)
	}
	if err != nil {
		return storage.Namespace{}, dbErr(ctx, "reading namespace", err)
	}
	return ns, nil
}

// titleFree fails with already_exists when a namespace other than self
// holds title.
func titleFree(ctx context.Context, tx querier, title, self string) error {
	var other string
	err := tx.QueryRowContext(ctx, "SELECT id FROM kv_namespaces WHERE title = ? AND id <> ?", title, self).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return dbErr(ctx, "reading namespace", err)
	}
	return storage.Errorf(storage.CodeAlreadyExists, "a KV namespace titled %q already exists (id %s)", title, other)
}

func (k *kvStore) CreateNamespace(ctx context.Context, title string) (storage.Namespace, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return storage.Namespace{}, err
	}
	ns := storage.Namespace{ID: randomID(), Title: title}
	err = st.update(ctx, "creating namespace", func(ctx context.Context, tx queries) error {
		if err := titleFree(ctx, tx, title, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO kv_namespaces (id, title, created_ms) VALUES (?, ?, ?)",
			ns.ID, ns.Title, st.now().UnixMilli())
		return dbErr(ctx, "creating namespace", err)
	})
	if err != nil {
		return storage.Namespace{}, err
	}
	return ns, nil
}

func (k *kvStore) RenameNamespace(ctx context.Context, id, title string) error {
	st, err := k.b.open(ctx)
	if err != nil {
		return err
	}
	return st.update(ctx, "renaming namespace", func(ctx context.Context, tx queries) error {
		if err := namespaceExists(ctx, tx, id); err != nil {
			return err
		}
		if err := titleFree(ctx, tx, title, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE kv_namespaces SET title = ? WHERE id = ?", title, id)
		return dbErr(ctx, "renaming namespace", err)
	})
}

func (k *kvStore) DeleteNamespace(ctx context.Context, id string) error {
	st, err := k.b.open(ctx)
	if err != nil {
		return err
	}
	var unused []string // the blobs of the namespace's values
	err = st.update(ctx, "deleting namespace", func(ctx context.Context, tx queries) error {
		// The namespace's values go with it (ON DELETE CASCADE); their
		// blobs are removed once that is committed.
		rows, err := tx.QueryContext(ctx, "SELECT blob_id FROM kv_values WHERE namespace_id = ? AND blob_id IS NOT NULL", id)
		if err != nil {
			return dbErr(ctx, "deleting namespace", err)
		}
		defer rows.Close()
		for rows.Next() {
			var blob string
			if err := rows.Scan(&blob); err != nil {
				return dbErr(ctx, "deleting namespace", err)
			}
			unused = append(unused, blob)
		}
		if err := rows.Err(); err != nil {
			return dbErr(ctx, "deleting namespace", err)
		}
		rows.Close()
		res, err := tx.ExecContext(ctx, "DELETE FROM kv_namespaces WHERE id = ?", id)
		if err != nil {
			return dbErr(ctx, "deleting namespace", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr(ctx, "deleting namespace", err)
		}
		if n == 0 {
			return errNoNamespace(id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	st.removeBlobs(unused)
	return nil
}

// kvRow is a stored value: inline in value, or in the blob blobID.
type kvRow struct {
	exp    int64
	meta   sql.NullString
	value  []byte // the value when it is inline
	blobID string // "" when the value is inline
	size   int64
}

// scanValue scans dest, then expiration, metadata, value, blob_id and
// blob_size.
func scanValue(row interface{ Scan(...any) error }, dest ...any) (kvRow, error) {
	var (
		r    kvRow
		blob sql.NullString
		size sql.NullInt64
	)
	if err := row.Scan(append(dest, &r.exp, &r.meta, &r.value, &blob, &size)...); err != nil {
		return kvRow{}, err
	}
	r.blobID = blob.String
	if blob.Valid {
		r.value, r.size = nil, size.Int64
	} else {
		r.size = int64(len(r.value))
	}
	return r, nil
}

// readValue reads the row of key in namespace ns, if it has not expired.
//
// The read is over in microseconds, and a context that can end would make
// database/sql and the driver each start a goroutine per read to watch it,
// which costs more than the read: ctx is checked before, and the read runs
// to its end.
func readValue(ctx context.Context, q querier, ns, key string, now int64) (kvRow, error) {
	if err := ctx.Err(); err != nil {
		return kvRow{}, dbErr(ctx, "reading value", err)
	}
	// One statement tells a missing namespace from a missing key.
	var found bool
	r, err := scanValue(q.QueryRowContext(context.WithoutCancel(ctx), `
SELECT v.key IS NOT NULL, coalesce(v.expiration, 0), v.metadata, v.value, v.blob_id, v.blob_size
FROM kv_namespaces n
LEFT JOIN kv_values v ON v.namespace_id = n.id AND v.key = ? AND (v.expiration = 0 OR v.expiration > ?)
WHERE n.id = ?`, []byte(key), now, ns), &found)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return kvRow{}, errNoNamespace(ns)
	case err != nil:
		return kvRow{}, dbErr(ctx, "reading value", err)
	case !found:
		return kvRow{}, errNoKey(ns, key)
	}
	return r, nil
}

func errNoKey(ns, key string) error {
	return storage.Errorf(storage.CodeNotFound, "key %q: not found in KV namespace %s", key, ns)
}

// withValueBlob reads the row of key and, when its value is a blob, calls
// fn with it. As in withBlob, fs.ErrNotExist from fn means a concurrent
// write removed the blob after the row was read, so the row is read again.
func (s *store) withValueBlob(ctx context.Context, ns, key string, fn func(kvRow) error) (kvRow, error) {
	var missing string
	for range maxBlobAttempts {
		r, err := readValue(ctx, s.q(), ns, key, s.now().Unix())
		if err != nil || r.blobID == "" {
			return r, err
		}
		if r.blobID == missing {
			return kvRow{}, storage.Errorf(storage.CodeInternal,
				"key %q in KV namespace %s: its data file %s is missing from %s", key, ns, missing, s.blobs)
		}
		err = fn(r)
		if !errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
		missing = r.blobID
	}
	return kvRow{}, storage.Errorf(storage.CodeUnavailable,
		"key %q in KV namespace %s was overwritten %d times while being opened: try again", key, ns, maxBlobAttempts)
}

// readBlobValue reads the whole blob of r, for BulkGet. An error matching
// fs.ErrNotExist says the blob is gone.
func (s *store) readBlobValue(ctx context.Context, key string, r kvRow) ([]byte, error) {
	f, err := s.openBlob(r.blobID)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkBlobSize(f, fmt.Sprintf("key %q", key), r.size); err != nil {
		return nil, err
	}
	value := make([]byte, r.size)
	if _, err := io.ReadFull(f, value); err != nil {
		return nil, fsErr(ctx, "reading value data", err)
	}
	return value, nil
}

func (k *kvStore) Get(ctx context.Context, namespaceID, key string) (*storage.KVValue, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return nil, err
	}
	var f *os.File
	r, err := st.withValueBlob(ctx, namespaceID, key, func(r kvRow) error {
		var err error
		f, err = st.openBlob(r.blobID)
		return err
	})
	if err != nil {
		if !isStorageErr(err) {
			err = fsErr(ctx, "opening value data", err)
		}
		return nil, err
	}
	v := &storage.KVValue{
		Key:        key,
		Size:       r.size,
		Metadata:   rawJSON(r.meta),
		Expiration: r.exp,
	}
	if r.blobID == "" {
		v.Body = io.NopCloser(bytes.NewReader(r.value))
		return v, nil
	}
	// Once open, the file stays readable whatever a writer does next.
	if err := checkBlobSize(f, fmt.Sprintf("key %q", key), r.size); err != nil {
		f.Close()
		return nil, err
	}
	v.Body = &objectBody{ctx: ctx, op: "reading value data", r: io.NewSectionReader(f, 0, r.size), f: f}
	return v, nil
}

func (k *kvStore) Put(ctx context.Context, namespaceID string, put storage.KVPut) error {
	st, err := k.b.open(ctx)
	if err != nil {
		return err
	}
	w := kvWrite{key: put.Key, meta: put.Metadata, expiry: put.Expiry}
	if put.Size <= kvInlineMax {
		if w.value, err = readExactly(put.Body, put.Size); err != nil {
			return err
		}
		return st.writeValues(ctx, "writing value", namespaceID, []kvWrite{w})
	}
	// Fail before streaming up to 25 MiB into a missing namespace.
	if err := namespaceExists(ctx, st.q(), namespaceID); err != nil {
		return err
	}
	tmp, _, err := st.receive(ctx, "value", put.Body, put.Size, nil, false)
	if err != nil {
		return err
	}
	if w.blobID, err = st.install(ctx, tmp); err != nil {
		return err
	}
	w.size = put.Size
	return st.writeValues(ctx, "writing value", namespaceID, []kvWrite{w})
}

// kvWrite is one value to write: inline, or in the installed blob blobID.
type kvWrite struct {
	key    string
	value  []byte // when inline
	blobID string // "" when inline
	size   int64  // of the blob
	meta   json.RawMessage
	expiry storage.Expiry
}

// args are the parameters of upsertValueSQL.
func (w kvWrite) args(ns string, now int64) []any {
	value, blob, size := w.value, any(nil), any(nil)
	if value == nil {
		value = []byte{} // NOT NULL: an empty value is a value
	}
	if w.blobID != "" {
		value, blob, size = []byte{}, w.blobID, w.size
	}
	return []any{ns, []byte(w.key), expiration(w.expiry, now), nullJSON(w.meta), value, blob, size}
}

const upsertValueSQL = `
INSERT INTO kv_values (namespace_id, key, expiration, metadata, value, blob_id, blob_size) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (namespace_id, key) DO UPDATE SET
	expiration = excluded.expiration, metadata = excluded.metadata, value = excluded.value,
	blob_id = excluded.blob_id, blob_size = excluded.blob_size`

// writeValues writes values into namespace ns in one transaction, then
// removes the blobs of the values it replaced or purged. If the
// transaction fails, the blobs of writes are removed too, unless the
// commit itself failed (see commitObject).
func (s *store) writeValues(ctx context.Context, op, ns string, writes []kvWrite) error {
	now := s.now().Unix()
	var unused []string // blobs that no row names once this commits
	err := s.update(ctx, op, func(ctx context.Context, tx queries) error {
		if err := namespaceExists(ctx, tx, ns); err != nil {
			return err
		}
		purged, err := purgeExpired(ctx, tx, now)
		if err != nil {
			return err
		}
		unused = purged
		old, err := tx.stmt(ctx, "SELECT blob_id FROM kv_values WHERE namespace_id = ? AND key = ? AND blob_id IS NOT NULL")
		if err != nil {
			return dbErr(ctx, op, err)
		}
		upsert, err := tx.stmt(ctx, upsertValueSQL)
		if err != nil {
			return dbErr(ctx, op, err)
		}
		for _, w := range writes {
			var replaced string
			err := old.QueryRowContext(ctx, ns, []byte(w.key)).Scan(&replaced)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return dbErr(ctx, op, err)
			default:
				unused = append(unused, replaced)
			}
			if _, err := upsert.ExecContext(ctx, w.args(ns, now)...); err != nil {
				return dbErr(ctx, op, err)
			}
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errCommit) {
			s.removeWritten(writes)
		}
		return err
	}
	s.removeBlobs(unused)
	return nil
}

// removeWritten removes the blobs of writes that were not committed.
func (s *store) removeWritten(writes []kvWrite) {
	for _, w := range writes {
		if w.blobID != "" {
			s.removeBlob(w.blobID)
		}
	}
}

func (s *store) removeBlobs(ids []string) {
	for _, id := range ids {
		s.removeBlob(id)
	}
}

// purgeExpired deletes up to purgeBatch values that expired by now, and
// returns the blobs they named, for the caller to remove once it commits.
// Reads already hide them; this only reclaims their space.
func purgeExpired(ctx context.Context, tx querier, now int64) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `
DELETE FROM kv_values WHERE rowid IN (
	SELECT rowid FROM kv_values WHERE expiration > 0 AND expiration <= ? LIMIT ?)
RETURNING blob_id`, now, purgeBatch)
	if err != nil {
		return nil, dbErr(ctx, "purging expired values", err)
	}
	defer rows.Close()
	var blobs []string
	for rows.Next() {
		var id sql.NullString
		if err := rows.Scan(&id); err != nil {
			return nil, dbErr(ctx, "purging expired values", err)
		}
		if id.Valid {
			blobs = append(blobs, id.String)
		}
	}
	return blobs, dbErr(ctx, "purging expired values", rows.Err())
}

// expiration turns an Expiry into an absolute time: a TTL counts from now,
// the time of the write, as Cloudflare's does.
func expiration(e storage.Expiry, now int64) int64 {
	if e.TTL > 0 {
		return now + e.TTL
	}
	return max(e.Expiration, 0)
}

// readExactly reads a value of size bytes from r, and fails without having
// stored anything when r holds fewer or more.
func readExactly(r io.Reader, size int64) ([]byte, error) {
	if r == nil {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "value: is required")
	}
	if size < 0 {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "value: size %d is negative", size)
	}
	// Allocated once for any size Put keeps inline; MinRead of slack
	// keeps ReadFrom from doubling the buffer for its final check.
	buf := bytes.NewBuffer(make([]byte, 0, min(size, kvInlineMax)+bytes.MinRead))
	n, err := buf.ReadFrom(io.LimitReader(r, size))
	if err != nil {
		return nil, fmt.Errorf("local: reading the value: %w", err)
	}
	if n < size {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "value: got %d bytes where its size says %d", n, size)
	}
	var extra [1]byte
	if m, _ := io.ReadFull(r, extra[:]); m > 0 {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "value: holds more bytes than its size of %d", size)
	}
	return buf.Bytes(), nil
}

func (k *kvStore) Delete(ctx context.Context, namespaceID, key string) error {
	_, err := k.BulkDelete(ctx, namespaceID, []string{key})
	return err
}

func (k *kvStore) List(ctx context.Context, namespaceID string, opts storage.ListOptions) (storage.KeyPage, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return storage.KeyPage{}, err
	}
	c, err := decodeCursor(opts.Cursor, kindKeys)
	if err != nil {
		return storage.KeyPage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultKVListLimit, storage.MaxKVListLimit)

	w := where{conds: []string{"namespace_id = ?", "(expiration = 0 OR expiration > ?)"}, args: []any{namespaceID, st.now().Unix()}}
	prefix(&w, "key", []byte(opts.Prefix))
	if opts.Cursor != "" {
		w.add("key > ?", c.Key)
	}
	page := storage.KeyPage{Keys: []storage.KeyInfo{}}
	err = st.view(ctx, "listing keys", func(tx queries) error {
		if err := namespaceExists(ctx, tx, namespaceID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx,
			"SELECT key, expiration, metadata FROM kv_values"+w.sql()+" ORDER BY key LIMIT ?", append(w.args, limit+1)...)
		if err != nil {
			return dbErr(ctx, "listing keys", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				key  []byte
				info storage.KeyInfo
				meta sql.NullString
			)
			if err := rows.Scan(&key, &info.Expiration, &meta); err != nil {
				return dbErr(ctx, "listing keys", err)
			}
			info.Name, info.Metadata = string(key), rawJSON(meta)
			page.Keys = append(page.Keys, info)
		}
		return dbErr(ctx, "listing keys", rows.Err())
	})
	if err != nil {
		return storage.KeyPage{}, err
	}
	if len(page.Keys) > limit {
		page.Keys = page.Keys[:limit]
		page.Cursor = cursor{Kind: kindKeys, Key: []byte(page.Keys[limit-1].Name)}.encode()
	}
	return page, nil
}

func (k *kvStore) BulkPut(ctx context.Context, namespaceID string, entries []storage.KVEntry) (storage.BulkPutResult, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return storage.BulkPutResult{}, err
	}
	writes := make([]kvWrite, len(entries))
	checked := false
	for i, e := range entries {
		writes[i] = kvWrite{key: e.Key, value: e.Value, meta: e.Metadata, expiry: e.Expiry}
		if len(e.Value) <= kvInlineMax {
			continue
		}
		// A large value is a blob, as Put makes it, so that Get streams it.
		if !checked {
			if err := namespaceExists(ctx, st.q(), namespaceID); err != nil {
				return storage.BulkPutResult{}, err
			}
			checked = true
		}
		id, err := st.storeValue(ctx, e.Value)
		if err != nil {
			st.removeWritten(writes[:i])
			return storage.BulkPutResult{}, err
		}
		writes[i].value, writes[i].blobID, writes[i].size = nil, id, int64(len(e.Value))
	}
	// All or nothing: one transaction.
	if err := st.writeValues(ctx, "writing values", namespaceID, writes); err != nil {
		return storage.BulkPutResult{}, err
	}
	return storage.BulkPutResult{Written: len(entries), Failed: []string{}}, nil
}

// storeValue writes value into a new blob and returns its id.
func (s *store) storeValue(ctx context.Context, value []byte) (string, error) {
	tmp, _, err := s.receive(ctx, "value", bytes.NewReader(value), int64(len(value)), nil, false)
	if err != nil {
		return "", err
	}
	return s.install(ctx, tmp)
}

// BulkGet checks opts.MaxBytes against the sizes in the rows, before any
// blob is read, and again once the values are read (a value overwritten
// meanwhile is read again, and may have grown).
func (k *kvStore) BulkGet(ctx context.Context, namespaceID string, keys []string, opts storage.BulkGetOptions) ([]storage.KVItem, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return nil, err
	}
	now := st.now().Unix()
	items := make([]storage.KVItem, 0, len(keys))
	blobs := map[int]kvRow{} // by index in items: the values to read from their blobs
	over := func(total int64) bool { return opts.MaxBytes > 0 && total > opts.MaxBytes }
	var total int64
	err = st.view(ctx, "reading values", func(tx queries) error {
		if err := namespaceExists(ctx, tx, namespaceID); err != nil {
			return err
		}
		stmt, err := tx.stmt(ctx, `
SELECT expiration, metadata, value, blob_id, blob_size FROM kv_values
WHERE namespace_id = ? AND key = ? AND (expiration = 0 OR expiration > ?)`)
		if err != nil {
			return dbErr(ctx, "reading values", err)
		}
		for _, key := range keys {
			it := storage.KVItem{Key: key}
			r, err := scanValue(stmt.QueryRowContext(ctx, namespaceID, []byte(key), now))
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return dbErr(ctx, "reading values", err)
			default:
				if total += r.size; over(total) {
					return storage.ErrBulkGetTooLarge(opts.MaxBytes)
				}
				it.Found, it.Value, it.Metadata, it.Expiration = true, r.value, rawJSON(r.meta), r.exp
				if r.blobID != "" {
					blobs[len(items)] = r
				}
				if it.Value == nil {
					it.Value = []byte{}
				}
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The result holds the values in memory: the blobs are read whole,
	// outside the read transaction.
	for i, r := range blobs {
		if err := st.fillFromBlob(ctx, namespaceID, &items[i], r); err != nil {
			return nil, err
		}
	}
	total = 0
	for _, it := range items {
		if total += int64(len(it.Value)); over(total) {
			return nil, storage.ErrBulkGetTooLarge(opts.MaxBytes)
		}
	}
	return items, nil
}

// fillFromBlob sets it.Value to the bytes of the blob of r. When a write
// has removed that blob since, it reads the key again, as Get would.
func (s *store) fillFromBlob(ctx context.Context, ns string, it *storage.KVItem, r kvRow) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: reading values: %w", err)
	}
	value, err := s.readBlobValue(ctx, it.Key, r)
	if errors.Is(err, fs.ErrNotExist) {
		r, err = s.withValueBlob(ctx, ns, it.Key, func(r kvRow) error {
			value, err = s.readBlobValue(ctx, it.Key, r)
			return err
		})
		switch {
		case errors.Is(err, storage.ErrNotFound):
			// Deleted meanwhile (with its namespace, maybe): found no more.
			*it = storage.KVItem{Key: it.Key}
			return nil
		case err == nil && r.blobID == "":
			value = r.value // overwritten by an inline value
		}
		it.Metadata, it.Expiration = rawJSON(r.meta), r.exp
	}
	if err != nil {
		if !isStorageErr(err) {
			err = fsErr(ctx, "reading value data", err)
		}
		return err
	}
	if value == nil {
		value = []byte{}
	}
	it.Value = value
	return nil
}

func (k *kvStore) BulkDelete(ctx context.Context, namespaceID string, keys []string) (int, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return 0, err
	}
	now := st.now().Unix()
	var unused []string // the blobs of the deleted values
	err = st.update(ctx, "deleting values", func(ctx context.Context, tx queries) error {
		if err := namespaceExists(ctx, tx, namespaceID); err != nil {
			return err
		}
		purged, err := purgeExpired(ctx, tx, now)
		if err != nil {
			return err
		}
		unused = purged
		stmt, err := tx.stmt(ctx, "DELETE FROM kv_values WHERE namespace_id = ? AND key = ? RETURNING blob_id")
		if err != nil {
			return dbErr(ctx, "deleting values", err)
		}
		for _, key := range keys {
			var id sql.NullString
			err := stmt.QueryRowContext(ctx, namespaceID, []byte(key)).Scan(&id)
			switch {
			case errors.Is(err, sql.ErrNoRows): // absent: deleted all the same
			case err != nil:
				return dbErr(ctx, "deleting values", err)
			case id.Valid:
				unused = append(unused, id.String)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	st.removeBlobs(unused)
	// Like Cloudflare's successful_key_count: every key asked for is gone,
	// whether or not it was there.
	return len(keys), nil
}

// nullJSON stores absent metadata as NULL.
func nullJSON(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

func rawJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

// where builds the WHERE clause of a listing.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// prefix confines col to values starting with p, as a range the index
// serves. The bounds are bound with p's type: strings for TEXT columns,
// bytes for BLOB ones (SQLite sorts every TEXT below every BLOB).
func prefix[T string | []byte](w *where, col string, p T) {
	if len(p) == 0 {
		return
	}
	w.add(col+" >= ?", p)
	if end, ok := storage.PrefixEnd([]byte(p)); ok {
		w.add(col+" < ?", T(end))
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
