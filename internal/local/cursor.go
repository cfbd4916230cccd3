package local

import (
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// cursor is where a listing stopped, travelling to the client and back as
// storage.EncodeCursor makes it.
type cursor struct {
	// Kind is the listing that issued it, so a bucket cursor given to a KV
	// listing is refused rather than read as a position.
	Kind string `json:"t"`
	// Key is the last key (or title) listed; listing resumes after it.
	Key []byte `json:"k"`
	// ID completes a namespace position: they are ordered by title, then id.
	ID string `json:"id,omitempty"`
	// Incl means listing resumes at Key itself: after a rolled-up prefix,
	// Key is the first name past every key under it.
	Incl bool `json:"i,omitempty"`
}

const (
	kindNamespaces = "ns"
	kindKeys       = "kv"
	kindBuckets    = "b"
	kindObjects    = "o"
	kindDatabases  = "d1"
)

func (c cursor) encode() string { return storage.EncodeCursor(c) }

// decodeCursor reads s, issued by a listing of kind; "" is the start.
func decodeCursor(s, kind string) (cursor, error) {
	return storage.DecodeCursor(s, func(c cursor) bool { return c.Kind == kind })
}
