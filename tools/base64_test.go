package tools

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeAnyForm is the rule base64Body implements: the first of the four
// forms that decodes the text.
func decodeAnyForm(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// base64Body picks the form from the text instead of trying each, and
// decodes as it is read: it accepts and refuses what trying each form
// does, with the same bytes, read in order, at any offset, or whole.
func TestBase64BodyAgreesWithEveryForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cases []string
	for n := range 40 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			s := enc.EncodeToString(data)
			cases = append(cases, s, " "+s+"\n")
			if len(s) > 8 {
				cases = append(cases, s[:len(s)-1], s[1:], s[:4]+"\n"+s[4:], s[:5]+"=="+s[5:], s[:3]+"*"+s[4:], s+"=")
			}
		}
	}
	cases = append(cases, "", "A", "AB", "ABC", "AB=", "AB==", "A===", "====", "-_+/", "AB+-", "YQ", "YQ=", "YQ==", "YQ===")
	for _, s := range cases {
		want, ok := decodeAnyForm(s)
		got, err := decodeBase64("v", s)
		if ok != (err == nil) || !bytes.Equal(got, want) {
			t.Errorf("decodeBase64(%q) = %x, %v; every form gives %x, %v", s, got, err, want, ok)
			continue
		}
		if !ok {
			if !strings.Contains(err.Error(), "v: not valid base64") {
				t.Errorf("decodeBase64(%q): error %q", s, err)
			}
			continue
		}
		body, size, err := base64Body("v", s)
		if err != nil || size != int64(len(want)) {
			t.Fatalf("base64Body(%q): size %d, %v; want %d", s, size, err, len(want))
		}
		if err := iotest.TestReader(body, want); err != nil {
			t.Errorf("reading %q: %v", s, err)
		}
		for off := range len(want) {
			for n := 0; off+n <= len(want)+2; n++ {
				p := make([]byte, n)
				m, err := body.ReadAt(p, int64(off))
				wantN := min(n, len(want)-off)
				if m != wantN || !bytes.Equal(p[:m], want[off:off+wantN]) || (m < n) != (err == io.EOF) {
					t.Fatalf("%q ReadAt(%d bytes, %d) = %d %x, %v; want %x", s, n, off, m, p[:m], err, want[off:off+wantN])
				}
			}
		}
	}
}
