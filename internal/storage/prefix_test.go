package storage

import "testing"

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		p, want string
		ok      bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"photos/", "photos0", true},
		{"a\xff", "b", true},
		{"a\xff\xff", "b", true},
		{"\xff\xff", "", false},
		{"\xfe", "\xff", true},
		{"é", "\xc3\xaa", true}, // the last byte goes up: é is c3 a9
	} {
		got, ok := PrefixEnd(tc.p)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", tc.p, got, ok, tc.want, tc.ok)
		}
		gotB, okB := PrefixEnd([]byte(tc.p))
		if string(gotB) != tc.want || okB != tc.ok {
			t.Errorf("PrefixEnd([]byte(%q)) = %q, %v; want %q, %v", tc.p, gotB, okB, tc.want, tc.ok)
		}
	}
	// The caller's bytes are left alone.
	p := []byte("ab")
	PrefixEnd(p)
	if string(p) != "ab" {
		t.Errorf("PrefixEnd changed its argument to %q", p)
	}
}
