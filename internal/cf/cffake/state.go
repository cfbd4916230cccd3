package cffake

import (
	"encoding/json"
	"time"
)

// accountState is one account and everything stored in it. The Account and
// createdOn never change; the maps and what they hold are guarded by
// Server.mu.
type accountState struct {
	Account
	createdOn time.Time

	namespaces   map[string]*namespace // by id
	buckets      map[bucketKey]*bucket
	objectCounts map[bucketKey]int      // set by SetBucketObjectCount
	databases    map[string]*d1Database // D1, by uuid
}

func newAccountState(a Account, createdOn time.Time) *accountState {
	return &accountState{
		Account:      a,
		createdOn:    createdOn,
		namespaces:   map[string]*namespace{},
		buckets:      map[bucketKey]*bucket{},
		objectCounts: map[bucketKey]int{},
		databases:    map[string]*d1Database{},
	}
}

// namespace is a Workers KV namespace.
type namespace struct {
	id    string
	title string
	keys  map[string]kvEntry
}

// kvEntry is a stored value. An entry whose expiration has passed is gone:
// every read checks live, so expiry needs no background work.
type kvEntry struct {
	value      []byte
	expiration int64           // unix seconds; 0 = never
	metadata   json.RawMessage // compact JSON; nil = none
}

func (e kvEntry) live(now int64) bool {
	return e.expiration == 0 || now < e.expiration
}

// bucketKey identifies a bucket within an account: R2 keeps a separate
// bucket namespace per jurisdiction.
type bucketKey struct {
	jurisdiction string
	name         string
}

// bucket is an R2 bucket's configuration; its objects live elsewhere (see
// BucketHooks).
type bucket struct {
	bucketKey
	location     string
	storageClass string
	created      time.Time
}
