package local

import (
	"bytes"
	"encoding/base64"
	"encoding/json"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// cursor is where a listing stopped. It travels to the client and back as
// base64url JSON; clients treat it as opaque.
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

func (c cursor) encode() string {
	js, _ := json.Marshal(c) // cannot fail: no maps, no floats
	return base64.RawURLEncoding.EncodeToString(js)
}

// decodeCursor reads s, issued by a listing of kind; "" is the start.
func decodeCursor(s, kind string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	js, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(js, &c)
	}
	if err != nil || c.Kind != kind {
		return cursor{}, storage.Errorf(storage.CodeInvalidArgument,
			"cursor: %.40q is not a cursor of this listing: pass back the cursor the previous page returned", s)
	}
	return c, nil
}

// prefixEnd returns the least byte string above every string that starts
// with p, or nil when there is none (p is empty or all 0xff). Listings scan
// key >= p AND key < prefixEnd(p) on the index instead of LIKE, which would
// read '%' and '_' in a key as wildcards and cannot use a BLOB index.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
