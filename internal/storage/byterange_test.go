package storage

import "testing"

// Span is the one resolution of a read's range, for every backend that
// serves ranges itself.
func TestByteRangeSpan(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rng           *ByteRange
		size          int64
		start, length int64
		code          Code
	}{
		{"nil is all", nil, 10, 0, 10, ""},
		{"nil of empty", nil, 0, 0, 0, ""},
		{"to the end", &ByteRange{Start: 3, End: -1}, 10, 3, 7, ""},
		{"inclusive end", &ByteRange{Start: 2, End: 4}, 10, 2, 3, ""},
		{"end past the size is cut", &ByteRange{Start: 8, End: 100}, 10, 8, 2, ""},
		{"last byte", &ByteRange{Start: 9, End: 9}, 10, 9, 1, ""},
		{"start at the size", &ByteRange{Start: 10, End: -1}, 10, 0, 0, CodeInvalidArgument},
		{"any start of empty", &ByteRange{Start: 0, End: -1}, 0, 0, 0, CodeInvalidArgument},
	} {
		start, length, err := tc.rng.Span(tc.size)
		if CodeOf(err) != tc.code || start != tc.start || length != tc.length {
			t.Errorf("%s: Span(%d) = %d, %d, %v; want %d, %d, code %q", tc.name, tc.size, start, length, err, tc.start, tc.length, tc.code)
		}
	}
}
