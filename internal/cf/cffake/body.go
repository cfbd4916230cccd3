package cffake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// maxJSONBody bounds the small JSON bodies (namespace titles, bucket names,
// bulk-get key lists); the bulk writes and deletes have their own, larger
// limit. Chosen: Cloudflare states no limit for these, and no valid request
// comes near it.
const maxJSONBody = 1 << 20

// readBody reads a request body of at most limit bytes. When the body is
// longer it returns over and the body's length as far as it could tell
// (the declared length, or what was read before maxDrain), without holding
// the excess in memory.
func readBody(r *http.Request, limit int64) (data []byte, n int64, over bool, err error) {
	if r.ContentLength > limit {
		return nil, r.ContentLength, true, nil
	}
	return readLimited(r.Body, limit)
}

// readLimited reads at most limit bytes of rd, and counts (but does not
// keep) the rest when there is more.
func readLimited(rd io.Reader, limit int64) (data []byte, n int64, over bool, err error) {
	var buf bytes.Buffer
	m, err := io.Copy(&buf, io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, m, false, err
	}
	if m <= limit {
		return buf.Bytes(), m, false, nil
	}
	rest, _ := io.Copy(io.Discard, io.LimitReader(rd, maxDrain))
	return nil, m + rest, true, nil
}

// decodeJSON reads a JSON body of at most limit bytes into v. A body that is
// not one JSON value of v's shape is Cloudflare's 6007; a longer one is
// tooLarge(n).
func decodeJSON(r *http.Request, limit int64, v any, tooLarge func(n int64) *apiError) *apiError {
	data, n, over, err := readBody(r, limit)
	switch {
	case err != nil:
		return errMalformedJSON()
	case over:
		return tooLarge(n)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errMalformedJSON()
	}
	return nil
}

// smallBodyTooLarge answers a small JSON body over maxJSONBody.
func smallBodyTooLarge(n int64) *apiError {
	return fail(http.StatusRequestEntityTooLarge, 10024, "Request body of %d bytes exceeds limit of %d.", n, maxJSONBody)
}
