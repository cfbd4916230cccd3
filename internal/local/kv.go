package local

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// kvStore is Workers KV on the local store.
type kvStore struct{ b *Backend }

var _ storage.KV = (*kvStore)(nil)

// purgeBatch bounds how many expired values one write deletes on the way, so
// that a write after a mass expiry is not slowed by all of it at once.
const purgeBatch = 256

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
	limit := pageSize(opts.Limit, storage.DefaultNamespaceList, storage.MaxNamespaceList)

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
	err = st.update(ctx, "creating namespace", func(tx queries) error {
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
	return st.update(ctx, "renaming namespace", func(tx queries) error {
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
	return st.update(ctx, "deleting namespace", func(tx queries) error {
		// The namespace's values go with it (ON DELETE CASCADE).
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
}

func (k *kvStore) Get(ctx context.Context, namespaceID, key string) (*storage.KVValue, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return nil, err
	}
	// One statement tells a missing namespace from a missing key.
	var (
		found bool
		exp   int64
		meta  sql.NullString
		value []byte
	)
	err = st.q().QueryRowContext(ctx, `
SELECT v.key IS NOT NULL, coalesce(v.expiration, 0), v.metadata, v.value
FROM kv_namespaces n
LEFT JOIN kv_values v ON v.namespace_id = n.id AND v.key = ? AND (v.expiration = 0 OR v.expiration > ?)
WHERE n.id = ?`, []byte(key), st.now().Unix(), namespaceID).Scan(&found, &exp, &meta, &value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errNoNamespace(namespaceID)
	case err != nil:
		return nil, dbErr(ctx, "reading value", err)
	case !found:
		return nil, storage.Errorf(storage.CodeNotFound, "key %q: not found in KV namespace %s", key, namespaceID)
	}
	return &storage.KVValue{
		Key:        key,
		Size:       int64(len(value)),
		Metadata:   rawJSON(meta),
		Expiration: exp,
		Body:       io.NopCloser(bytes.NewReader(value)),
	}, nil
}

func (k *kvStore) Put(ctx context.Context, namespaceID string, put storage.KVPut) error {
	st, err := k.b.open(ctx)
	if err != nil {
		return err
	}
	value, err := readExactly(put.Body, put.Size)
	if err != nil {
		return err
	}
	now := st.now().Unix()
	return st.update(ctx, "writing value", func(tx queries) error {
		if err := namespaceExists(ctx, tx, namespaceID); err != nil {
			return err
		}
		if err := purgeExpired(ctx, tx, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, upsertValueSQL, valueArgs(namespaceID, put.Key, value, put.Metadata, expiration(put.Expiry, now))...)
		return dbErr(ctx, "writing value", err)
	})
}

const upsertValueSQL = `
INSERT INTO kv_values (namespace_id, key, expiration, metadata, value) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (namespace_id, key) DO UPDATE SET
	expiration = excluded.expiration, metadata = excluded.metadata, value = excluded.value`

// valueArgs are the parameters of upsertValueSQL.
func valueArgs(ns, key string, value []byte, meta json.RawMessage, exp int64) []any {
	if value == nil {
		value = []byte{} // NOT NULL: an empty value is a value
	}
	return []any{ns, []byte(key), exp, nullJSON(meta), value}
}

// purgeExpired deletes up to purgeBatch values that expired by now. Reads
// already hide them; this only reclaims their space.
func purgeExpired(ctx context.Context, tx querier, now int64) error {
	_, err := tx.ExecContext(ctx, `
DELETE FROM kv_values WHERE rowid IN (
	SELECT rowid FROM kv_values WHERE expiration > 0 AND expiration <= ? LIMIT ?)`, now, purgeBatch)
	return dbErr(ctx, "purging expired values", err)
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
	// Allocated once for any size Guard lets through; MinRead of slack
	// keeps ReadFrom from doubling the buffer for its final check.
	buf := bytes.NewBuffer(make([]byte, 0, min(size, storage.MaxKVValueBytes)+bytes.MinRead))
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
	limit := pageSize(opts.Limit, storage.DefaultKVListLimit, storage.MaxKVListLimit)

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
	now := st.now().Unix()
	err = st.update(ctx, "writing values", func(tx queries) error {
		if err := namespaceExists(ctx, tx, namespaceID); err != nil {
			return err
		}
		if err := purgeExpired(ctx, tx, now); err != nil {
			return err
		}
		stmt, err := tx.stmt(ctx, upsertValueSQL)
		if err != nil {
			return dbErr(ctx, "writing values", err)
		}
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, valueArgs(namespaceID, e.Key, e.Value, e.Metadata, expiration(e.Expiry, now))...); err != nil {
				return dbErr(ctx, "writing values", err)
			}
		}
		return nil
	})
	if err != nil {
		return storage.BulkPutResult{}, err
	}
	// All or nothing: one transaction.
	return storage.BulkPutResult{Written: len(entries), Failed: []string{}}, nil
}

func (k *kvStore) BulkGet(ctx context.Context, namespaceID string, keys []string) ([]storage.KVItem, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return nil, err
	}
	now := st.now().Unix()
	items := make([]storage.KVItem, 0, len(keys))
	err = st.view(ctx, "reading values", func(tx queries) error {
		if err := namespaceExists(ctx, tx, namespaceID); err != nil {
			return err
		}
		stmt, err := tx.stmt(ctx, `
SELECT expiration, metadata, value FROM kv_values
WHERE namespace_id = ? AND key = ? AND (expiration = 0 OR expiration > ?)`)
		if err != nil {
			return dbErr(ctx, "reading values", err)
		}
		for _, key := range keys {
			it := storage.KVItem{Key: key}
			var meta sql.NullString
			err := stmt.QueryRowContext(ctx, namespaceID, []byte(key), now).Scan(&it.Expiration, &meta, &it.Value)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return dbErr(ctx, "reading values", err)
			default:
				it.Found, it.Metadata = true, rawJSON(meta)
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
	return items, nil
}

func (k *kvStore) BulkDelete(ctx context.Context, namespaceID string, keys []string) (int, error) {
	st, err := k.b.open(ctx)
	if err != nil {
		return 0, err
	}
	now := st.now().Unix()
	err = st.update(ctx, "deleting values", func(tx queries) error {
		if err := namespaceExists(ctx, tx, namespaceID); err != nil {
			return err
		}
		if err := purgeExpired(ctx, tx, now); err != nil {
			return err
		}
		stmt, err := tx.stmt(ctx, "DELETE FROM kv_values WHERE namespace_id = ? AND key = ?")
		if err != nil {
			return dbErr(ctx, "deleting values", err)
		}
		for _, key := range keys {
			if _, err := stmt.ExecContext(ctx, namespaceID, []byte(key)); err != nil {
				return dbErr(ctx, "deleting values", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
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

// pageSize applies a listing's default and caps what Guard would refuse, so
// an unguarded call cannot ask for an unbounded page.
func pageSize(limit, def, max int) int {
	switch {
	case limit <= 0:
		return def
	case limit > max:
		return max
	}
	return limit
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
	if end := prefixEnd([]byte(p)); end != nil {
		w.add(col+" < ?", T(end))
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
