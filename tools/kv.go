package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

type kvTools struct{ Deps }

type listNamespacesIn struct {
	Cursor string `json:"cursor,omitempty" jsonschema:"from the previous page"`
	Limit  int    `json:"limit,omitempty" jsonschema:"per page" schema:"minimum=1,maximum=100,default=50"`
}

type namespaceOut struct {
	ID    string `json:"id" jsonschema:"namespace id (32 hex digits), used in wrangler bindings"`
	Title string `json:"title,omitempty" jsonschema:"namespace title"`
}

type listNamespacesOut struct {
	Namespaces []namespaceOut `json:"namespaces"`
	Cursor     string         `json:"cursor,omitempty" jsonschema:"pass as cursor to get the next page; absent on the last page"`
}

func (k kvTools) listNamespaces(ctx context.Context, in listNamespacesIn) (listNamespacesOut, error) {
	page, err := k.Store.KV().ListNamespaces(ctx, storage.ListOptions{Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return listNamespacesOut{}, err
	}
	out := listNamespacesOut{Namespaces: []namespaceOut{}, Cursor: page.Cursor}
	for _, ns := range page.Namespaces {
		out.Namespaces = append(out.Namespaces, namespaceOut(ns))
	}
	return out, nil
}

type createNamespaceIn struct {
	Title string `json:"title" jsonschema:"unique in the account, e.g. site-config"`
}

type createNamespaceOut struct {
	ID           string `json:"id"`
	Title        string `json:"title"`
	WranglerTOML string `json:"wrangler_toml" jsonschema:"the [[kv_namespaces]] block to paste into wrangler.toml"`
}

func (k kvTools) createNamespace(ctx context.Context, in createNamespaceIn) (createNamespaceOut, error) {
	ns, err := k.Store.KV().CreateNamespace(ctx, in.Title)
	if err != nil {
		return createNamespaceOut{}, err
	}
	toml := storage.ConfigNote(k.Store.Name(), storage.CreateKVCommand(ns.Title)) + storage.KVBindingTOML(storage.BindingName(ns.Title, "KV"), ns.ID)
	return createNamespaceOut{ID: ns.ID, Title: ns.Title, WranglerTOML: toml}, nil
}

type renameNamespaceIn struct {
	Namespace string `json:"namespace" jsonschema:"id or current title"`
	Title     string `json:"title" jsonschema:"new title, unique in the account"`
}

func (k kvTools) renameNamespace(ctx context.Context, in renameNamespaceIn) (namespaceOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return namespaceOut{}, err
	}
	if err := k.Store.KV().RenameNamespace(ctx, ns.ID, in.Title); err != nil {
		return namespaceOut{}, err
	}
	return namespaceOut{ID: ns.ID, Title: in.Title}, nil
}

type deleteNamespaceIn struct {
	Namespace string `json:"namespace" jsonschema:"id or title"`
	Confirm   string `json:"confirm,omitempty" jsonschema:"without elicitation: must equal the namespace's title"`
}

type deleteNamespaceOut struct {
	Deleted bool   `json:"deleted"`
	ID      string `json:"id"`
	Title   string `json:"title"`
}

func (k kvTools) deleteNamespace(ctx context.Context, in deleteNamespaceIn) (deleteNamespaceOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return deleteNamespaceOut{}, err
	}
	if ns, err = k.Store.KV().GetNamespace(ctx, ns.ID); err != nil {
		return deleteNamespaceOut{}, err
	}
	if err := k.Store.CanDelete(ctx, storage.AreaKV, ns.ID); err != nil {
		return deleteNamespaceOut{}, err
	}
	d := Deletion{Tool: "delete_kv_namespace", What: "KV namespace", Name: ns.Title, NameIs: "title", Detail: k.keyCount(ctx, ns.ID)}
	if err := confirmed(ctx, k.Confirm, d, &in.Confirm); err != nil {
		return deleteNamespaceOut{}, err
	}
	if err := k.Store.KV().DeleteNamespace(ctx, ns.ID); err != nil {
		return deleteNamespaceOut{}, err
	}
	return deleteNamespaceOut{Deleted: true, ID: ns.ID, Title: ns.Title}, nil
}

// countPage is how many keys or objects a deletion's form counts, from one
// listing page; beyond it the form says "at least".
const countPage = 1000

// keyCount says how many keys a namespace holds, from one listing page.
func (k kvTools) keyCount(ctx context.Context, id string) string {
	page, err := k.Store.KV().List(ctx, id, storage.ListOptions{Limit: countPage})
	switch {
	case err != nil:
		return ""
	case page.Cursor != "":
		return fmt.Sprintf("It holds at least %d keys, all of which go with it.", len(page.Keys))
	case len(page.Keys) == 0:
		return "It holds no keys."
	}
	if len(page.Keys) == 1 {
		return "It holds 1 key, which goes with it."
	}
	return fmt.Sprintf("It holds %d keys, all of which go with it.", len(page.Keys))
}

type kvGetIn struct {
	Namespace string `json:"namespace" jsonschema:"id or title"`
	Key       string `json:"key" jsonschema:"the key"`
	Encoding  string `json:"encoding,omitempty" jsonschema:"auto: text if UTF-8, else base64; json: parsed" schema:"enum=auto|text|base64|json,default=auto"`
	SaveTo    string `json:"save_to,omitempty" jsonschema:"file to write the value to instead (in an allowed directory)"`
	Overwrite bool   `json:"overwrite,omitempty" jsonschema:"with save_to: replace an existing file (else already_exists)"`
}

type kvGetOut struct {
	Found      bool            `json:"found" jsonschema:"false when the key does not exist or has expired"`
	Key        string          `json:"key"`
	Content    string          `json:"content,omitempty" jsonschema:"where the value is: in the text block (after this JSON), sent once; absent with save_to or found:false"`
	Encoding   string          `json:"encoding,omitempty" jsonschema:"how the value is written: text, base64 or json"`
	Size       int64           `json:"size,omitempty" jsonschema:"value size in bytes"`
	Metadata   json.RawMessage `json:"metadata,omitempty" jsonschema:"the key's metadata (JSON)"`
	Expiration int64           `json:"expiration,omitempty" jsonschema:"when the key expires, in Unix seconds"`
	SavedTo    string          `json:"saved_to,omitempty" jsonschema:"the file the value was written to"`

	value string // the value as encoded, sent in its own content block
}

// MCPContent sends the value once, in a text block of its own after the
// JSON that describes it (structuredContent holds the description only).
func (k kvGetOut) MCPContent(summary []byte) []mcp.Content {
	return valueBlocks(summary, k.Content != "", mcp.NewTextContent(k.value))
}

func (k kvTools) get(ctx context.Context, in kvGetIn) (kvGetOut, error) {
	if err := checkOverwrite(in.SaveTo, in.Overwrite); err != nil {
		return kvGetOut{}, err
	}
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return kvGetOut{}, err
	}
	v, err := k.Store.KV().Get(ctx, ns.ID, in.Key)
	if storage.CodeOf(err) == storage.CodeNotFound {
		// A missing key is an answer, a missing namespace an error: tell
		// them apart by asking for the namespace.
		if _, nsErr := k.Store.KV().GetNamespace(ctx, ns.ID); nsErr != nil {
			return kvGetOut{}, nsErr
		}
		return kvGetOut{Found: false, Key: in.Key}, nil
	}
	if err != nil {
		return kvGetOut{}, err
	}
	defer v.Body.Close()
	out := kvGetOut{Found: true, Key: in.Key, Size: v.Size, Metadata: v.Metadata, Expiration: v.Expiration}
	if in.SaveTo != "" {
		out.SavedTo, _, err = k.saveTo(ctx, in.SaveTo, in.Overwrite, v.Body)
		return out, err
	}
	data, err := readInline("value", v.Body, v.Size, k.MaxInlineBytes, "pass save_to to write it to a file")
	if err != nil {
		return kvGetOut{}, err
	}
	if out.Encoding, out.value, err = encodeString(data, in.Encoding); err != nil {
		return kvGetOut{}, err
	}
	out.Content = inTextBlock
	return out, nil
}

type kvPutIn struct {
	Namespace     string          `json:"namespace" jsonschema:"id or title"`
	Key           string          `json:"key" jsonschema:"1..512 bytes, not . or .."`
	Value         *string         `json:"value,omitempty" jsonschema:"the value as text"`
	ValueBase64   string          `json:"value_base64,omitempty" jsonschema:"the value as base64 (binary)"`
	FilePath      string          `json:"file_path,omitempty" jsonschema:"file to read the value from (in an allowed directory)"`
	ExpirationTTL int64           `json:"expiration_ttl,omitempty" jsonschema:"seconds until the key expires" schema:"minimum=60"`
	Expiration    int64           `json:"expiration,omitempty" jsonschema:"when the key expires, in Unix seconds, at least 60 s ahead"`
	Metadata      json.RawMessage `json:"metadata,omitempty" jsonschema:"JSON stored with the key, at most 1024 bytes"`
}

type kvPutOut struct {
	Key        string `json:"key"`
	Size       int64  `json:"size" jsonschema:"bytes written"`
	Expiration int64  `json:"expiration,omitempty" jsonschema:"absolute expiration in Unix seconds, when one was set"`
}

func (k kvTools) put(ctx context.Context, in kvPutIn) (kvPutOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return kvPutOut{}, err
	}
	put := storage.KVPut{Key: in.Key, Metadata: in.Metadata, Expiry: storage.Expiry{Expiration: in.Expiration, TTL: in.ExpirationTTL}}
	switch {
	case countSet(in.Value != nil, in.ValueBase64 != "", in.FilePath != "") != 1:
		return kvPutOut{}, errMissing("value, value_base64, file_path: give exactly one of them")
	case in.Value != nil:
		put.Body, put.Size = strings.NewReader(*in.Value), int64(len(*in.Value))
	case in.ValueBase64 != "":
		if put.Body, put.Size, err = base64Body("value_base64", in.ValueBase64); err != nil {
			return kvPutOut{}, err
		}
	default:
		f, size, err := k.openUpload(ctx, in.FilePath)
		if err != nil {
			return kvPutOut{}, err
		}
		defer f.Close()
		put.Body, put.Size = f, size
	}
	now := k.Now()
	if err := k.Store.KV().Put(ctx, ns.ID, put); err != nil {
		return kvPutOut{}, err
	}
	out := kvPutOut{Key: in.Key, Size: put.Size, Expiration: in.Expiration}
	if in.ExpirationTTL > 0 {
		out.Expiration = now.Unix() + in.ExpirationTTL
	}
	return out, nil
}

func countSet(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

type kvKeyIn struct {
	Namespace string `json:"namespace" jsonschema:"id or title"`
	Key       string `json:"key" jsonschema:"the key"`
}

type kvDeleteOut struct {
	Key     string `json:"key"`
	Deleted bool   `json:"deleted" jsonschema:"true: the key no longer exists (deleting an absent key succeeds)"`
}

func (k kvTools) delete(ctx context.Context, in kvKeyIn) (kvDeleteOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return kvDeleteOut{}, err
	}
	if err := k.Store.KV().Delete(ctx, ns.ID, in.Key); err != nil {
		return kvDeleteOut{}, err
	}
	return kvDeleteOut{Key: in.Key, Deleted: true}, nil
}

type kvListIn struct {
	Namespace string `json:"namespace" jsonschema:"id or title"`
	Prefix    string `json:"prefix,omitempty" jsonschema:"only keys starting with this"`
	Cursor    string `json:"cursor,omitempty" jsonschema:"from the previous page"`
	Limit     int    `json:"limit,omitempty" jsonschema:"per page" schema:"minimum=10,maximum=1000,default=100"`
}

type keyOut struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration,omitempty" jsonschema:"when the key expires, in Unix seconds"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

type kvListOut struct {
	Keys   []keyOut `json:"keys" jsonschema:"keys in byte order of their names"`
	Cursor string   `json:"cursor,omitempty" jsonschema:"pass as cursor to get the next page; absent on the last page"`
}

func (k kvTools) list(ctx context.Context, in kvListIn) (kvListOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return kvListOut{}, err
	}
	page, err := k.Store.KV().List(ctx, ns.ID, storage.ListOptions{Prefix: in.Prefix, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return kvListOut{}, err
	}
	out := kvListOut{Keys: make([]keyOut, 0, len(page.Keys)), Cursor: page.Cursor}
	for _, key := range page.Keys {
		out.Keys = append(out.Keys, keyOut(key))
	}
	return out, nil
}

type bulkEntryIn struct {
	Key           string          `json:"key" jsonschema:"1..512 bytes"`
	Value         string          `json:"value" jsonschema:"text, or base64 if base64 is true"`
	Base64        bool            `json:"base64,omitempty" jsonschema:"value is base64"`
	ExpirationTTL int64           `json:"expiration_ttl,omitempty" jsonschema:"seconds until it expires" schema:"minimum=60"`
	Expiration    int64           `json:"expiration,omitempty" jsonschema:"when it expires, in Unix seconds, at least 60 s ahead"`
	Metadata      json.RawMessage `json:"metadata,omitempty" jsonschema:"JSON, at most 1024 bytes"`
}

type bulkPutIn struct {
	Namespace string        `json:"namespace" jsonschema:"id or title"`
	Entries   []bulkEntryIn `json:"entries" jsonschema:"at most 100 MB in all" schema:"minItems=1,maxItems=10000"`
}

type bulkPutOut struct {
	Written int      `json:"written"`
	Failed  []string `json:"failed" jsonschema:"keys that were not written"`
}

func (k kvTools) bulkPut(ctx context.Context, in bulkPutIn) (bulkPutOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return bulkPutOut{}, err
	}
	entries := make([]storage.KVEntry, len(in.Entries))
	for i, e := range in.Entries {
		value := []byte(e.Value)
		if e.Base64 {
			if value, err = decodeBase64(fmt.Sprintf("entries[%d].value", i), e.Value); err != nil {
				return bulkPutOut{}, err
			}
		}
		entries[i] = storage.KVEntry{Key: e.Key, Value: value, Metadata: e.Metadata,
			Expiry: storage.Expiry{Expiration: e.Expiration, TTL: e.ExpirationTTL}}
	}
	res, err := k.Store.KV().BulkPut(ctx, ns.ID, entries)
	if err != nil {
		return bulkPutOut{}, err
	}
	return bulkPutOut{Written: res.Written, Failed: nonNil(res.Failed)}, nil
}

type bulkGetIn struct {
	Namespace string   `json:"namespace" jsonschema:"id or title"`
	Keys      []string `json:"keys" jsonschema:"keys to read" schema:"minItems=1,maxItems=100"`
}

type bulkValueOut struct {
	Key        string          `json:"key"`
	Found      bool            `json:"found"`
	Value      json.RawMessage `json:"value,omitempty" jsonschema:"the value as a string: text when UTF-8, else base64 (see encoding)"`
	Encoding   string          `json:"encoding,omitempty" jsonschema:"text or base64"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Expiration int64           `json:"expiration,omitempty" jsonschema:"when the key expires, in Unix seconds"`
}

type bulkGetOut struct {
	Values []bulkValueOut `json:"values" jsonschema:"one entry per requested key, in order"`
}

func (k kvTools) bulkGet(ctx context.Context, in bulkGetIn) (bulkGetOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return bulkGetOut{}, err
	}
	// The values come back whole, so the inline limit bounds them before
	// they are read (where the backend can tell their sizes first).
	items, err := k.Store.KV().BulkGet(ctx, ns.ID, in.Keys, storage.BulkGetOptions{MaxBytes: k.MaxInlineBytes})
	if err != nil {
		return bulkGetOut{}, err
	}
	out := bulkGetOut{Values: make([]bulkValueOut, 0, len(items))}
	for _, it := range items {
		v := bulkValueOut{Key: it.Key, Found: it.Found, Metadata: it.Metadata, Expiration: it.Expiration}
		if it.Found {
			if v.Encoding, v.Value, err = encode(it.Value, encAuto); err != nil {
				return bulkGetOut{}, err
			}
		}
		out.Values = append(out.Values, v)
	}
	return out, nil
}

type bulkDeleteIn struct {
	Namespace string   `json:"namespace" jsonschema:"id or title"`
	Keys      []string `json:"keys" jsonschema:"keys to delete" schema:"minItems=1,maxItems=10000"`
}

type bulkDeleteOut struct {
	Deleted int `json:"deleted" jsonschema:"keys deleted (absent keys count as deleted)"`
}

func (k kvTools) bulkDelete(ctx context.Context, in bulkDeleteIn) (bulkDeleteOut, error) {
	ns, err := k.Store.Namespace(ctx, in.Namespace)
	if err != nil {
		return bulkDeleteOut{}, err
	}
	if err := storage.ValidateKeys(in.Keys, storage.MaxBulkDeleteKeys); err != nil {
		return bulkDeleteOut{}, err // refused anyway: the user is not asked
	}
	if keys := distinct(in.Keys); len(keys) > manyKeys {
		if ns, err = k.Store.KV().GetNamespace(ctx, ns.ID); err != nil { // its title, for the user
			return bulkDeleteOut{}, err
		}
		d := Deletion{Tool: "kv_bulk_delete", What: "keys", In: "KV namespace", Name: ns.Title, Items: keys}
		if err := confirmed(ctx, k.Confirm, d, nil); err != nil {
			return bulkDeleteOut{}, err
		}
	}
	n, err := k.Store.KV().BulkDelete(ctx, ns.ID, in.Keys)
	return bulkDeleteOut{Deleted: n}, err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

var (
	readHints    = Hints{ReadOnly: Yes, Destructive: No, Idempotent: Yes, OpenWorld: No}
	createHints  = Hints{ReadOnly: No, Destructive: No, Idempotent: No, OpenWorld: No}
	updateHints  = Hints{ReadOnly: No, Destructive: No, Idempotent: Yes, OpenWorld: No}
	replaceHints = Hints{ReadOnly: No, Destructive: Yes, Idempotent: Yes, OpenWorld: No}
)

func (k kvTools) declare() ([]Tool, []error) {
	g := newGroup(ToolsetKV, k.Deps)
	add(g, Spec[listNamespacesIn, listNamespacesOut]{
		Name: "list_kv_namespaces", Title: "List KV namespaces", Hints: readHints, Handle: k.listNamespaces,
		Description: "List KV namespaces (id, title). Pass either as namespace to the kv_* tools.",
	})
	add(g, Spec[createNamespaceIn, createNamespaceOut]{
		Name: "create_kv_namespace", Title: "Create a KV namespace", Hints: createHints, Handle: k.createNamespace,
		Description: "Create a KV namespace; returns its id and a wrangler.toml binding for a Worker.",
	})
	add(g, Spec[renameNamespaceIn, namespaceOut]{
		Name: "rename_kv_namespace", Title: "Rename a KV namespace", Hints: updateHints, Handle: k.renameNamespace,
		Description: "Rename a KV namespace; its id, keys and bindings stay.",
	})
	add(g, Spec[deleteNamespaceIn, deleteNamespaceOut]{
		Name: "delete_kv_namespace", Title: "Delete a KV namespace", Hints: replaceHints, Handle: k.deleteNamespace,
		Description: "Delete a KV namespace and all its keys, for good. Ask the user first (with elicitation the server asks).",
	})
	add(g, Spec[kvGetIn, kvGetOut]{
		Name: "kv_get", Title: "Read a KV value", Hints: readHints, Handle: k.get,
		Description: fmt.Sprintf("Read a key's value, metadata and expiration; found:false if missing. Values over %s need save_to.", sizeText(k.MaxInlineBytes)),
	})
	add(g, Spec[kvPutIn, kvPutOut]{
		Name: "kv_put", Title: "Write a KV value", Hints: replaceHints, Handle: k.put,
		Description: "Write a value (at most 25 MiB) under a key, replacing any: exactly one of value, value_base64 or file_path. Other locations may read the old value for up to 60 s.",
	})
	add(g, Spec[kvKeyIn, kvDeleteOut]{
		Name: "kv_delete", Title: "Delete a KV key", Hints: replaceHints, Handle: k.delete,
		Description: "Delete a key; an absent key counts as deleted.",
	})
	add(g, Spec[kvListIn, kvListOut]{
		Name: "kv_list", Title: "List KV keys", Hints: readHints, Handle: k.list,
		Description: "List keys in byte order with expiration and metadata; values: kv_get, kv_bulk_get.",
	})
	add(g, Spec[bulkPutIn, bulkPutOut]{
		Name: "kv_bulk_put", Title: "Write many KV values", Hints: replaceHints, Handle: k.bulkPut,
		Description: "Write many keys in one call; reports how many were written and which failed.",
	})
	add(g, Spec[bulkGetIn, bulkGetOut]{
		Name: "kv_bulk_get", Title: "Read many KV values", Hints: readHints, Handle: k.bulkGet,
		Description: fmt.Sprintf("Read many keys: one entry per key, in order, found:false if missing; text if UTF-8, else base64. At most %s in all; larger: kv_get with save_to.", sizeText(k.MaxInlineBytes)),
	})
	add(g, Spec[bulkDeleteIn, bulkDeleteOut]{
		Name: "kv_bulk_delete", Title: "Delete many KV keys", Hints: replaceHints, Handle: k.bulkDelete,
		Description: "Delete many keys; absent keys count as deleted. Over one key, a client with elicitation asks the user.",
	})
	return g.done()
}
