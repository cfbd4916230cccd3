package cffake

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
)

// maxMetadataPart bounds how much of a multipart metadata part the fake
// reads: enough to measure metadata that is too large and report its size.
const maxMetadataPart = 64 << 10

// getValue serves GET …/values/{key_name}: the value's bytes as
// application/octet-stream and, when the key expires, its expiration (unix
// seconds) in the `expiration` response header, as the spec describes. A
// missing or expired key is 404 (10009).
func (s *Server) getValue(c *call) reply {
	key := c.params["key_name"]
	if err := validateKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	e, found := n.keys[key]
	if !found || !e.live(c.now.Unix()) {
		return kvKeyNotFound()
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if e.expiration != 0 {
		h.Set("Expiration", strconv.FormatInt(e.expiration, 10))
	}
	return rawReply{header: h, body: append([]byte(nil), e.value...)}
}

// putValue serves PUT …/values/{key_name} with either body the spec allows:
// the raw value (application/octet-stream, or any other non-multipart
// type), or multipart/form-data with a "value" part and an optional
// "metadata" part holding JSON. The query's expiration_ttl or expiration set
// the expiry. The write replaces the value, expiry and metadata together.
func (s *Server) putValue(c *call) reply {
	key := c.params["key_name"]
	if err := validateKey(key); err != nil {
		return err
	}
	q := c.req.URL.Query()
	exp, err := resolveExpiry(c.now.Unix(), queryNum(q, "expiration"), queryNum(q, "expiration_ttl"))
	if err != nil {
		return err
	}
	if err := s.checkNamespace(c); err != nil {
		return err
	}
	value, meta, err := readValueBody(c.req)
	if err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	n.keys[key] = kvEntry{value: value, expiration: exp, metadata: meta}
	return ok(nil)
}

// readValueBody reads the value, and the metadata of a multipart body.
func readValueBody(r *http.Request) ([]byte, json.RawMessage, *apiError) {
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		return readMultipartValue(r, params["boundary"])
	}
	value, n, over, err := readBody(r, maxValueBytes)
	switch {
	case err != nil:
		return nil, nil, kvMalformedValue("Could not read the request body.")
	case over:
		return nil, nil, valueTooLarge(n)
	}
	return value, nil, nil
}

func readMultipartValue(r *http.Request, boundary string) ([]byte, json.RawMessage, *apiError) {
	if boundary == "" {
		return nil, nil, kvMalformedValue("multipart/form-data body without a boundary.")
	}
	mr := multipart.NewReader(r.Body, boundary)
	var (
		value    []byte
		hasValue bool
		meta     json.RawMessage
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, kvMalformedValue("Malformed multipart/form-data body.")
		}
		switch part.FormName() {
		case "value":
			data, n, over, err := readLimited(part, maxValueBytes)
			switch {
			case err != nil:
				return nil, nil, kvMalformedValue("Malformed multipart/form-data body.")
			case over:
				return nil, nil, valueTooLarge(n)
			case !hasValue: // the first value part counts
				value, hasValue = data, true
			}
		case "metadata":
			data, n, over, err := readLimited(part, maxMetadataPart)
			switch {
			case err != nil:
				return nil, nil, kvMalformedValue("Malformed multipart/form-data body.")
			case over:
				return nil, nil, kvTooLarge("Metadata length of %d exceeds limit of %d.", n, maxMetadataBytes)
			}
			m, aerr := normalizeMetadata(data)
			if aerr != nil {
				return nil, nil, aerr
			}
			meta = m
		default:
			// Other parts are ignored, as form fields a server does not
			// know usually are.
			_, _ = io.Copy(io.Discard, part)
		}
	}
	if !hasValue {
		// The spec's multipart schema requires "value".
		return nil, nil, kvMalformedValue("No value part in the multipart/form-data body.")
	}
	return value, meta, nil
}

// deleteValue serves DELETE …/values/{key_name}. Deleting a key that does
// not exist succeeds: KV deletes are idempotent.
func (s *Server) deleteValue(c *call) reply {
	key := c.params["key_name"]
	if err := validateKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	delete(n.keys, key)
	return ok(nil)
}

// getMetadata serves GET …/metadata/{key_name}: the key's metadata as the
// result, null when it has none; 404 (10009) when the key is missing.
func (s *Server) getMetadata(c *call) reply {
	key := c.params["key_name"]
	if err := validateKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := c.lookupNamespace()
	if err != nil {
		return err
	}
	e, found := n.keys[key]
	if !found || !e.live(c.now.Unix()) {
		return kvKeyNotFound()
	}
	if e.metadata == nil {
		return ok(nil)
	}
	return ok(e.metadata)
}
