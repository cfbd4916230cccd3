package storage_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The fuzz targets check that each validator never panics and draws the
// line exactly where Cloudflare's rule does: it accepts an input if and only
// if the rule holds, and a rejection carries invalid_argument or too_large
// and a message that starts with the field name.

// wantRejection checks the form of a validation error.
func wantRejection(t *testing.T, err error, fields ...string) {
	t.Helper()
	code := storage.CodeOf(err)
	if code != storage.CodeInvalidArgument && code != storage.CodeTooLarge {
		t.Fatalf("rejected with code %q (%v), want invalid_argument or too_large", code, err)
	}
	msg, ok := strings.CutPrefix(err.Error(), string(code)+": ")
	if !ok {
		t.Fatalf("%q does not start with its code", err)
	}
	for _, f := range fields {
		if strings.HasPrefix(msg, f+":") {
			return
		}
	}
	t.Fatalf("%q does not start with the field (%s)", err, strings.Join(fields, " or "))
}

func FuzzValidateKVKey(f *testing.F) {
	for _, s := range []string{
		"", "a", ".", "..", "...", "./", "../x", " .", "\xff", "\xc3", "k\x00",
		strings.Repeat("k", 511), strings.Repeat("k", 512), strings.Repeat("k", 513),
		strings.Repeat("k", 510) + "é", strings.Repeat("k", 511) + "é", strings.Repeat("😀", 128),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := storage.ValidateKVKey(key)
		rule := len(key) >= 1 && len(key) <= storage.MaxKVKeyBytes && utf8.ValidString(key) && key != "." && key != ".."
		if (err == nil) != rule {
			t.Fatalf("ValidateKVKey(%q) = %v, but the rule says accepted=%v", key, err, rule)
		}
		if err != nil {
			wantRejection(t, err, "key")
			if len(key) > storage.MaxKVKeyBytes && !namesNumber(err.Error(), storage.MaxKVKeyBytes) {
				t.Fatalf("%q does not name the limit", err)
			}
		}
	})
}

var bucketNameRule = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func FuzzValidateBucketName(f *testing.F) {
	for _, s := range []string{
		"", "a", "ab", "abc", "a-b", "-ab", "ab-", "---", "a--b", "ABC", "a_b", "a.b", "abé", "ab\x00", "ab\n",
		strings.Repeat("a", 62), strings.Repeat("a", 63), strings.Repeat("a", 64), "a" + strings.Repeat("-", 61) + "a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := storage.ValidateBucketName(name)
		rule := bucketNameRule.MatchString(name)
		if (err == nil) != rule {
			t.Fatalf("ValidateBucketName(%q) = %v, but the rule says accepted=%v", name, err, rule)
		}
		if err != nil {
			wantRejection(t, err, "bucket")
			if storage.CodeOf(err) != storage.CodeInvalidArgument {
				t.Fatalf("%q: a bad name is an invalid argument", err)
			}
			if (len(name) < 3 || len(name) > 63) && !(namesNumber(err.Error(), 3) && namesNumber(err.Error(), 63)) {
				t.Fatalf("%q does not name the length limits", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("the message %q is not valid UTF-8", err)
			}
		}
	})
}

func FuzzValidateObjectKey(f *testing.F) {
	for _, s := range []string{
		"", "a", ".", "..", "../x", "a/b/", "\xff", "q?x#y%z",
		strings.Repeat("k", 1023), strings.Repeat("k", 1024), strings.Repeat("k", 1025),
		strings.Repeat("k", 1022) + "é", strings.Repeat("k", 1023) + "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := storage.ValidateObjectKey(key)
		rule := len(key) >= 1 && len(key) <= storage.MaxObjectKeyBytes && utf8.ValidString(key)
		if (err == nil) != rule {
			t.Fatalf("ValidateObjectKey(%q) = %v, but the rule says accepted=%v", key, err, rule)
		}
		if err != nil {
			wantRejection(t, err, "key")
			if len(key) > storage.MaxObjectKeyBytes && !namesNumber(err.Error(), storage.MaxObjectKeyBytes) {
				t.Fatalf("%q does not name the limit", err)
			}
		}
	})
}

func FuzzValidateKVMetadata(f *testing.F) {
	for _, s := range []string{
		"", "{}", "null", "1", `"s"`, `{"a":`, "1 2", `{"a":[1,2,{"b":null}]}`, "\xff",
		`"` + strings.Repeat("m", 1022) + `"`, `"` + strings.Repeat("m", 1023) + `"`,
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(nil), true)
	f.Fuzz(func(t *testing.T, b []byte, isNil bool) {
		meta := json.RawMessage(b)
		if isNil {
			meta = nil
		}
		err := storage.ValidateKVMetadata(meta)
		rule := meta == nil || (json.Valid(meta) && len(meta) <= storage.MaxKVMetadataBytes)
		if (err == nil) != rule {
			t.Fatalf("ValidateKVMetadata(%q) = %v, but the rule says accepted=%v", meta, err, rule)
		}
		if err != nil {
			wantRejection(t, err, "metadata")
			if json.Valid(meta) && storage.CodeOf(err) != storage.CodeTooLarge {
				t.Fatalf("valid JSON over the limit: %v, want too_large", err)
			}
		}
	})
}

func FuzzValidateExpiry(f *testing.F) {
	const now = 1_800_000_000
	for _, s := range [][3]int64{
		{0, 0, now}, {0, 60, now}, {0, 59, now}, {0, -1, now}, {now + 60, 0, now}, {now + 59, 0, now},
		{-1, 0, now}, {1, 0, now}, {now + 3600, 3600, now}, {0, 1 << 62, now}, {1 << 62, 0, now},
		{60, 0, 0}, {59, 0, 0},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, expiration, ttl, nowSec int64) {
		// Any clock from 1970 to the year 36812: a realistic now, far
		// enough from the int64 edge that now+60 cannot overflow.
		if nowSec < 0 {
			nowSec = -nowSec
		}
		nowSec %= 1 << 40
		clock := time.Unix(nowSec, 0)
		e := storage.Expiry{Expiration: expiration, TTL: ttl}

		err := storage.ValidateExpiry(e, clock)
		both := expiration != 0 && ttl != 0
		ttlOK := ttl == 0 || ttl >= storage.MinExpirationTTL
		expOK := expiration == 0 || expiration >= nowSec+storage.MinExpirationTTL
		if (err == nil) != (!both && ttlOK && expOK) {
			t.Fatalf("ValidateExpiry(%+v, now %d) = %v, but the rule says both=%v ttlOK=%v expOK=%v",
				e, nowSec, err, both, ttlOK, expOK)
		}
		if err == nil {
			return
		}
		switch {
		case both:
			wantRejection(t, err, "expiration, expiration_ttl")
		case !ttlOK:
			wantRejection(t, err, "expiration_ttl")
		default:
			wantRejection(t, err, "expiration")
		}
		if !both && !namesNumber(err.Error(), storage.MinExpirationTTL) {
			t.Fatalf("%q does not name the 60-second minimum", err)
		}
	})
}
