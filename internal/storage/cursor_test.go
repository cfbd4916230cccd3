package storage

import (
	"strings"
	"testing"
)

// One cursor codec serves every backend: a position round-trips, "" is the
// start, and what does not decode or is another listing's is refused with
// invalid_argument.
func TestCursorCodec(t *testing.T) {
	type pos struct {
		Kind string `json:"t"`
		Key  []byte `json:"k"`
	}
	ours := func(p pos) bool { return p.Kind == "kv" }
	want := pos{Kind: "kv", Key: []byte("a/\xffb")}
	c := EncodeCursor(want)
	if strings.ContainsAny(c, "+/=") {
		t.Errorf("cursor %q is not unpadded base64url", c)
	}
	got, err := DecodeCursor(c, ours)
	if err != nil || got.Kind != want.Kind || string(got.Key) != string(want.Key) {
		t.Fatalf("DecodeCursor(EncodeCursor(%+v)) = %+v, %v", want, got, err)
	}
	if got, err := DecodeCursor("", ours); err != nil || got.Kind != "" || got.Key != nil {
		t.Errorf(`DecodeCursor("") = %+v, %v; want the zero position`, got, err)
	}
	for _, bad := range []string{"!!", "bm90IGpzb24", EncodeCursor(pos{Kind: "b"}), EncodeCursor([]int{1})} {
		got, err := DecodeCursor(bad, ours)
		if CodeOf(err) != CodeInvalidArgument || !strings.Contains(err.Error(), "not a cursor of this listing") {
			t.Errorf("DecodeCursor(%q) = %+v, %v; want invalid_argument", bad, got, err)
		}
		if got.Kind != "" || got.Key != nil {
			t.Errorf("DecodeCursor(%q) gave position %+v with its error", bad, got)
		}
	}
}
