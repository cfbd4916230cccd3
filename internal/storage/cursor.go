package storage

import (
	"encoding/base64"
	"encoding/json"
)

// EncodeCursor makes a backend's position in a listing (a plain struct of
// strings, numbers and byte slices, which cannot fail to marshal) a cursor:
// base64url JSON. Clients treat it as opaque and pass it back.
func EncodeCursor(position any) string {
	js, _ := json.Marshal(position)
	return base64.RawURLEncoding.EncodeToString(js)
}

// DecodeCursor reads a cursor made by EncodeCursor; "" is the start of the
// listing, the zero position. A cursor that does not decode, or whose
// position ours refuses (one issued by another listing), is
// invalid_argument.
func DecodeCursor[T any](cursor string, ours func(T) bool) (T, error) {
	var pos T
	if cursor == "" {
		return pos, nil
	}
	js, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		err = json.Unmarshal(js, &pos)
	}
	if err != nil || !ours(pos) {
		var zero T
		return zero, Errorf(CodeInvalidArgument,
			"cursor: %.40q is not a cursor of this listing: pass back the cursor the previous page returned", cursor)
	}
	return pos, nil
}
