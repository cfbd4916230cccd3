package storage

// PrefixEnd returns the least key above every key that starts with p, and
// false when there is none (p is empty or all 0xff bytes). Listings scan
// key >= p AND key < PrefixEnd(p) on an index rather than LIKE, which would
// read '%' and '_' in a key as wildcards and cannot use a BLOB index. Keys
// compare byte by byte, so the bound need not be valid UTF-8 (a TEXT
// column with BINARY collation compares it the same way).
func PrefixEnd[K ~string | ~[]byte](p K) (K, bool) {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return K(end[:i+1]), true
		}
	}
	var none K
	return none, false
}
