package miniflare

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
	"slices"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// kvSchema is Miniflare's own (workers/shared/keyvalue.worker.ts): a
// namespace the Worker never used gets exactly these tables from a write.
// Every value is a blob; expiration is in milliseconds; metadata is the
// JSON text of the value's metadata, NULL for none.
const kvSchema = `
CREATE TABLE IF NOT EXISTS _mf_entries (
  key TEXT PRIMARY KEY,
  blob_id TEXT NOT NULL,
  expiration INTEGER,
  metadata TEXT
);
CREATE INDEX IF NOT EXISTS _mf_entries_expiration_idx ON _mf_entries(expiration);
`

var kvTable = table{name: "_mf_entries", cols: []string{"key", "blob_id", "expiration", "metadata"}}

// maxBlobAttempts bounds how often a read chases a value or object that
// keeps being replaced between reading its row and opening its blob.
const maxBlobAttempts = 5

// kvStore is Workers KV over the persisted state.
type kvStore struct{ s *Store }

var _ storage.KV = (*kvStore)(nil)

func errNoNamespace(id string) error {
	return storage.Errorf(storage.CodeNotFound, "namespace %q: no such KV namespace in the wrangler config (call list_kv_namespaces to see them)", id)
}

func errNoKey(ns, key string) error {
	return storage.Errorf(storage.CodeNotFound, "key %q: not found in KV namespace %s", key, ns)
}

// namespace finds the binding of id.
func (k *kvStore) namespace(id string) (Namespace, error) {
	for _, ns := range k.s.bindings().KV {
		if ns.ID == id {
			return ns, nil
		}
	}
	return Namespace{}, errNoNamespace(id)
}

func (k *kvStore) file(ns string) string    { return k.s.objectFile(areaKV, ns) }
func (k *kvStore) blobDir(ns string) string { return k.s.blobDir(areaKV, ns) }

func (k *kvStore) ListNamespaces(ctx context.Context, opts storage.ListOptions) (storage.NamespacePage, error) {
	c, err := decodeCursor(opts.Cursor, "ns")
	if err != nil {
		return storage.NamespacePage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultNamespaceList, storage.MaxNamespaceList)
	all := slices.Clone(k.s.bindings().KV)
	slices.SortFunc(all, func(a, b Namespace) int {
		return cmp2(a.Title, b.Title, a.ID, b.ID)
	})
	page := storage.NamespacePage{Namespaces: []storage.Namespace{}}
	for _, ns := range all {
		if !strings.HasPrefix(ns.Title, opts.Prefix) || opts.Cursor != "" && cmp2(ns.Title, string(c.Key), ns.ID, c.ID) <= 0 {
			continue
		}
		if len(page.Namespaces) == limit {
			last := page.Namespaces[limit-1]
			page.Cursor = cursor{Kind: "ns", Key: []byte(last.Title), ID: last.ID}.encode()
			break
		}
		page.Namespaces = append(page.Namespaces, storage.Namespace{ID: ns.ID, Title: ns.Title})
	}
	return page, nil
}

func (k *kvStore) GetNamespace(ctx context.Context, id string) (storage.Namespace, error) {
	ns, err := k.namespace(id)
	if err != nil {
		return storage.Namespace{}, err
	}
	return storage.Namespace{ID: ns.ID, Title: ns.Title}, nil
}

func (k *kvStore) CreateNamespace(ctx context.Context, title string) (storage.Namespace, error) {
	return storage.Namespace{}, errCreateNamespace(title)
}

func (k *kvStore) RenameNamespace(ctx context.Context, id, title string) error {
	return errConfigOwned("renaming a KV namespace", "change the binding's name in the wrangler config")
}

func (k *kvStore) DeleteNamespace(ctx context.Context, id string) error {
	return errConfigOwned("deleting a KV namespace", "remove its [[kv_namespaces]] block from the wrangler config")
}

// kvRow is a stored value's row.
type kvRow struct {
	blobID string
	exp    sql.NullInt64 // milliseconds
	meta   sql.NullString
}

func (r kvRow) expiration() int64 {
	if !r.exp.Valid {
		return 0
	}
	return r.exp.Int64 / 1000
}

func (r kvRow) metadata() json.RawMessage {
	if !r.meta.Valid {
		return nil
	}
	return json.RawMessage(r.meta.String)
}

// notExpired is the condition of a live value. Miniflare hides a value
// whose expiration is at or before now (its get; its list keeps one that
// expires this very millisecond); this package hides both alike.
const notExpired = "(expiration IS NULL OR expiration > ?)"

// readRow reads the row of key; found is false when it is absent or
// expired, or the namespace holds nothing yet.
func (k *kvStore) readRow(ctx context.Context, ns, key string) (r kvRow, found bool, err error) {
	c, empty, err := k.s.openRead(ctx, k.file(ns), kvTable)
	if errors.Is(err, errNoFile) || err == nil && empty {
		if c != nil {
			c.Close()
		}
		return kvRow{}, false, nil
	}
	if err != nil {
		return kvRow{}, false, err
	}
	defer c.Close()
	err = c.QueryRowContext(ctx, "SELECT blob_id, expiration, metadata FROM _mf_entries WHERE key = ? AND "+notExpired,
		key, k.s.opts.Now().UnixMilli()).Scan(&r.blobID, &r.exp, &r.meta)
	if errors.Is(err, sql.ErrNoRows) {
		return kvRow{}, false, nil
	}
	if err != nil {
		return kvRow{}, false, dbErr(ctx, "reading a value from", c.path, false, err)
	}
	return r, true, nil
}

// openValue reads the row of key and opens its blob. When the blob is gone
// (a write replaced the value meanwhile), the row is read again.
func (k *kvStore) openValue(ctx context.Context, ns, key string) (kvRow, *os.File, error) {
	for range maxBlobAttempts {
		r, found, err := k.readRow(ctx, ns, key)
		if err != nil {
			return kvRow{}, nil, err
		}
		if !found {
			return kvRow{}, nil, errNoKey(ns, key)
		}
		f, err := openBlob(k.blobDir(ns), r.blobID)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			if !isStorageErr(err) {
				err = fsErr(ctx, "opening the value of "+key, err)
			}
			return kvRow{}, nil, err
		}
		return r, f, nil
	}
	return kvRow{}, nil, storage.Errorf(storage.CodeUnavailable,
		"key %q in KV namespace %s: its data file %s is missing, or the value was replaced %d times while being opened: try again",
		key, ns, k.blobDir(ns), maxBlobAttempts)
}

func (k *kvStore) Get(ctx context.Context, namespaceID, key string) (*storage.KVValue, error) {
	if _, err := k.namespace(namespaceID); err != nil {
		return nil, err
	}
	r, f, err := k.openValue(ctx, namespaceID, key)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fsErr(ctx, "reading the value of "+key, err)
	}
	return &storage.KVValue{
		Key:        key,
		Size:       fi.Size(),
		Metadata:   r.metadata(),
		Expiration: r.expiration(),
		Body:       &ctxBody{ctx: ctx, f: f},
	}, nil
}

// kvWrite is one value to write.
type kvWrite struct {
	key  string
	body io.Reader
	size int64
	meta json.RawMessage
	exp  storage.Expiry
}

func (k *kvStore) Put(ctx context.Context, namespaceID string, put storage.KVPut) error {
	return k.write(ctx, namespaceID, []kvWrite{{key: put.Key, body: put.Body, size: put.Size, meta: put.Metadata, exp: put.Expiry}})
}

func (k *kvStore) BulkPut(ctx context.Context, namespaceID string, entries []storage.KVEntry) (storage.BulkPutResult, error) {
	writes := make([]kvWrite, len(entries))
	for i, e := range entries {
		writes[i] = kvWrite{key: e.Key, body: bytes.NewReader(e.Value), size: int64(len(e.Value)), meta: e.Metadata, exp: e.Expiry}
	}
	if err := k.write(ctx, namespaceID, writes); err != nil {
		return storage.BulkPutResult{}, err
	}
	return storage.BulkPutResult{Written: len(entries), Failed: []string{}}, nil
}

// write stores values, all or none, as Miniflare's put does (a blob, then
// INSERT OR REPLACE of the row), and is safe against a crash at any step:
//
//  1. checkWritable: wrangler dev must not be running; nothing written yet.
//  2. Each value's bytes become a blob (writeBlob: temp file, fsync,
//     rename to its id, fsync of the folder; for a bulk write, the files
//     and renames of all of them, then one syncBlobs). A crash here leaves a temp
//     file (swept after an hour) or whole blobs that no row names: Miniflare
//     reaches a blob only through its row, so they are never read, only
//     leaked (as Miniflare's own interrupted puts leak them).
//  3. One transaction, under the connection's exclusive lock, replaces the
//     rows. Until it commits, the namespace is as it was; SQLite's WAL
//     makes the commit all or nothing. A failed transaction removes the
//     new blobs.
//  4. The blobs of the replaced values are removed. A crash before that
//     leaves them unnamed: leaked, never read.
//
// So no row ever names a blob that is not whole on disk, and a reader sees
// every value of a bulk write or none.
func (k *kvStore) write(ctx context.Context, ns string, writes []kvWrite) (err error) {
	if _, err := k.namespace(ns); err != nil {
		return err
	}
	if err := k.s.checkWritable(); err != nil {
		return err
	}
	metas := make([]any, len(writes))
	for i, w := range writes {
		if metas[i], err = compactJSON(w.meta); err != nil {
			return err
		}
	}
	dir := k.blobDir(ns)
	k.s.sweepTemps(dir)
	ids := make([]string, 0, len(writes))
	defer func() {
		if err != nil {
			k.s.removeBlobs(dir, ids)
		}
	}()
	for _, w := range writes {
		id, _, err := k.s.writeBlob(ctx, dir, w.body, blobWrite{field: "value", size: w.size, deferSync: len(writes) > 1})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if len(writes) > 1 {
		if err := syncBlobs(dir, ids); err != nil {
			return fsErr(ctx, "syncing the blobs of a bulk write", err)
		}
	}
	k.s.reached("blobs written")
	c, err := k.s.openWrite(ctx, k.file(ns), kvSchema, kvTable)
	if err != nil {
		return err
	}
	defer c.Close()
	now := k.s.opts.Now()
	var replaced []string
	err = inTx(ctx, c, "writing values to", func(tx *sql.Tx) error {
		for i, w := range writes {
			var old string
			err := tx.QueryRowContext(ctx, "SELECT blob_id FROM _mf_entries WHERE key = ?", w.key).Scan(&old)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			default:
				replaced = append(replaced, old)
			}
			_, err = tx.ExecContext(ctx, "INSERT OR REPLACE INTO _mf_entries (key, blob_id, expiration, metadata) VALUES (?, ?, ?, ?)",
				w.key, ids[i], expirationMillis(w.exp, now.Unix()), metas[i])
			if err != nil {
				return err
			}
		}
		k.s.reached("rows written")
		return nil
	})
	if err != nil {
		return err
	}
	k.s.reached("committed")
	k.s.removeBlobs(dir, replaced)
	return nil
}

// inTx runs fn in one transaction of c, and gives its error a code.
func inTx(ctx context.Context, c *conn, op string, fn func(*sql.Tx) error) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, op, c.path, true, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		if isStorageErr(err) {
			return err
		}
		return dbErr(ctx, op, c.path, true, err)
	}
	return dbErr(ctx, op, c.path, true, tx.Commit())
}

// expirationMillis is the expiration column of a write: milliseconds, NULL
// for none. A TTL counts from now, as Cloudflare's and Miniflare's do.
func expirationMillis(e storage.Expiry, now int64) any {
	switch {
	case e.TTL > 0:
		return (now + e.TTL) * 1000
	case e.Expiration > 0:
		return e.Expiration * 1000
	}
	return nil
}

// compactJSON is the metadata column of a write: Miniflare stores
// JSON.stringify of the parsed metadata, so compact JSON; NULL for none.
func compactJSON(m json.RawMessage) (any, error) {
	if m == nil {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "metadata: is not valid JSON: %v", err)
	}
	return b.String(), nil
}

func (k *kvStore) Delete(ctx context.Context, namespaceID, key string) error {
	_, err := k.BulkDelete(ctx, namespaceID, []string{key})
	return err
}

func (k *kvStore) BulkDelete(ctx context.Context, namespaceID string, keys []string) (int, error) {
	if _, err := k.namespace(namespaceID); err != nil {
		return 0, err
	}
	if err := k.s.checkWritable(); err != nil {
		return 0, err
	}
	if _, err := os.Stat(k.file(namespaceID)); errors.Is(err, fs.ErrNotExist) {
		return len(keys), nil // nothing was ever written: every key is gone already
	}
	c, err := k.s.openWrite(ctx, k.file(namespaceID), kvSchema, kvTable)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var removed []string
	err = inTx(ctx, c, "deleting values from", func(tx *sql.Tx) error {
		for _, key := range keys {
			var id string
			err := tx.QueryRowContext(ctx, "DELETE FROM _mf_entries WHERE key = ? RETURNING blob_id", key).Scan(&id)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			default:
				removed = append(removed, id)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	k.s.removeBlobs(k.blobDir(namespaceID), removed)
	return len(keys), nil
}

func (k *kvStore) List(ctx context.Context, namespaceID string, opts storage.ListOptions) (storage.KeyPage, error) {
	if _, err := k.namespace(namespaceID); err != nil {
		return storage.KeyPage{}, err
	}
	cur, err := decodeCursor(opts.Cursor, "kv")
	if err != nil {
		return storage.KeyPage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultKVListLimit, storage.MaxKVListLimit)
	page := storage.KeyPage{Keys: []storage.KeyInfo{}}
	c, empty, err := k.s.openRead(ctx, k.file(namespaceID), kvTable)
	if errors.Is(err, errNoFile) {
		return page, nil
	}
	if err != nil {
		return storage.KeyPage{}, err
	}
	defer c.Close()
	if empty {
		return page, nil
	}
	w := where{conds: []string{notExpired}, args: []any{k.s.opts.Now().UnixMilli()}}
	w.prefix("key", opts.Prefix)
	if opts.Cursor != "" {
		w.add("key > ?", string(cur.Key)) // TEXT, as the keys are
	}
	rows, err := c.QueryContext(ctx, "SELECT key, blob_id, expiration, metadata FROM _mf_entries"+w.sql()+" ORDER BY key LIMIT ?",
		append(w.args, limit+1)...)
	if err != nil {
		return storage.KeyPage{}, dbErr(ctx, "listing keys in", c.path, false, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key string
			r   kvRow
		)
		if err := rows.Scan(&key, &r.blobID, &r.exp, &r.meta); err != nil {
			return storage.KeyPage{}, dbErr(ctx, "listing keys in", c.path, false, err)
		}
		page.Keys = append(page.Keys, storage.KeyInfo{Name: key, Expiration: r.expiration(), Metadata: r.metadata()})
	}
	if err := rows.Err(); err != nil {
		return storage.KeyPage{}, dbErr(ctx, "listing keys in", c.path, false, err)
	}
	if len(page.Keys) > limit {
		page.Keys = page.Keys[:limit]
		page.Cursor = cursor{Kind: "kv", Key: []byte(page.Keys[limit-1].Name)}.encode()
	}
	return page, nil
}

// BulkGet checks opts.MaxBytes against the sizes of the blobs before it
// reads them whole.
func (k *kvStore) BulkGet(ctx context.Context, namespaceID string, keys []string, opts storage.BulkGetOptions) ([]storage.KVItem, error) {
	if _, err := k.namespace(namespaceID); err != nil {
		return nil, err
	}
	items := make([]storage.KVItem, 0, len(keys))
	files := make([]*os.File, 0, len(keys))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	var total int64
	sizes := make([]int64, 0, len(keys))
	for _, key := range keys {
		r, f, err := k.openValue(ctx, namespaceID, key)
		if errors.Is(err, storage.ErrNotFound) {
			items, files, sizes = append(items, storage.KVItem{Key: key}), append(files, nil), append(sizes, 0)
			continue
		}
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil {
			return nil, fsErr(ctx, "reading the value of "+key, err)
		}
		if total += fi.Size(); opts.MaxBytes > 0 && total > opts.MaxBytes {
			return nil, storage.ErrBulkGetTooLarge(opts.MaxBytes)
		}
		sizes = append(sizes, fi.Size())
		items = append(items, storage.KVItem{Key: key, Found: true, Metadata: r.metadata(), Expiration: r.expiration()})
	}
	for i, f := range files {
		if f == nil {
			continue
		}
		v := make([]byte, sizes[i])
		if _, err := io.ReadFull(f, v); err != nil {
			return nil, fsErr(ctx, "reading the value of "+items[i].Key, err)
		}
		items[i].Value = v
	}
	return items, nil
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

// prefix confines col to values starting with p, as a range on its index.
func (w *where) prefix(col, p string) {
	if p == "" {
		return
	}
	w.add(col+" >= ?", p)
	if end, ok := storage.PrefixEnd(p); ok {
		w.add(col+" < ?", end)
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// cmp2 orders by a, then by b.
func cmp2(a1, a2, b1, b2 string) int {
	if c := strings.Compare(a1, a2); c != 0 {
		return c
	}
	return strings.Compare(b1, b2)
}

// ctxBody is an open blob that, like a network body, belongs to its
// request: once ctx is done, reads fail with its error.
type ctxBody struct {
	ctx context.Context
	f   *os.File
}

func (b *ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, fmt.Errorf("wrangler state: reading a value: %w", err)
	}
	return b.f.Read(p)
}

func (b *ctxBody) Close() error { return b.f.Close() }
