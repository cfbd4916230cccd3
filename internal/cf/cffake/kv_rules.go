package cffake

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
)

// Workers KV limits (developers.cloudflare.com/kv/platform/limits and the
// spec's descriptions).
const (
	maxKeyBytes      = 512         // workers-kv_key_name maxLength
	maxValueBytes    = 25 << 20    // "up to 25 MiB" (workers-kv_value); 26214400
	maxMetadataBytes = 1024        // serialized JSON
	minTTLSeconds    = 60          // workers-kv_expiration_ttl "At least 60."
	maxBulkEntries   = 10_000      // bulk write and delete: "up to 10,000"
	maxBulkBytes     = 100_000_000 // bulk write: "100 megabytes or less", read as 10^8
	maxBulkGetKeys   = 100         // bulk get: keys maxItems
	minListLimit     = 10          // keys: limit minimum
	maxListLimit     = 1000        // keys: limit maximum and default
	minNSPerPage     = 5           // namespaces: per_page minimum
	maxNSPerPage     = 100         // namespaces: per_page maximum
)

// validateKey applies the key rules of every KV operation: not empty, not
// "." or "..", at most 512 bytes of UTF-8. Runtime wording and statuses.
func validateKey(key string) *apiError {
	switch {
	case key == "":
		return kvIllegalKey("Key names must not be empty")
	case key == "." || key == "..":
		return kvIllegalKey("Illegal key name %q. Please use a different name.", key)
	case len(key) > maxKeyBytes:
		return kvKeyTooLong(len(key))
	}
	return nil
}

// numArg is an expiration or expiration_ttl as given: a query string or a
// JSON number. raw is kept for the error message.
type numArg struct {
	set bool
	v   float64
	raw string
}

func queryNum(q url.Values, name string) numArg {
	if !q.Has(name) {
		return numArg{}
	}
	raw := q.Get(name)
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		v = math.NaN()
	}
	return numArg{set: true, v: v, raw: raw}
}

func jsonNum(p *float64) numArg {
	if p == nil {
		return numArg{}
	}
	return numArg{set: true, v: *p, raw: strconv.FormatFloat(*p, 'f', -1, 64)}
}

// maxExactInt bounds expiration and expiration_ttl. Chosen: Cloudflare states
// no upper bound for the REST API; the fake refuses numbers past 2^53, where
// float64 stops holding integers exactly, rather than overflow its clock.
const maxExactInt = 1 << 53

// resolveExpiry turns expiration / expiration_ttl into an absolute unix time
// (0: never). As the spec says, when both are given expiration_ttl is used
// and expiration is ignored (and so not validated). Fractions are truncated,
// as the runtime does (parseInt).
func resolveExpiry(now int64, expiration, ttl numArg) (int64, *apiError) {
	if ttl.set {
		switch {
		case math.IsNaN(ttl.v) || ttl.v <= 0:
			return 0, kvBadTTL("Invalid expiration_ttl of %s. Please specify integer greater than 0.", ttl.raw)
		case ttl.v < minTTLSeconds:
			return 0, kvBadTTL("Invalid expiration_ttl of %s. Expiration TTL must be at least %d.", ttl.raw, minTTLSeconds)
		case ttl.v >= maxExactInt:
			return 0, kvBadTTL("Invalid expiration_ttl of %s. Please specify an integer less than %d.", ttl.raw, int64(maxExactInt))
		}
		return now + int64(ttl.v), nil
	}
	if expiration.set {
		switch {
		case math.IsNaN(expiration.v) || expiration.v <= float64(now):
			return 0, kvBadExpiration("Invalid expiration of %s. Please specify integer greater than the current number of seconds since the UNIX epoch.", expiration.raw)
		case expiration.v < float64(now+minTTLSeconds):
			return 0, kvBadExpiration("Invalid expiration of %s. Expiration times must be at least %d seconds in the future.", expiration.raw, minTTLSeconds)
		case expiration.v >= maxExactInt:
			return 0, kvBadExpiration("Invalid expiration of %s. Please specify an integer less than %d.", expiration.raw, int64(maxExactInt))
		}
		return int64(expiration.v), nil
	}
	return 0, nil
}

// normalizeMetadata checks metadata given as JSON text and returns it
// compacted (nil for none or JSON null). The 1024-byte limit applies to the
// serialized JSON, as the runtime measures it. Any JSON value is accepted:
// the spec types metadata as an object, but KV stores any JSON value
// (numbers included, as Miniflare's tests show), and cloudflare-go sends
// whatever it is given.
func normalizeMetadata(raw []byte) (json.RawMessage, *apiError) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, kvInvalidRequest("Metadata must be valid JSON.")
	}
	if buf.String() == "null" {
		return nil, nil
	}
	if buf.Len() > maxMetadataBytes {
		return nil, kvTooLarge("Metadata length of %d exceeds limit of %d.", buf.Len(), maxMetadataBytes)
	}
	return json.RawMessage(buf.Bytes()), nil
}

// valueTooLarge is the runtime's 413 for a value over 25 MiB.
func valueTooLarge(n int64) *apiError {
	return kvTooLarge("Value length of %d exceeds limit of %d.", n, maxValueBytes)
}
