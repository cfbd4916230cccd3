package resources

import (
	"net/url"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The URI schemes and templates this package serves.
const (
	schemeR2 = "r2"
	schemeKV = "kv"

	TemplateR2 = "r2://{bucket}/{+key}"
	TemplateKV = "kv://{namespace}/{+key}"
)

// ref is a parsed r2:// or kv:// URI.
type ref struct {
	scheme string
	// container is the bucket name or the namespace reference (id or
	// title), decoded.
	container string
	// key is the object or KV key, decoded; for a folder, the prefix it
	// lists ("" for the root, else ending in "/").
	key    string
	folder bool
	// cursor continues a folder listing (the ?cursor= of a "next" URI).
	cursor string
}

// BucketURI is the folder URI of a bucket's root: r2://<bucket>/.
func BucketURI(bucket string) string { return ObjectURI(bucket, "") }

// ObjectURI is the URI of an object (or, for a key ending in "/", of a
// folder) in a bucket.
func ObjectURI(bucket, key string) string {
	return schemeR2 + "://" + escapeName(bucket) + "/" + EscapeKey(key)
}

// NamespaceURI is the folder URI of a namespace's root: kv://<id>/.
func NamespaceURI(namespaceID string) string { return KeyURI(namespaceID, "") }

// KeyURI is the URI of a KV key (or, for a key ending in "/", of a folder)
// in a namespace.
func KeyURI(namespace, key string) string {
	return schemeKV + "://" + escapeName(namespace) + "/" + EscapeKey(key)
}

// escapeName percent-encodes a bucket or namespace for the {bucket} and
// {namespace} template variables, which (RFC 6570 simple expansion) allow
// only unreserved characters raw.
func escapeName(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// EscapeKey renders a key as a URI path: each "/"-separated segment
// percent-encoded with url.PathEscape, so that spaces, "?", "#", "%" and
// non-ASCII survive the trip through a URI and "/" stays a folder separator.
func EscapeKey(key string) string {
	if key == "" {
		return ""
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// UnescapeKey reverses EscapeKey.
func UnescapeKey(path string) (string, error) {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", err
		}
		segs[i] = u
	}
	return strings.Join(segs, "/"), nil
}

// withCursor is a folder URI that continues its listing at cursor.
func withCursor(folderURI, cursor string) string {
	return folderURI + "?" + url.Values{"cursor": {cursor}}.Encode()
}

// invalidURI is a bad URI; the URI itself is named where the error reaches
// the client (rpcerr.New).
func invalidURI(format string, args ...any) error {
	return storage.Errorf(storage.CodeInvalidArgument, format, args...)
}

// parseURI splits an r2:// or kv:// URI into its parts. The key is decoded
// segment by segment; a query is allowed only on folders and may only carry
// a cursor. A raw "#" is refused rather than dropped as a fragment: keys
// with "#" must be written %23, and silently reading a different object
// would be worse than an error.
func parseURI(uri string) (ref, error) {
	var r ref
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != schemeR2 && scheme != schemeKV) {
		return r, invalidURI("not an r2:// or kv:// URI")
	}
	r.scheme = scheme
	if strings.Contains(rest, "#") {
		return r, invalidURI("a raw # is not allowed; percent-encode it as %%23")
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	container, path, _ := strings.Cut(rest, "/")
	var err error
	if r.container, err = url.PathUnescape(container); err != nil || r.container == "" {
		return r, invalidURI("the bucket or namespace is missing or badly percent-encoded")
	}
	if r.key, err = UnescapeKey(path); err != nil {
		return r, invalidURI("the key is badly percent-encoded: %v", err)
	}
	r.folder = path == "" || strings.HasSuffix(path, "/")
	if hasQuery {
		if !r.folder {
			return r, invalidURI("a query is only valid on a folder URI (ending in /); percent-encode ? in keys as %%3F")
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return r, invalidURI("bad query: %v", err)
		}
		for k := range q {
			if k != "cursor" {
				return r, invalidURI("unknown query parameter %q (only cursor, from a listing's next URI)", k)
			}
		}
		r.cursor = q.Get("cursor")
	}
	return r, nil
}

// folderURI is the URI of the folder r lists, without a cursor.
func (r ref) folderURI(containerInURI string) string {
	if r.scheme == schemeR2 {
		return ObjectURI(containerInURI, r.key)
	}
	return KeyURI(containerInURI, r.key)
}
