package cffake

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// bulkWriteEntry is one item of the spec's workers-kv_bulk_write. Pointers
// tell a missing field from an empty one.
type bulkWriteEntry struct {
	Key           *string         `json:"key"`
	Value         *string         `json:"value"`
	Base64        bool            `json:"base64"`
	Expiration    *float64        `json:"expiration"`
	ExpirationTTL *float64        `json:"expiration_ttl"`
	Metadata      json.RawMessage `json:"metadata"`
}

// bulkResult is the result of bulk writes and deletes as the current API and
// cloudflare-go v7 have it. The spec gives these operations no result; its
// nullable result object allows this one.
type bulkResult struct {
	SuccessfulKeyCount int      `json:"successful_key_count"`
	UnsuccessfulKeys   []string `json:"unsuccessful_keys"`
}

func bulkTooLarge(n int64) *apiError {
	return kvTooLarge("Request body of %d bytes exceeds the bulk limit of %d bytes.", n, maxBulkBytes)
}

func tooManyEntries(n int) *apiError {
	return kvTooLarge("Request has %d keys, more than the bulk limit of %d.", n, maxBulkEntries)
}

// bulkWrite serves PUT …/bulk. Every entry is checked before anything is
// written, so one bad entry fails the request and changes nothing. Keys set
// with FailBulkKeys are reported unsuccessful and left as they were.
func (s *Server) bulkWrite(c *call) reply {
	if err := s.checkNamespace(c); err != nil {
		return err
	}
	var entries []bulkWriteEntry
	if err := decodeJSON(c.req, maxBulkBytes, &entries, bulkTooLarge); err != nil {
		return err
	}
	if len(entries) > maxBulkEntries {
		return tooManyEntries(len(entries))
	}
	now := c.now.Unix()
	keys := make([]string, len(entries))
	stored := make([]kvEntry, len(entries))
	for i, in := range entries {
		e, err := in.toEntry(now)
		if err != nil {
			return err
		}
		keys[i], stored[i] = *in.Key, e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	res := bulkResult{UnsuccessfulKeys: []string{}}
	for i, k := range keys {
		if s.failBulk[k] {
			res.UnsuccessfulKeys = append(res.UnsuccessfulKeys, k)
			continue
		}
		n.keys[k] = stored[i]
		res.SuccessfulKeyCount++
	}
	return ok(res)
}

// toEntry checks one bulk entry against the same rules as a single write.
func (in bulkWriteEntry) toEntry(now int64) (kvEntry, *apiError) {
	if in.Key == nil {
		return kvEntry{}, kvIllegalKey("Key names must not be empty")
	}
	if err := validateKey(*in.Key); err != nil {
		return kvEntry{}, err
	}
	if in.Value == nil {
		return kvEntry{}, kvMalformedValue("No value for key %q.", *in.Key)
	}
	value := []byte(*in.Value)
	if in.Base64 {
		decoded, err := base64.StdEncoding.DecodeString(*in.Value)
		if err != nil {
			return kvEntry{}, kvMalformedValue("Value of key %q is not valid base64.", *in.Key)
		}
		value = decoded
	}
	if len(value) > maxValueBytes {
		return kvEntry{}, valueTooLarge(int64(len(value)))
	}
	exp, err := resolveExpiry(now, jsonNum(in.Expiration), jsonNum(in.ExpirationTTL))
	if err != nil {
		return kvEntry{}, err
	}
	meta, err := normalizeMetadata(in.Metadata)
	if err != nil {
		return kvEntry{}, err
	}
	return kvEntry{value: value, expiration: exp, metadata: meta}, nil
}

// bulkDelete serves POST …/bulk/delete and the deprecated DELETE …/bulk: a
// JSON array of up to 10,000 key names. Keys that do not exist count as
// deleted.
func (s *Server) bulkDelete(c *call) reply {
	if err := s.checkNamespace(c); err != nil {
		return err
	}
	var keys []string
	if err := decodeJSON(c.req, maxBulkBytes, &keys, bulkTooLarge); err != nil {
		return err
	}
	if len(keys) > maxBulkEntries {
		return tooManyEntries(len(keys))
	}
	for _, k := range keys {
		if err := validateKey(k); err != nil {
			return err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	res := bulkResult{UnsuccessfulKeys: []string{}}
	for _, k := range keys {
		if s.failBulk[k] {
			res.UnsuccessfulKeys = append(res.UnsuccessfulKeys, k)
			continue
		}
		delete(n.keys, k)
		res.SuccessfulKeyCount++
	}
	return ok(res)
}

// bulkGetBody is the request of POST …/bulk/get (x-supplement in the spec).
type bulkGetBody struct {
	Keys         []string `json:"keys"`
	Type         *string  `json:"type"`
	WithMetadata bool     `json:"withMetadata"`
}

// bulkGetValue is one value with withMetadata: value and metadata always
// (metadata null when the key has none), expiration when it has one.
type bulkGetValue struct {
	Value      any             `json:"value"`
	Metadata   json.RawMessage `json:"metadata"`
	Expiration int64           `json:"expiration,omitempty"`
}

// bulkGet serves POST …/bulk/get: result {"values": {key: value}}, each
// value a string (type text), a parsed JSON value (type json) or, with
// withMetadata, {value, metadata, expiration?}; null for a key that is
// missing or expired. Limits and messages are the runtime's: 1..100 keys,
// type text or json, and a json request fails whole if any value is not
// JSON.
func (s *Server) bulkGet(c *call) reply {
	var body bulkGetBody
	if err := decodeJSON(c.req, maxJSONBody, &body, smallBodyTooLarge); err != nil {
		return err
	}
	switch {
	case len(body.Keys) == 0:
		return kvInvalidRequest("You must request a minimum of 1 key")
	case len(body.Keys) > maxBulkGetKeys:
		return kvInvalidRequest("You can request a maximum of %d keys", maxBulkGetKeys)
	}
	typ := "text"
	if body.Type != nil {
		typ = *body.Type
	}
	if typ != "text" && typ != "json" {
		return kvInvalidRequest("%q is not a valid type. Use \"json\" or \"text\"", typ)
	}
	for _, k := range body.Keys {
		if err := validateKey(k); err != nil {
			return err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	now := c.now.Unix()
	values := make(map[string]any, len(body.Keys))
	for _, k := range body.Keys {
		e, found := n.keys[k]
		if !found || !e.live(now) {
			values[k] = nil
			continue
		}
		var v any
		switch {
		case typ == "json" && !json.Valid(e.value):
			return kvInvalidRequest("At least one of the requested keys corresponds to a non-json value")
		case typ == "json":
			v = json.RawMessage(e.value)
		case !utf8.Valid(e.value):
			// Cloudflare documents that bulk get needs "text-based
			// values" but not what it does with others; chosen: refuse,
			// rather than hand back text that is not the value.
			return kvInvalidRequest("At least one of the requested keys corresponds to a non-text value")
		default:
			v = string(e.value)
		}
		if body.WithMetadata {
			v = bulkGetValue{Value: v, Metadata: e.metadata, Expiration: e.expiration}
		}
		values[k] = v
	}
	return ok(map[string]any{"values": values})
}
