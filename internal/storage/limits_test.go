package storage_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// rule is the outcome a validation case expects: ok, or an error with a code
// whose message starts with field and names each number.
type rule struct {
	code    storage.Code // "" = accepted
	field   string
	numbers []int64
}

var ok = rule{}

func invalid(field string, numbers ...int64) rule {
	return rule{storage.CodeInvalidArgument, field, numbers}
}

func tooLarge(field string, numbers ...int64) rule {
	return rule{storage.CodeTooLarge, field, numbers}
}

func check(t *testing.T, what string, err error, want rule) {
	t.Helper()
	if want.code == "" {
		if err != nil {
			t.Errorf("%s: %v, want accepted", what, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s: accepted, want %s naming %s", what, want.code, want.field)
		return
	}
	if got := storage.CodeOf(err); got != want.code {
		t.Errorf("%s: code %s (%v), want %s", what, got, err, want.code)
	}
	msg, found := strings.CutPrefix(err.Error(), string(want.code)+": ")
	if !found {
		t.Errorf("%s: %q does not start with its code", what, err)
	}
	if !strings.HasPrefix(msg, want.field) {
		t.Errorf("%s: %q does not start with the field %q", what, err, want.field)
	}
	for _, n := range want.numbers {
		if !namesNumber(msg, n) {
			t.Errorf("%s: %q does not name %d", what, err, n)
		}
	}
}

// namesNumber reports whether n occurs in s as a whole number.
func namesNumber(s string, n int64) bool {
	return regexp.MustCompile(`(^|[^0-9])` + strconv.FormatInt(n, 10) + `([^0-9]|$)`).MatchString(s)
}

func TestLimitConstants(t *testing.T) {
	// The numbers of DESIGN.md section 3 and Cloudflare's documentation.
	cases := []struct {
		name      string
		got, want int64
	}{
		{"MaxKVKeyBytes", storage.MaxKVKeyBytes, 512},
		{"MaxKVValueBytes", storage.MaxKVValueBytes, 25 * 1024 * 1024},
		{"MaxKVMetadataBytes", storage.MaxKVMetadataBytes, 1024},
		{"MinExpirationTTL", storage.MinExpirationTTL, 60},
		{"MaxBulkEntries", storage.MaxBulkEntries, 10000},
		{"MaxBulkBytes", storage.MaxBulkBytes, 100 * 1000 * 1000},
		{"MaxBulkGetKeys", storage.MaxBulkGetKeys, 100},
		{"MaxBulkDeleteKeys", storage.MaxBulkDeleteKeys, 10000},
		{"MinKVListLimit", storage.MinKVListLimit, 10},
		{"MaxKVListLimit", storage.MaxKVListLimit, 1000},
		{"MinBucketName", storage.MinBucketName, 3},
		{"MaxBucketName", storage.MaxBucketName, 63},
		{"MaxObjectKeyBytes", storage.MaxObjectKeyBytes, 1024},
		{"MaxCustomMetadataBytes", storage.MaxCustomMetadataBytes, 8192},
		{"MaxObjectBytes", storage.MaxObjectBytes, 5 * 1024 * 1024 * 1024 * 1024},
		{"MaxObjectList", storage.MaxObjectList, 1000},
		{"MaxDeleteObjects", storage.MaxDeleteObjects, 1000},
		{"MaxPresignExpiry", int64(storage.MaxPresignExpiry), int64(7 * 24 * time.Hour)},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestValidateKVKey(t *testing.T) {
	cases := []struct {
		key  string
		want rule
	}{
		{"", invalid("key")},
		{"a", ok},
		{strings.Repeat("k", 512), ok},
		{strings.Repeat("k", 513), invalid("key", 513, 512)},
		{strings.Repeat("k", 510) + "é", ok},                       // 512 bytes
		{strings.Repeat("k", 511) + "é", invalid("key", 513, 512)}, // 513 bytes, 512 characters
		{strings.Repeat("😀", 128), ok},                             // 512 bytes
		{".", invalid("key")},
		{"..", invalid("key")},
		{"...", ok},
		{"./", ok},
		{"../x", ok},
		{" .", ok},
		{"k\xff", invalid("key")},
		{"\xc3", invalid("key")},
		{"a/b?c#d%e f", ok},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("ValidateKVKey(%.20q, %d bytes)", c.key, len(c.key)), storage.ValidateKVKey(c.key), c.want)
	}
}

func TestValidateKVValueSize(t *testing.T) {
	cases := []struct {
		size int64
		want rule
	}{
		{-1, invalid("value")},
		{0, ok},
		{1, ok},
		{storage.MaxKVValueBytes, ok},
		{storage.MaxKVValueBytes + 1, tooLarge("value", storage.MaxKVValueBytes)},
		{1 << 62, tooLarge("value", storage.MaxKVValueBytes)},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("ValidateKVValueSize(%d)", c.size), storage.ValidateKVValueSize(c.size), c.want)
	}
}

func TestValidateKVMetadata(t *testing.T) {
	str := func(n int) json.RawMessage { // a JSON string of n bytes
		return json.RawMessage(`"` + strings.Repeat("m", n-2) + `"`)
	}
	cases := []struct {
		name string
		meta json.RawMessage
		want rule
	}{
		{"nil", nil, ok},
		{"empty object", json.RawMessage(`{}`), ok},
		{"null", json.RawMessage(`null`), ok},
		{"number", json.RawMessage(`1`), ok},
		{"1024 bytes", str(1024), ok},
		{"1025 bytes", str(1025), tooLarge("metadata", 1025, 1024)},
		{"not JSON", json.RawMessage(`{"a":`), invalid("metadata")},
		{"empty, not nil", json.RawMessage{}, invalid("metadata")},
		{"two values", json.RawMessage(`1 2`), invalid("metadata")},
		{"invalid JSON over the limit", json.RawMessage(strings.Repeat("x", 2000)), invalid("metadata")},
	}
	for _, c := range cases {
		check(t, "ValidateKVMetadata "+c.name, storage.ValidateKVMetadata(c.meta), c.want)
	}
}

func TestValidateExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 500_000_000)
	n := now.Unix()
	cases := []struct {
		name string
		e    storage.Expiry
		want rule
	}{
		{"none", storage.Expiry{}, ok},
		{"ttl 60", storage.Expiry{TTL: 60}, ok},
		{"ttl 59", storage.Expiry{TTL: 59}, invalid("expiration_ttl", 59, 60)},
		{"ttl 1", storage.Expiry{TTL: 1}, invalid("expiration_ttl", 60)},
		{"ttl -1", storage.Expiry{TTL: -1}, invalid("expiration_ttl", 60)},
		{"ttl a year", storage.Expiry{TTL: 365 * 86400}, ok},
		{"now+60", storage.Expiry{Expiration: n + 60}, ok},
		{"now+59", storage.Expiry{Expiration: n + 59}, invalid("expiration", n+59, 60, n)},
		{"now", storage.Expiry{Expiration: n}, invalid("expiration", 60)},
		{"past", storage.Expiry{Expiration: 1}, invalid("expiration", 60)},
		{"negative", storage.Expiry{Expiration: -1}, invalid("expiration", 60)},
		{"both", storage.Expiry{TTL: 3600, Expiration: n + 3600}, invalid("expiration, expiration_ttl")},
	}
	for _, c := range cases {
		check(t, "ValidateExpiry "+c.name, storage.ValidateExpiry(c.e, now), c.want)
	}
}

func TestValidateKVPut(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := strings.NewReader("")
	cases := []struct {
		name string
		p    storage.KVPut
		want rule
	}{
		{"ok", storage.KVPut{Key: "k", Body: body, Size: 1}, ok},
		{"no body", storage.KVPut{Key: "k", Size: 1}, invalid("value")},
		{"bad key first", storage.KVPut{Key: "", Size: -1}, invalid("key")},
		{"too big", storage.KVPut{Key: "k", Body: body, Size: storage.MaxKVValueBytes + 1}, tooLarge("value", storage.MaxKVValueBytes)},
		{"metadata", storage.KVPut{Key: "k", Body: body, Metadata: json.RawMessage(`x`)}, invalid("metadata")},
		{"ttl", storage.KVPut{Key: "k", Body: body, Expiry: storage.Expiry{TTL: 59}}, invalid("expiration_ttl", 60)},
		{"expiration", storage.KVPut{Key: "k", Body: body, Expiry: storage.Expiry{Expiration: now.Unix() + 59}}, invalid("expiration", 60)},
	}
	for _, c := range cases {
		check(t, "ValidateKVPut "+c.name, storage.ValidateKVPut(c.p, now), c.want)
	}
}

func TestValidateBulkPut(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	small := func(n int) []storage.KVEntry {
		e := make([]storage.KVEntry, n)
		for i := range e {
			e[i] = storage.KVEntry{Key: "k" + strconv.Itoa(i), Value: []byte("v")}
		}
		return e
	}
	// bytesTotal builds four entries of exactly total bytes (keys "k0".."k3"
	// and their values), sharing one buffer.
	buf := make([]byte, storage.MaxKVValueBytes)
	bytesTotal := func(total int) []storage.KVEntry {
		e := make([]storage.KVEntry, 4)
		rest := total - 4*2
		for i := range e {
			n := min(rest, storage.MaxKVValueBytes)
			e[i] = storage.KVEntry{Key: "k" + strconv.Itoa(i), Value: buf[:n]}
			rest -= n
		}
		if rest != 0 {
			t.Fatalf("test bug: %d bytes left", rest)
		}
		return e
	}
	with := func(e []storage.KVEntry, i int, f func(*storage.KVEntry)) []storage.KVEntry {
		f(&e[i])
		return e
	}
	cases := []struct {
		name    string
		entries []storage.KVEntry
		want    rule
	}{
		{"none", nil, invalid("entries")},
		{"one", small(1), ok},
		{"10000 entries", small(storage.MaxBulkEntries), ok},
		{"10001 entries", small(storage.MaxBulkEntries + 1), tooLarge("entries", 10001, 10000)},
		{"100 MB", bytesTotal(storage.MaxBulkBytes), ok},
		{"100 MB + 1", bytesTotal(storage.MaxBulkBytes + 1), tooLarge("entries", storage.MaxBulkBytes+1, storage.MaxBulkBytes)},
		{"metadata counts", append(bytesTotal(storage.MaxBulkBytes-1), storage.KVEntry{Key: "m", Metadata: json.RawMessage(`1`)}), tooLarge("entries", storage.MaxBulkBytes+1, storage.MaxBulkBytes)},
		{"bad key", with(small(5), 3, func(e *storage.KVEntry) { e.Key = ".." }), invalid("entries[3].key")},
		{"long key", with(small(5), 0, func(e *storage.KVEntry) { e.Key = strings.Repeat("k", 513) }), invalid("entries[0].key", 512)},
		{"big value", with(small(2), 1, func(e *storage.KVEntry) { e.Value = make([]byte, storage.MaxKVValueBytes+1) }), tooLarge("entries[1].value", storage.MaxKVValueBytes)},
		{"metadata", with(small(3), 2, func(e *storage.KVEntry) {
			e.Metadata = json.RawMessage(`"` + strings.Repeat("m", 1023) + `"`)
		}), tooLarge("entries[2].metadata", 1024)},
		{"ttl", with(small(3), 1, func(e *storage.KVEntry) { e.TTL = 59 }), invalid("entries[1].expiration_ttl", 60)},
		{"expiration", with(small(3), 1, func(e *storage.KVEntry) { e.Expiration = now.Unix() + 59 }), invalid("entries[1].expiration", 60)},
		// The count is checked before any entry.
		{"count first", with(small(storage.MaxBulkEntries+1), 0, func(e *storage.KVEntry) { e.Key = "" }), tooLarge("entries", 10000)},
	}
	for _, c := range cases {
		check(t, "ValidateBulkPut "+c.name, storage.ValidateBulkPut(c.entries, now), c.want)
	}
}

func TestValidateKeys(t *testing.T) {
	keys := func(n int) []string {
		k := make([]string, n)
		for i := range k {
			k[i] = "k" + strconv.Itoa(i)
		}
		return k
	}
	cases := []struct {
		name string
		keys []string
		max  int
		want rule
	}{
		{"none", nil, 100, invalid("keys")},
		{"empty slice", []string{}, 100, invalid("keys")},
		{"100 of 100", keys(100), storage.MaxBulkGetKeys, ok},
		{"101 of 100", keys(101), storage.MaxBulkGetKeys, tooLarge("keys", 101, 100)},
		{"10000 of 10000", keys(10000), storage.MaxBulkDeleteKeys, ok},
		{"10001 of 10000", keys(10001), storage.MaxBulkDeleteKeys, tooLarge("keys", 10001, 10000)},
		{"bad key", []string{"a", "b", "."}, 100, invalid("keys[2].key")},
		{"empty key", []string{""}, 100, invalid("keys[0].key")},
	}
	for _, c := range cases {
		check(t, "ValidateKeys "+c.name, storage.ValidateKeys(c.keys, c.max), c.want)
	}
}

func TestValidateNamespaceTitle(t *testing.T) {
	cases := []struct {
		title string
		want  rule
	}{
		{"", invalid("title")},
		{"   ", invalid("title")},
		{"\t\n", invalid("title")},
		{"My namespace", ok},
		{"ünïcødé ✓", ok},
		{strings.Repeat("t", 512), ok},
		{strings.Repeat("t", 513), invalid("title", 513, 512)},
		{"tab\there", invalid("title")},
		{"del\x7f", invalid("title")},
		{"nul\x00", invalid("title")},
		{"bad\xff", invalid("title")},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("ValidateNamespaceTitle(%.20q)", c.title), storage.ValidateNamespaceTitle(c.title), c.want)
	}
}

func TestValidateBucketName(t *testing.T) {
	cases := []struct {
		name string
		want rule
	}{
		{"", invalid("bucket", 3, 63)},
		{"ab", invalid("bucket", 3, 63)},
		{"abc", ok},
		{"a-b", ok},
		{"a--b", ok},
		{"123", ok},
		{strings.Repeat("a", 63), ok},
		{strings.Repeat("a", 64), invalid("bucket", 3, 63)},
		{"-ab", invalid("bucket")},
		{"ab-", invalid("bucket")},
		{"---", invalid("bucket")},
		{"Abc", invalid("bucket")},
		{"a_b", invalid("bucket")},
		{"a.b", invalid("bucket")},
		{"a b", invalid("bucket")},
		{"abé", invalid("bucket")},
		{"ab\x00", invalid("bucket")},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("ValidateBucketName(%q)", c.name), storage.ValidateBucketName(c.name), c.want)
	}
}

func TestValidateBucketSpec(t *testing.T) {
	for _, h := range storage.LocationHints {
		check(t, "location "+h, storage.ValidateBucketSpec(storage.BucketSpec{Name: "abc", LocationHint: h}), ok)
	}
	for _, c := range storage.StorageClasses {
		check(t, "class "+c, storage.ValidateBucketSpec(storage.BucketSpec{Name: "abc", StorageClass: c}), ok)
	}
	for _, j := range storage.Jurisdictions {
		check(t, "jurisdiction "+j, storage.ValidateBucketSpec(storage.BucketSpec{Name: "abc", Jurisdiction: j}), ok)
	}
	cases := []struct {
		name string
		spec storage.BucketSpec
		want rule
	}{
		{"name first", storage.BucketSpec{Name: "A", LocationHint: "mars"}, invalid("name")},
		{"location", storage.BucketSpec{Name: "abc", LocationHint: "mars"}, invalid("location_hint")},
		{"location case", storage.BucketSpec{Name: "abc", LocationHint: "WEUR"}, invalid("location_hint")},
		{"class", storage.BucketSpec{Name: "abc", StorageClass: "standard"}, invalid("storage_class")},
		{"jurisdiction", storage.BucketSpec{Name: "abc", Jurisdiction: "us"}, invalid("jurisdiction")},
	}
	for _, c := range cases {
		check(t, "ValidateBucketSpec "+c.name, storage.ValidateBucketSpec(c.spec), c.want)
	}
}

func TestValidateObjectKey(t *testing.T) {
	cases := []struct {
		key  string
		want rule
	}{
		{"", invalid("key")},
		{"a", ok},
		{".", ok},
		{"..", ok},
		{"../x", ok},
		{"a/b/", ok},
		{strings.Repeat("k", 1024), ok},
		{strings.Repeat("k", 1025), invalid("key", 1025, 1024)},
		{strings.Repeat("k", 1023) + "é", invalid("key", 1024)},
		{"bad\xff", invalid("key")},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("ValidateObjectKey(%.20q, %d bytes)", c.key, len(c.key)), storage.ValidateObjectKey(c.key), c.want)
	}
}

func TestValidateCustomMetadata(t *testing.T) {
	sized := func(total int) map[string]string {
		return map[string]string{"a": strings.Repeat("v", 4000), "bb": strings.Repeat("w", total-4003)}
	}
	cases := []struct {
		name string
		m    map[string]string
		want rule
	}{
		{"nil", nil, ok},
		{"empty value", map[string]string{"k": ""}, ok},
		{"8192", sized(8192), ok},
		{"8193", sized(8193), tooLarge("custom_metadata", 8193, 8192)},
		{"empty name", map[string]string{"": "v"}, invalid("custom_metadata")},
	}
	for _, c := range cases {
		check(t, "ValidateCustomMetadata "+c.name, storage.ValidateCustomMetadata(c.m), c.want)
	}
}

func TestValidateObjectPut(t *testing.T) {
	body := strings.NewReader("")
	cases := []struct {
		name string
		p    storage.ObjectPut
		want rule
	}{
		{"ok", storage.ObjectPut{Bucket: "abc", Key: "k", Body: body}, ok},
		{"5 TiB", storage.ObjectPut{Bucket: "abc", Key: "k", Body: body, Size: storage.MaxObjectBytes}, ok},
		{"5 TiB + 1", storage.ObjectPut{Bucket: "abc", Key: "k", Body: body, Size: storage.MaxObjectBytes + 1}, tooLarge("content", storage.MaxObjectBytes+1, storage.MaxObjectBytes)},
		{"negative", storage.ObjectPut{Bucket: "abc", Key: "k", Body: body, Size: -1}, invalid("content")},
		{"no body", storage.ObjectPut{Bucket: "abc", Key: "k"}, invalid("content")},
		{"bucket", storage.ObjectPut{Bucket: "AB", Key: "k", Body: body}, invalid("bucket")},
		{"key", storage.ObjectPut{Bucket: "abc", Key: "", Body: body}, invalid("key")},
		{"metadata", storage.ObjectPut{Bucket: "abc", Key: "k", Body: body, CustomMetadata: map[string]string{"m": strings.Repeat("v", 8192)}}, tooLarge("custom_metadata", 8192)},
	}
	for _, c := range cases {
		check(t, "ValidateObjectPut "+c.name, storage.ValidateObjectPut(c.p), c.want)
	}
}

func TestValidateRange(t *testing.T) {
	cases := []struct {
		r    *storage.ByteRange
		want rule
	}{
		{nil, ok},
		{&storage.ByteRange{Start: 0, End: -1}, ok},
		{&storage.ByteRange{Start: 0, End: 0}, ok},
		{&storage.ByteRange{Start: 5, End: 5}, ok},
		{&storage.ByteRange{Start: 5, End: 4}, invalid("range_end", 4, 5)},
		{&storage.ByteRange{Start: -1, End: 4}, invalid("range_start", -1)},
		{&storage.ByteRange{Start: 1 << 40, End: -1}, ok},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("ValidateRange(%+v)", c.r), storage.ValidateRange(c.r), c.want)
	}
}

func TestValidatePresign(t *testing.T) {
	req := func(method string, d time.Duration) storage.PresignRequest {
		return storage.PresignRequest{Bucket: "abc", Key: "k", Method: method, Expires: d}
	}
	week := int64(storage.MaxPresignExpiry / time.Second)
	cases := []struct {
		name string
		r    storage.PresignRequest
		want rule
	}{
		{"GET 1s", req("GET", time.Second), ok},
		{"PUT 7 days", req("PUT", storage.MaxPresignExpiry), ok},
		{"0", req("GET", 0), invalid("expires_in", 1, week)},
		{"999ms", req("GET", 999*time.Millisecond), invalid("expires_in", 1, week)},
		{"negative", req("GET", -time.Hour), invalid("expires_in", 1, week)},
		{"7 days + 1s", req("GET", storage.MaxPresignExpiry+time.Second), invalid("expires_in", week+1, 1, week)},
		{"DELETE", req("DELETE", time.Hour), invalid("method")},
		{"lower case", req("get", time.Hour), invalid("method")},
		{"HEAD", req("HEAD", time.Hour), invalid("method")},
		{"bucket", storage.PresignRequest{Bucket: "a", Key: "k", Method: "GET", Expires: time.Hour}, invalid("bucket", 3, 63)},
		{"key", storage.PresignRequest{Bucket: "abc", Key: strings.Repeat("k", 1025), Method: "GET", Expires: time.Hour}, invalid("key", 1024)},
	}
	for _, c := range cases {
		check(t, "ValidatePresign "+c.name, storage.ValidatePresign(c.r), c.want)
	}
}

func TestValidateLimit(t *testing.T) {
	cases := []struct {
		limit, min, max int
		want            rule
	}{
		{0, 10, 1000, ok},
		{10, 10, 1000, ok},
		{1000, 10, 1000, ok},
		{9, 10, 1000, invalid("limit", 9, 10, 1000)},
		{1001, 10, 1000, invalid("limit", 1001, 10, 1000)},
		{-1, 10, 1000, invalid("limit", 10, 1000)},
		{1, 1, 100, ok},
		{101, 1, 100, invalid("limit", 1, 100)},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("ValidateLimit(%d, %d, %d)", c.limit, c.min, c.max), storage.ValidateLimit("limit", c.limit, c.min, c.max), c.want)
	}
	check(t, "field name", storage.ValidateLimit("per_page", 5000, 1, 10), invalid("per_page", 1, 10))
}

func TestValidateObjectKeys(t *testing.T) {
	keys := func(n int) []string {
		k := make([]string, n)
		for i := range k {
			k[i] = "o" + strconv.Itoa(i)
		}
		return k
	}
	cases := []struct {
		name string
		keys []string
		want rule
	}{
		{"none", nil, invalid("keys")},
		{"one", keys(1), ok},
		{"1000", keys(1000), ok},
		{"1001", keys(1001), tooLarge("keys", 1001, 1000)},
		{"bad key", []string{"a", ""}, invalid("keys[1].key")},
		{"long key", []string{strings.Repeat("k", 1025)}, invalid("keys[0].key", 1024)},
	}
	for _, c := range cases {
		check(t, "ValidateObjectKeys "+c.name, storage.ValidateObjectKeys(c.keys), c.want)
	}
}
