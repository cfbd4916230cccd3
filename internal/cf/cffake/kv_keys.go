package cffake

import (
	"encoding/json"
	"slices"
	"strings"
)

// keyJSON is the spec's workers-kv_key: expiration and metadata are omitted
// for keys that have none.
type keyJSON struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// cursorInfo is result_info of the key listing: count and cursor, the
// cursor empty when the listing is complete.
type cursorInfo struct {
	Count  int    `json:"count"`
	Cursor string `json:"cursor"`
}

const keysCursor = "keys"

// listKeys serves GET …/keys: live keys in byte order of their UTF-8 names
// (KV's list order), filtered by prefix, limit keys at a time (10..1000,
// default 1000, per the spec) from the cursor on.
func (s *Server) listKeys(c *call) reply {
	q := c.req.URL.Query()
	limit, err := intParam(q, "limit", maxListLimit, minListLimit, maxListLimit, func(raw string) *apiError {
		return kvBadLimit(raw, minListLimit, maxListLimit)
	})
	if err != nil {
		return err
	}
	prefix := q.Get("prefix")
	if len(prefix) > maxKeyBytes {
		return kvKeyTooLong(len(prefix))
	}
	after := ""
	if cur := q.Get("cursor"); cur != "" {
		last, valid := decodeCursor(keysCursor, cur)
		if !valid {
			return kvInvalidRequest("Invalid cursor %q.", cur)
		}
		after = last
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	now := c.now.Unix()
	var names []string
	for name, e := range n.keys {
		if strings.HasPrefix(name, prefix) && name > after && e.live(now) {
			names = append(names, name)
		}
	}
	slices.Sort(names) // Go compares strings bytewise: UTF-8 byte order

	more := len(names) > limit
	names = names[:min(limit, len(names))]
	keys := make([]keyJSON, len(names))
	for i, name := range names {
		e := n.keys[name]
		keys[i] = keyJSON{Name: name, Expiration: e.expiration, Metadata: e.metadata}
	}
	info := cursorInfo{Count: len(keys)}
	if more {
		info.Cursor = encodeCursor(keysCursor, names[len(names)-1])
	}
	return okPage(keys, info)
}
