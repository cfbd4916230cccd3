package cffake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// newID returns 32 random lowercase hex digits: the form of KV namespace ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// isHex32 reports whether s is 32 lowercase hex digits, the form of account
// and namespace ids.
func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Cursors are opaque to clients. The fake's are "<kind>:<last name>" in
// unpadded base64url, so a cursor from one listing is not accepted by another
// and a hand-made one is rejected rather than silently misread.
func encodeCursor(kind, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + last))
}

func decodeCursor(kind, cursor string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), kind+":")
}
