package storage

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Cloudflare's limits (developers.cloudflare.com/kv/platform/limits,
// /r2/platform/limits) and the bounds of the API parameters in Cloudflare's
// published OpenAPI description.
const (
	MaxKVKeyBytes        = 512
	MaxKVValueBytes      = 25 << 20 // 25 MiB
	MaxKVMetadataBytes   = 1024
	MinExpirationTTL     = 60 // seconds; also the least distance of an absolute expiration from now
	MaxBulkEntries       = 10_000
	MaxBulkBytes         = 100_000_000 // 100 MB per bulk write request
	MaxBulkGetKeys       = 100
	MaxBulkDeleteKeys    = 10_000
	MinKVListLimit       = 10
	MaxKVListLimit       = 1000
	DefaultKVListLimit   = 100
	MaxNamespaceList     = 100
	DefaultNamespaceList = 50
	MaxNamespaceTitle    = 512

	MinBucketName          = 3
	MaxBucketName          = 63
	MaxObjectKeyBytes      = 1024
	MaxCustomMetadataBytes = 8192
	MaxObjectBytes         = 5 << 40 // 5 TiB
	MaxObjectList          = 1000
	DefaultObjectList      = 100
	MaxBucketList          = 1000
	DefaultBucketList      = 100
	MaxDeleteObjects       = 1000
	MaxPresignExpiry       = 7 * 24 * time.Hour
	DefaultPresignExpiry   = time.Hour
)

// R2's documented choices for new buckets.
var (
	LocationHints  = []string{"apac", "eeur", "enam", "weur", "wnam", "oc"}
	StorageClasses = []string{"Standard", "InfrequentAccess"}
	Jurisdictions  = []string{"default", "eu", "fedramp"}
)

func invalid(format string, args ...any) error {
	return Errorf(CodeInvalidArgument, format, args...)
}

func tooLarge(format string, args ...any) error {
	return Errorf(CodeTooLarge, format, args...)
}

// ValidateKVKey checks a key name: 1..512 bytes of UTF-8, not "." or "..".
func ValidateKVKey(key string) error {
	switch {
	case key == "":
		return invalid("key: must not be empty")
	case len(key) > MaxKVKeyBytes:
		return invalid("key: %d bytes is over the KV limit of %d bytes", len(key), MaxKVKeyBytes)
	case key == "." || key == "..":
		return invalid("key: %q is not allowed by Workers KV", key)
	case !utf8.ValidString(key):
		return invalid("key: must be valid UTF-8")
	}
	return nil
}

// ValidateKVValueSize checks a value's size against the 25 MiB limit.
func ValidateKVValueSize(size int64) error {
	if size < 0 {
		return invalid("value: size %d is negative", size)
	}
	if size > MaxKVValueBytes {
		return tooLarge("value: %d bytes is over the KV limit of %d bytes (25 MiB)", size, MaxKVValueBytes)
	}
	return nil
}

// ValidateKVMetadata checks that metadata is JSON of at most 1024 bytes once
// serialized.
func ValidateKVMetadata(meta json.RawMessage) error {
	if meta == nil {
		return nil
	}
	if !json.Valid(meta) {
		return invalid("metadata: must be valid JSON")
	}
	if len(meta) > MaxKVMetadataBytes {
		return tooLarge("metadata: %d bytes of JSON is over the KV limit of %d bytes", len(meta), MaxKVMetadataBytes)
	}
	return nil
}

// ValidateExpiry checks an expiration against Cloudflare's 60-second floor.
func ValidateExpiry(e Expiry, now time.Time) error {
	switch {
	case e.Expiration != 0 && e.TTL != 0:
		return invalid("expiration, expiration_ttl: give one or the other, not both")
	case e.TTL < 0 || (e.TTL > 0 && e.TTL < MinExpirationTTL):
		return invalid("expiration_ttl: %d seconds is below the KV minimum of %d seconds", e.TTL, MinExpirationTTL)
	case e.Expiration < 0 || (e.Expiration > 0 && e.Expiration < now.Unix()+MinExpirationTTL):
		return invalid("expiration: %d must be at least %d seconds in the future (Unix seconds; now is %d)",
			e.Expiration, MinExpirationTTL, now.Unix())
	}
	return nil
}

// ValidateKVPut checks one value to write.
func ValidateKVPut(p KVPut, now time.Time) error {
	if err := ValidateKVKey(p.Key); err != nil {
		return err
	}
	if p.Body == nil {
		return invalid("value: is required")
	}
	if err := ValidateKVValueSize(p.Size); err != nil {
		return err
	}
	if err := ValidateKVMetadata(p.Metadata); err != nil {
		return err
	}
	return ValidateExpiry(p.Expiry, now)
}

// ValidateBulkPut checks a bulk write: at most 10,000 entries and 100 MB,
// every entry valid. Errors name the entry by index.
func ValidateBulkPut(entries []KVEntry, now time.Time) error {
	if len(entries) == 0 {
		return invalid("entries: at least one entry is required")
	}
	if len(entries) > MaxBulkEntries {
		return tooLarge("entries: %d entries is over the bulk limit of %d", len(entries), MaxBulkEntries)
	}
	var total int64
	for i, e := range entries {
		err := ValidateKVPut(KVPut{Key: e.Key, Body: strings.NewReader(""), Size: int64(len(e.Value)), Metadata: e.Metadata, Expiry: e.Expiry}, now)
		if err != nil {
			return prefixed(fmt.Sprintf("entries[%d]", i), err)
		}
		total += int64(len(e.Key) + len(e.Value) + len(e.Metadata))
	}
	if total > MaxBulkBytes {
		return tooLarge("entries: %d bytes in all is over the bulk limit of %d bytes (100 MB)", total, MaxBulkBytes)
	}
	return nil
}

// ValidateKeys checks a list of keys for a bulk read or delete against max.
func ValidateKeys(keys []string, max int) error {
	if len(keys) == 0 {
		return invalid("keys: at least one key is required")
	}
	if len(keys) > max {
		return tooLarge("keys: %d keys is over the limit of %d per call", len(keys), max)
	}
	for i, k := range keys {
		if err := ValidateKVKey(k); err != nil {
			return prefixed(fmt.Sprintf("keys[%d]", i), err)
		}
	}
	return nil
}

// ValidateNamespaceTitle checks a namespace title: not blank, no control
// characters, at most 512 bytes.
func ValidateNamespaceTitle(title string) error {
	switch {
	case strings.TrimSpace(title) == "":
		return invalid("title: must not be empty")
	case len(title) > MaxNamespaceTitle:
		return invalid("title: %d bytes is over the limit of %d bytes", len(title), MaxNamespaceTitle)
	case !utf8.ValidString(title) || strings.ContainsFunc(title, isControl):
		return invalid("title: must be UTF-8 text without control characters")
	}
	return nil
}

// ValidateBucketName checks R2's rule: 3..63 characters of a-z, 0-9 and -,
// starting and ending with a letter or digit.
func ValidateBucketName(name string) error { return validateBucketName("bucket", name) }

func validateBucketName(field, name string) error {
	if len(name) < MinBucketName || len(name) > MaxBucketName {
		return invalid("%s: %q must be %d to %d characters long", field, name, MinBucketName, MaxBucketName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return invalid("%s: %q may hold only a-z, 0-9 and '-', and must start and end with a letter or digit", field, name)
		}
	}
	return nil
}

// ValidateBucketSpec checks a bucket to create.
func ValidateBucketSpec(s BucketSpec) error {
	if err := validateBucketName("name", s.Name); err != nil {
		return err
	}
	if err := oneOf("location_hint", s.LocationHint, LocationHints); err != nil {
		return err
	}
	if err := oneOf("storage_class", s.StorageClass, StorageClasses); err != nil {
		return err
	}
	return oneOf("jurisdiction", s.Jurisdiction, Jurisdictions)
}

// ValidateObjectKey checks an R2 key: 1..1024 bytes of UTF-8.
func ValidateObjectKey(key string) error { return validateObjectKey("key", key) }

func validateObjectKey(field, key string) error {
	switch {
	case key == "":
		return invalid("%s: must not be empty", field)
	case len(key) > MaxObjectKeyBytes:
		return invalid("%s: %d bytes is over the R2 limit of %d bytes", field, len(key), MaxObjectKeyBytes)
	case !utf8.ValidString(key):
		return invalid("%s: must be valid UTF-8", field)
	}
	return nil
}

// ValidateCustomMetadata checks custom metadata against R2's 8192-byte limit
// (names and values together).
func ValidateCustomMetadata(m map[string]string) error {
	total := 0
	for k, v := range m {
		if k == "" {
			return invalid("custom_metadata: names must not be empty")
		}
		total += len(k) + len(v)
	}
	if total > MaxCustomMetadataBytes {
		return tooLarge("custom_metadata: %d bytes is over the R2 limit of %d bytes", total, MaxCustomMetadataBytes)
	}
	return nil
}

// ValidateObjectPut checks an object to write.
func ValidateObjectPut(p ObjectPut) error {
	if err := ValidateBucketName(p.Bucket); err != nil {
		return err
	}
	if err := ValidateObjectKey(p.Key); err != nil {
		return err
	}
	if p.Body == nil {
		return invalid("content: is required")
	}
	if p.Size < 0 {
		return invalid("content: size %d is negative", p.Size)
	}
	if p.Size > MaxObjectBytes {
		return tooLarge("content: %d bytes is over the R2 object limit of %d bytes (5 TiB)", p.Size, int64(MaxObjectBytes))
	}
	return ValidateCustomMetadata(p.CustomMetadata)
}

// ValidateRange checks a byte range.
func ValidateRange(r *ByteRange) error {
	if r == nil {
		return nil
	}
	if r.Start < 0 {
		return invalid("range_start: %d must not be negative", r.Start)
	}
	if r.End >= 0 && r.End < r.Start {
		return invalid("range_end: %d must not be before range_start %d", r.End, r.Start)
	}
	return nil
}

// ValidatePresign checks a presign request: GET or PUT, 1 s .. 7 days.
func ValidatePresign(r PresignRequest) error {
	if err := ValidateBucketName(r.Bucket); err != nil {
		return err
	}
	if err := ValidateObjectKey(r.Key); err != nil {
		return err
	}
	if r.Method != "GET" && r.Method != "PUT" {
		return invalid("method: %q must be GET or PUT", r.Method)
	}
	if r.Expires < time.Second || r.Expires > MaxPresignExpiry {
		return invalid("expires_in: %d seconds must be between 1 and %d (7 days)", int64(r.Expires/time.Second), int64(MaxPresignExpiry/time.Second))
	}
	return nil
}

// ValidateLimit checks a page size; 0 means the default.
func ValidateLimit(field string, limit, min, max int) error {
	if limit != 0 && (limit < min || limit > max) {
		return invalid("%s: %d must be between %d and %d", field, limit, min, max)
	}
	return nil
}

// ValidateObjectKeys checks the keys of a multi-object delete.
func ValidateObjectKeys(keys []string) error {
	if len(keys) == 0 {
		return invalid("keys: at least one key is required")
	}
	if len(keys) > MaxDeleteObjects {
		return tooLarge("keys: %d keys is over the limit of %d per call", len(keys), MaxDeleteObjects)
	}
	for i, k := range keys {
		if err := ValidateObjectKey(k); err != nil {
			return prefixed(fmt.Sprintf("keys[%d]", i), err)
		}
	}
	return nil
}

func oneOf(field, v string, allowed []string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid("%s: %q is not one of %s", field, v, strings.Join(allowed, ", "))
}

// prefixed puts a more precise field name in front of a validation message,
// so "key: ..." of the third entry reads "entries[2].key: ...".
func prefixed(field string, err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	return &Error{Code: e.Code, Message: field + "." + e.Message, Err: e.Err}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
