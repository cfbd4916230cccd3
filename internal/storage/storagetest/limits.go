package storagetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// limitFixture is what a limit case runs against: a namespace and a bucket
// that each hold one item named "existing", and a body that must not be read.
type limitFixture struct {
	st     *storage.Store
	ns     string
	bucket string
	body   *countingReader
}

type limitCase struct {
	name    string
	op      func(t *testing.T, f *limitFixture) error
	code    storage.Code
	field   string  // the message starts with it
	numbers []int64 // the message names each
}

func (s *suite) limits(t *testing.T) {
	s.group(t, "Over", s.limitsOver)
	s.group(t, "At", s.limitsAt)
}

// limitsOver checks every limit of storage/limits.go and DESIGN.md section 3
// one step past it: the right code, a message naming the field and the
// limit, no byte of the body read, and nothing stored.
func (s *suite) limitsOver(t *testing.T) {
	const (
		inv = storage.CodeInvalidArgument
		big = storage.CodeTooLarge
	)
	kvPutOf := func(p storage.KVPut) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			if p.Body == nil {
				p.Body = f.body
			}
			return f.st.KV().Put(t.Context(), f.ns, p)
		}
	}
	withMeta := func(key string, meta string) storage.KVPut {
		return storage.KVPut{Key: key, Size: 1, Metadata: json.RawMessage(meta)}
	}
	bulkPut := func(entries func() []storage.KVEntry) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			_, err := f.st.KV().BulkPut(t.Context(), f.ns, entries())
			return err
		}
	}
	smallEntries := func(n int) func() []storage.KVEntry {
		return func() []storage.KVEntry {
			e := make([]storage.KVEntry, n)
			for i := range e {
				e[i] = storage.KVEntry{Key: fmt.Sprintf("bulk-%05d", i), Value: []byte("v")}
			}
			return e
		}
	}
	keysN := func(n int) []string {
		k := make([]string, n)
		for i := range k {
			k[i] = fmt.Sprintf("k%05d", i)
		}
		k[n/2] = "existing"
		return k
	}
	kvList := func(opts storage.ListOptions) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			_, err := f.st.KV().List(t.Context(), f.ns, opts)
			return err
		}
	}
	createBucket := func(spec storage.BucketSpec) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			_, err := f.st.R2().CreateBucket(t.Context(), spec)
			return err
		}
	}
	putObject := func(p storage.ObjectPut) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			if p.Bucket == "" {
				p.Bucket = f.bucket
			}
			if p.Body == nil {
				p.Body = f.body
			}
			return nil2(f.st.R2().PutObject(t.Context(), p))
		}
	}
	listObjectsOp := func(opts storage.ObjectListOptions) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().ListObjects(t.Context(), f.bucket, opts))
		}
	}
	getRange := func(rng storage.ByteRange) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			obj, err := f.st.R2().GetObject(t.Context(), f.bucket, "existing", &rng)
			if err == nil {
				obj.Body.Close()
			}
			return err
		}
	}
	presign := func(method string, d time.Duration) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().Presign(t.Context(), storage.PresignRequest{Bucket: f.bucket, Key: "existing", Method: method, Expires: d}))
		}
	}
	deleteObjects := func(keys []string) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().DeleteObjects(t.Context(), f.bucket, keys))
		}
	}
	copyTo := func(dst storage.ObjectRef) func(*testing.T, *limitFixture) error {
		return func(t *testing.T, f *limitFixture) error {
			if dst.Bucket == "" {
				dst.Bucket = f.bucket
			}
			return nil2(f.st.R2().CopyObject(t.Context(), storage.ObjectRef{Bucket: f.bucket, Key: "existing"}, dst))
		}
	}
	meta := func(total int) map[string]string {
		// names and values together: "m" + value of total-1 bytes.
		return map[string]string{"m": strings.Repeat("v", total-1)}
	}
	long := func(n int) string { return strings.Repeat("k", n) }

	cases := []limitCase{
		// KV keys: 1..512 bytes of UTF-8, not "." or "..".
		{"KVPut/KeyEmpty", kvPutOf(storage.KVPut{Key: "", Size: 1}), inv, "key", nil},
		{"KVPut/Key513", kvPutOf(storage.KVPut{Key: long(513), Size: 1}), inv, "key", []int64{512}},
		{"KVPut/KeyDot", kvPutOf(storage.KVPut{Key: ".", Size: 1}), inv, "key", nil},
		{"KVPut/KeyDotDot", kvPutOf(storage.KVPut{Key: "..", Size: 1}), inv, "key", nil},
		{"KVPut/KeyInvalidUTF8", kvPutOf(storage.KVPut{Key: "k\xff", Size: 1}), inv, "key", nil},
		{"KVGet/Key513", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().Get(t.Context(), f.ns, long(513)))
		}, inv, "key", []int64{512}},
		{"KVGet/KeyDotDot", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().Get(t.Context(), f.ns, ".."))
		}, inv, "key", nil},
		{"KVDelete/KeyEmpty", func(t *testing.T, f *limitFixture) error {
			return f.st.KV().Delete(t.Context(), f.ns, "")
		}, inv, "key", nil},
		{"KVDelete/KeyDot", func(t *testing.T, f *limitFixture) error {
			return f.st.KV().Delete(t.Context(), f.ns, ".")
		}, inv, "key", nil},
		// KV values: <= 25 MiB; Guard refuses by Size before reading.
		{"KVPut/Value25MiBPlus1", kvPutOf(storage.KVPut{Key: "existing", Size: storage.MaxKVValueBytes + 1}), big, "value", []int64{storage.MaxKVValueBytes}},
		{"KVPut/ValueNegativeSize", kvPutOf(storage.KVPut{Key: "existing", Size: -1}), inv, "value", nil},
		{"KVPut/ValueMissing", func(t *testing.T, f *limitFixture) error {
			return f.st.KV().Put(t.Context(), f.ns, storage.KVPut{Key: "existing", Size: 0})
		}, inv, "value", nil},
		// Metadata: JSON, <= 1024 bytes.
		{"KVPut/Metadata1025", kvPutOf(withMeta("existing", `"`+strings.Repeat("m", 1023)+`"`)), big, "metadata", []int64{storage.MaxKVMetadataBytes}},
		{"KVPut/MetadataNotJSON", kvPutOf(withMeta("existing", `{"a":`)), inv, "metadata", nil},
		// Expiration: ttl >= 60, absolute >= now+60, not both.
		{"KVPut/TTL59", kvPutOf(storage.KVPut{Key: "existing", Size: 1, Expiry: storage.Expiry{TTL: 59}}), inv, "expiration_ttl", []int64{60}},
		{"KVPut/TTL1", kvPutOf(storage.KVPut{Key: "new", Size: 1, Expiry: storage.Expiry{TTL: 1}}), inv, "expiration_ttl", []int64{60}},
		{"KVPut/TTLNegative", kvPutOf(storage.KVPut{Key: "new", Size: 1, Expiry: storage.Expiry{TTL: -60}}), inv, "expiration_ttl", []int64{60}},
		{"KVPut/ExpirationNowPlus59", func(t *testing.T, f *limitFixture) error {
			return kvPutOf(storage.KVPut{Key: "existing", Size: 1, Expiry: storage.Expiry{Expiration: time.Now().Unix() + 59}})(t, f)
		}, inv, "expiration", []int64{60}},
		{"KVPut/ExpirationPast", func(t *testing.T, f *limitFixture) error {
			return kvPutOf(storage.KVPut{Key: "new", Size: 1, Expiry: storage.Expiry{Expiration: time.Now().Unix() - 3600}})(t, f)
		}, inv, "expiration", []int64{60}},
		{"KVPut/ExpirationAndTTL", func(t *testing.T, f *limitFixture) error {
			return kvPutOf(storage.KVPut{Key: "new", Size: 1, Expiry: storage.Expiry{TTL: 3600, Expiration: time.Now().Unix() + 3600}})(t, f)
		}, inv, "expiration", nil},
		// Bulk writes: <= 10,000 entries and <= 100 MB, every entry valid,
		// all or nothing.
		{"KVBulkPut/Entries10001", bulkPut(smallEntries(storage.MaxBulkEntries + 1)), big, "entries", []int64{storage.MaxBulkEntries}},
		{"KVBulkPut/Bytes100MBPlus", bulkPut(func() []storage.KVEntry {
			// Four values of exactly 25 MiB share one buffer: each entry is
			// within its limit, the request is not.
			value := make([]byte, storage.MaxKVValueBytes)
			e := make([]storage.KVEntry, 4)
			for i := range e {
				e[i] = storage.KVEntry{Key: fmt.Sprintf("big-%d", i), Value: value}
			}
			return e
		}), big, "entries", []int64{storage.MaxBulkBytes}},
		{"KVBulkPut/Empty", bulkPut(func() []storage.KVEntry { return nil }), inv, "entries", nil},
		{"KVBulkPut/OneBadKey", bulkPut(func() []storage.KVEntry {
			e := smallEntries(5)()
			e[3].Key = ".."
			return e
		}), inv, "entries[3].key", nil},
		{"KVBulkPut/OneLongKey", bulkPut(func() []storage.KVEntry {
			e := smallEntries(3)()
			e[2].Key = long(513)
			return e
		}), inv, "entries[2].key", []int64{512}},
		{"KVBulkPut/OneTTL59", bulkPut(func() []storage.KVEntry {
			e := smallEntries(3)()
			e[1].TTL = 59
			return e
		}), inv, "entries[1].expiration_ttl", []int64{60}},
		{"KVBulkPut/OneMetadata1025", bulkPut(func() []storage.KVEntry {
			e := smallEntries(3)()
			e[0].Metadata = json.RawMessage(`"` + strings.Repeat("m", 1023) + `"`)
			return e
		}), big, "entries[0].metadata", []int64{storage.MaxKVMetadataBytes}},
		{"KVBulkPut/OneValue25MiBPlus1", bulkPut(func() []storage.KVEntry {
			e := smallEntries(2)()
			e[1].Value = make([]byte, storage.MaxKVValueBytes+1)
			return e
		}), big, "entries[1].value", []int64{storage.MaxKVValueBytes}},
		// Bulk reads: <= 100 keys; bulk deletes: <= 10,000 keys.
		{"KVBulkGet/Keys101", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().BulkGet(t.Context(), f.ns, keysN(storage.MaxBulkGetKeys+1), storage.BulkGetOptions{}))
		}, big, "keys", []int64{storage.MaxBulkGetKeys}},
		{"KVBulkGet/Empty", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().BulkGet(t.Context(), f.ns, nil, storage.BulkGetOptions{}))
		}, inv, "keys", nil},
		{"KVBulkGet/BadKey", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().BulkGet(t.Context(), f.ns, []string{"existing", ""}, storage.BulkGetOptions{}))
		}, inv, "keys[1].key", nil},
		{"KVBulkDelete/Keys10001", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().BulkDelete(t.Context(), f.ns, keysN(storage.MaxBulkDeleteKeys+1)))
		}, big, "keys", []int64{storage.MaxBulkDeleteKeys}},
		{"KVBulkDelete/Empty", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().BulkDelete(t.Context(), f.ns, []string{}))
		}, inv, "keys", nil},
		{"KVBulkDelete/BadKey", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().BulkDelete(t.Context(), f.ns, []string{"existing", "k", ".."}))
		}, inv, "keys[2].key", nil},
		// Listing keys: limit 10..1000, prefix <= 512 bytes.
		{"KVList/Limit9", kvList(storage.ListOptions{Limit: 9}), inv, "limit", []int64{10, 1000}},
		{"KVList/Limit1001", kvList(storage.ListOptions{Limit: 1001}), inv, "limit", []int64{10, 1000}},
		{"KVList/LimitNegative", kvList(storage.ListOptions{Limit: -1}), inv, "limit", []int64{10, 1000}},
		{"KVList/Prefix513", kvList(storage.ListOptions{Prefix: long(513)}), inv, "prefix", []int64{512}},
		{"KVListNamespaces/Limit101", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().ListNamespaces(t.Context(), storage.ListOptions{Limit: storage.MaxNamespaceList + 1}))
		}, inv, "limit", []int64{storage.MaxNamespaceList}},
		{"KVListNamespaces/LimitNegative", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().ListNamespaces(t.Context(), storage.ListOptions{Limit: -5}))
		}, inv, "limit", []int64{storage.MaxNamespaceList}},
		// Namespace titles: not blank, <= 512 bytes, no control characters.
		{"KVCreateNamespace/TitleEmpty", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().CreateNamespace(t.Context(), ""))
		}, inv, "title", nil},
		{"KVCreateNamespace/TitleBlank", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().CreateNamespace(t.Context(), "   "))
		}, inv, "title", nil},
		{"KVCreateNamespace/Title513", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().CreateNamespace(t.Context(), long(513)))
		}, inv, "title", []int64{storage.MaxNamespaceTitle}},
		{"KVCreateNamespace/TitleControl", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.KV().CreateNamespace(t.Context(), "line\nbreak"))
		}, inv, "title", nil},
		{"KVRenameNamespace/Title513", func(t *testing.T, f *limitFixture) error {
			return f.st.KV().RenameNamespace(t.Context(), f.ns, long(513))
		}, inv, "title", []int64{storage.MaxNamespaceTitle}},
		{"KVRenameNamespace/TitleEmpty", func(t *testing.T, f *limitFixture) error {
			return f.st.KV().RenameNamespace(t.Context(), f.ns, "")
		}, inv, "title", nil},

		// Bucket names: 3..63 of a-z, 0-9 and '-', alphanumeric at both ends.
		{"R2CreateBucket/Name2", createBucket(storage.BucketSpec{Name: "ab"}), inv, "name", []int64{3, 63}},
		{"R2CreateBucket/Name64", createBucket(storage.BucketSpec{Name: "b" + strings.Repeat("0", 63)}), inv, "name", []int64{3, 63}},
		{"R2CreateBucket/NameEmpty", createBucket(storage.BucketSpec{Name: ""}), inv, "name", []int64{3, 63}},
		{"R2CreateBucket/NameUpperCase", createBucket(storage.BucketSpec{Name: "Upper-case"}), inv, "name", nil},
		{"R2CreateBucket/NameLeadingDash", createBucket(storage.BucketSpec{Name: "-leading"}), inv, "name", nil},
		{"R2CreateBucket/NameTrailingDash", createBucket(storage.BucketSpec{Name: "trailing-"}), inv, "name", nil},
		{"R2CreateBucket/NameUnderscore", createBucket(storage.BucketSpec{Name: "under_score"}), inv, "name", nil},
		{"R2CreateBucket/NameDot", createBucket(storage.BucketSpec{Name: "dot.ted"}), inv, "name", nil},
		{"R2CreateBucket/LocationHint", createBucket(storage.BucketSpec{Name: "fine-name", LocationHint: "mars"}), inv, "location_hint", nil},
		{"R2CreateBucket/StorageClass", createBucket(storage.BucketSpec{Name: "fine-name", StorageClass: "Glacier"}), inv, "storage_class", nil},
		{"R2CreateBucket/Jurisdiction", createBucket(storage.BucketSpec{Name: "fine-name", Jurisdiction: "moon"}), inv, "jurisdiction", nil},
		{"R2ListObjects/BadBucketName", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().ListObjects(t.Context(), "Bad_Name", storage.ObjectListOptions{}))
		}, inv, "bucket", nil},
		{"R2DeleteBucket/BadBucketName", func(t *testing.T, f *limitFixture) error {
			return f.st.R2().DeleteBucket(t.Context(), "x")
		}, inv, "bucket", []int64{3, 63}},
		// Object keys: 1..1024 bytes of UTF-8.
		{"R2PutObject/Key1025", putObject(storage.ObjectPut{Key: long(1025), Size: 1}), inv, "key", []int64{storage.MaxObjectKeyBytes}},
		{"R2PutObject/KeyEmpty", putObject(storage.ObjectPut{Key: "", Size: 1}), inv, "key", nil},
		{"R2PutObject/KeyInvalidUTF8", putObject(storage.ObjectPut{Key: "bad\xc3", Size: 1}), inv, "key", nil},
		{"R2HeadObject/Key1025", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().HeadObject(t.Context(), f.bucket, long(1025)))
		}, inv, "key", []int64{storage.MaxObjectKeyBytes}},
		{"R2GetObject/KeyEmpty", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().GetObject(t.Context(), f.bucket, "", nil))
		}, inv, "key", nil},
		// Custom metadata: <= 8192 bytes, names and values together.
		{"R2PutObject/CustomMetadata8193", putObject(storage.ObjectPut{Key: "existing", Size: 1, CustomMetadata: meta(8193)}), big, "custom_metadata", []int64{storage.MaxCustomMetadataBytes}},
		{"R2PutObject/CustomMetadataEmptyName", putObject(storage.ObjectPut{Key: "existing", Size: 1, CustomMetadata: map[string]string{"": "v"}}), inv, "custom_metadata", nil},
		// Objects: <= 5 TiB; refused by Size before reading.
		{"R2PutObject/Size5TiBPlus1", putObject(storage.ObjectPut{Key: "existing", Size: storage.MaxObjectBytes + 1}), big, "content", []int64{storage.MaxObjectBytes}},
		{"R2PutObject/SizeNegative", putObject(storage.ObjectPut{Key: "existing", Size: -1}), inv, "content", nil},
		{"R2PutObject/BodyMissing", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().PutObject(t.Context(), storage.ObjectPut{Bucket: f.bucket, Key: "existing"}))
		}, inv, "content", nil},
		// Listing: limit 1..1000, prefix <= 1024 bytes.
		{"R2ListObjects/Limit1001", listObjectsOp(storage.ObjectListOptions{Limit: 1001}), inv, "limit", []int64{1, 1000}},
		{"R2ListObjects/LimitNegative", listObjectsOp(storage.ObjectListOptions{Limit: -1}), inv, "limit", []int64{1, 1000}},
		{"R2ListObjects/Prefix1025", listObjectsOp(storage.ObjectListOptions{Prefix: long(1025)}), inv, "prefix", []int64{storage.MaxObjectKeyBytes}},
		{"R2ListBuckets/Limit1001", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().ListBuckets(t.Context(), storage.ListOptions{Limit: 1001}))
		}, inv, "limit", []int64{1, 1000}},
		// Ranges.
		{"R2GetObject/RangeStartNegative", getRange(storage.ByteRange{Start: -1, End: 5}), inv, "range_start", nil},
		{"R2GetObject/RangeEndBeforeStart", getRange(storage.ByteRange{Start: 5, End: 4}), inv, "range_end", nil},
		// Multi-object delete: 1..1000 keys, each valid; all or nothing.
		{"R2DeleteObjects/Keys1001", deleteObjects(keysN(storage.MaxDeleteObjects + 1)), big, "keys", []int64{storage.MaxDeleteObjects}},
		{"R2DeleteObjects/Empty", deleteObjects(nil), inv, "keys", nil},
		{"R2DeleteObjects/BadKey", deleteObjects([]string{"existing", ""}), inv, "keys[1].key", nil},
		// Copy: both ends valid.
		{"R2CopyObject/DstKey1025", copyTo(storage.ObjectRef{Key: long(1025)}), inv, "key", []int64{storage.MaxObjectKeyBytes}},
		{"R2CopyObject/DstBucketName", copyTo(storage.ObjectRef{Bucket: "NO", Key: "k"}), inv, "bucket", []int64{3, 63}},
		// Presign: GET or PUT, 1 s .. 7 days.
		{"R2Presign/Expires0", presign("GET", 0), inv, "expires_in", []int64{1, 604800}},
		{"R2Presign/ExpiresUnder1s", presign("GET", 999*time.Millisecond), inv, "expires_in", []int64{1, 604800}},
		{"R2Presign/Expires7DaysPlus1s", presign("GET", storage.MaxPresignExpiry+time.Second), inv, "expires_in", []int64{1, 604800}},
		{"R2Presign/MethodDELETE", presign("DELETE", time.Hour), inv, "method", nil},
		{"R2Presign/MethodLowerCase", presign("get", time.Hour), inv, "method", nil},
		{"R2Presign/Key1025", func(t *testing.T, f *limitFixture) error {
			return nil2(f.st.R2().Presign(t.Context(), storage.PresignRequest{Bucket: f.bucket, Key: long(1025), Method: "GET", Expires: time.Hour}))
		}, inv, "key", []int64{storage.MaxObjectKeyBytes}},
	}

	for _, c := range cases {
		s.testBackend(t, c.name, func(t *testing.T, b storage.Backend) {
			st := storage.Guard(b, storage.Policy{})
			ns := mustCreateNS(t, st, "limits")
			mustPutKV(t, st, ns.ID, "existing", []byte("kept"))
			bucket := mustCreateBucket(t, st, "limits")
			mustPutObject(t, st, bucket, "existing", []byte("kept"))
			f := &limitFixture{st: st, ns: ns.ID, bucket: bucket, body: newCountingReader()}
			before := snapshot(t, b)

			err := c.op(t, f)
			wantErr(t, err, c.code, c.field, c.numbers...)
			if n := f.body.read.Load(); n != 0 {
				t.Errorf("the refused call read %d bytes of the body", n)
			}
			wantUnchanged(t, b, before, "a refused call")
		})
	}
}

// limitsAt checks that each limit is inclusive: a call exactly at it works
// and stores what it was given.
func (s *suite) limitsAt(t *testing.T) {
	s.test(t, "KVKey512", func(t *testing.T, st *storage.Store) {
		ns := mustCreateNS(t, st, "at")
		key := strings.Repeat("é", storage.MaxKVKeyBytes/2) // 512 bytes, 256 characters
		mustPutKV(t, st, ns.ID, key, []byte("v"))
		wantKVValue(t, st, ns.ID, key, []byte("v"))
		wantStrings(t, "List", keyNames(listKeys(t, st, ns.ID, storage.ListOptions{Prefix: key})), []string{key})
	})

	s.test(t, "KVValue25MiB", func(t *testing.T, st *storage.Store) {
		ns := mustCreateNS(t, st, "at")
		const n = storage.MaxKVValueBytes
		mustPutKVWith(t, st, ns.ID, storage.KVPut{Key: "max", Body: newPatternReader(n), Size: n})
		v, err := st.KV().Get(t.Context(), ns.ID, "max")
		must(t, err, "Get")
		got, err := digestOf(v.Body)
		v.Body.Close()
		must(t, err, "reading")
		if want := patternDigest(t, n); got != want {
			t.Errorf("25 MiB value digest %+v, want %+v", got, want)
		}
	})

	s.test(t, "KVMetadata1024", func(t *testing.T, st *storage.Store) {
		ns := mustCreateNS(t, st, "at")
		meta := json.RawMessage(`{"m":"` + strings.Repeat("x", storage.MaxKVMetadataBytes-8) + `"}`)
		if len(meta) != storage.MaxKVMetadataBytes {
			t.Fatalf("test bug: metadata is %d bytes", len(meta))
		}
		p := kvPut("k", []byte("v"))
		p.Metadata = meta
		mustPutKVWith(t, st, ns.ID, p)
		v := wantKVValue(t, st, ns.ID, "k", []byte("v"))
		wantMetadata(t, "Get", v.Metadata, meta)
	})

	s.test(t, "KVBulk10000", func(t *testing.T, st *storage.Store) {
		ns := mustCreateNS(t, st, "at")
		entries := make([]storage.KVEntry, storage.MaxBulkEntries)
		keys := make([]string, len(entries))
		for i := range entries {
			keys[i] = fmt.Sprintf("bulk-%05d", i)
			entries[i] = storage.KVEntry{Key: keys[i], Value: []byte(keys[i])}
		}
		res, err := st.KV().BulkPut(t.Context(), ns.ID, entries)
		must(t, err, "BulkPut of 10,000 entries")
		if res.Written != len(entries) || len(res.Failed) != 0 {
			t.Errorf("BulkPut = written %d, failed %d; want %d and 0", res.Written, len(res.Failed), len(entries))
		}
		got := listKeys(t, st, ns.ID, storage.ListOptions{Limit: storage.MaxKVListLimit})
		wantStrings(t, "List", keyNames(got), keys)

		items, err := st.KV().BulkGet(t.Context(), ns.ID, keys[:storage.MaxBulkGetKeys], storage.BulkGetOptions{})
		must(t, err, "BulkGet of 100 keys")
		if len(items) != storage.MaxBulkGetKeys {
			t.Fatalf("BulkGet of 100 keys returned %d items", len(items))
		}
		for i, it := range items {
			if it.Key != keys[i] || !it.Found || string(it.Value) != keys[i] {
				t.Errorf("item %d = %q found=%v value=%q", i, it.Key, it.Found, it.Value)
				break
			}
		}

		n, err := st.KV().BulkDelete(t.Context(), ns.ID, keys)
		must(t, err, "BulkDelete of 10,000 keys")
		if n != len(keys) {
			t.Errorf("BulkDelete = %d, want %d", n, len(keys))
		}
		if left := listKeys(t, st, ns.ID, storage.ListOptions{}); len(left) != 0 {
			t.Errorf("%d keys left after deleting all", len(left))
		}
	})

	s.test(t, "KVListLimits", func(t *testing.T, st *storage.Store) {
		ns := mustCreateNS(t, st, "at")
		for i := range 12 {
			mustPutKV(t, st, ns.ID, fmt.Sprintf("k%02d", i), []byte("v"))
		}
		page, err := st.KV().List(t.Context(), ns.ID, storage.ListOptions{Limit: storage.MinKVListLimit})
		must(t, err, "List limit 10")
		if len(page.Keys) == 0 || len(page.Keys) > storage.MinKVListLimit || page.Cursor == "" {
			t.Errorf("List limit 10 of 12 keys: %d keys, cursor %q; want at most 10 and a cursor", len(page.Keys), page.Cursor)
		}
		page, err = st.KV().List(t.Context(), ns.ID, storage.ListOptions{Limit: storage.MaxKVListLimit})
		must(t, err, "List limit 1000")
		if len(page.Keys) != 12 || page.Cursor != "" {
			t.Errorf("List limit 1000 of 12 keys: %d keys, cursor %q; want 12 and no cursor", len(page.Keys), page.Cursor)
		}
		_, err = st.KV().List(t.Context(), ns.ID, storage.ListOptions{Prefix: strings.Repeat("p", storage.MaxKVKeyBytes)})
		must(t, err, "List with a 512-byte prefix")
		for _, limit := range []int{1, storage.MaxNamespaceList} {
			_, err := st.KV().ListNamespaces(t.Context(), storage.ListOptions{Limit: limit})
			must(t, err, fmt.Sprintf("ListNamespaces limit %d", limit))
		}
	})

	s.test(t, "NamespaceTitle512", func(t *testing.T, st *storage.Store) {
		title := strings.Repeat("t", storage.MaxNamespaceTitle-12) + randomHex(t, 12)
		ns, err := st.KV().CreateNamespace(t.Context(), title)
		must(t, err, "CreateNamespace with a 512-byte title")
		got, err := st.KV().GetNamespace(t.Context(), ns.ID)
		must(t, err, "GetNamespace")
		if got.Title != title {
			t.Errorf("title = %q, want the 512-byte title", got.Title)
		}
	})

	s.test(t, "BucketName3And63", func(t *testing.T, st *storage.Store) {
		for _, name := range []string{randomHex(t, 3), "st-" + randomHex(t, 60), "a-" + randomHex(t, 1)} {
			if len(name) != 3 && len(name) != 63 {
				t.Fatalf("test bug: %q", name)
			}
			_, err := st.R2().CreateBucket(t.Context(), storage.BucketSpec{Name: name})
			must(t, err, fmt.Sprintf("CreateBucket %q (%d characters)", name, len(name)))
			mustPutObject(t, st, name, "k", []byte("v"))
			wantObject(t, st, name, "k", []byte("v"))
		}
	})

	s.test(t, "ObjectKey1024", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "at")
		key := strings.Repeat("ü", storage.MaxObjectKeyBytes/2)
		mustPutObject(t, st, b, key, []byte("v"))
		wantObject(t, st, b, key, []byte("v"))
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{}).keys(), []string{key})
		_, err := st.R2().ListObjects(t.Context(), b, storage.ObjectListOptions{Prefix: key})
		must(t, err, "ListObjects with a 1024-byte prefix")
	})

	s.test(t, "CustomMetadata8192", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "at")
		meta := map[string]string{
			"first":  strings.Repeat("a", 4000),
			"second": strings.Repeat("b", storage.MaxCustomMetadataBytes-4000-len("first")-len("second")),
		}
		p := objPut(b, "k", []byte("v"))
		p.CustomMetadata = meta
		mustPutObjectWith(t, st, p)
		head, err := st.R2().HeadObject(t.Context(), b, "k")
		must(t, err, "HeadObject")
		if len(head.CustomMetadata) != 2 || head.CustomMetadata["first"] != meta["first"] || head.CustomMetadata["second"] != meta["second"] {
			t.Errorf("custom metadata of 8192 bytes did not come back whole (%d entries)", len(head.CustomMetadata))
		}
	})

	s.test(t, "ObjectListLimits", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "at")
		mustPutObject(t, st, b, "a", nil)
		mustPutObject(t, st, b, "b", nil)
		page, err := st.R2().ListObjects(t.Context(), b, storage.ObjectListOptions{Limit: 1})
		must(t, err, "ListObjects limit 1")
		if len(page.Objects) != 1 || page.Cursor == "" {
			t.Errorf("ListObjects limit 1 of 2 objects = %d objects, cursor %q", len(page.Objects), page.Cursor)
		}
		page, err = st.R2().ListObjects(t.Context(), b, storage.ObjectListOptions{Limit: storage.MaxObjectList})
		must(t, err, "ListObjects limit 1000")
		if len(page.Objects) != 2 || page.Cursor != "" {
			t.Errorf("ListObjects limit 1000 of 2 objects = %d objects, cursor %q", len(page.Objects), page.Cursor)
		}
		for _, limit := range []int{1, storage.MaxBucketList} {
			_, err := st.R2().ListBuckets(t.Context(), storage.ListOptions{Limit: limit})
			must(t, err, fmt.Sprintf("ListBuckets limit %d", limit))
		}
	})

	s.test(t, "DeleteObjects1000", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "at")
		keys := make([]string, storage.MaxDeleteObjects)
		for i := range keys {
			keys[i] = fmt.Sprintf("o%04d", i)
		}
		for _, k := range keys[:5] {
			mustPutObject(t, st, b, k, []byte(k))
		}
		mustPutObject(t, st, b, "zz-keep", []byte("k"))
		res, err := st.R2().DeleteObjects(t.Context(), b, keys)
		must(t, err, "DeleteObjects of 1000 keys")
		if len(res.Deleted) != len(keys) || len(res.Errors) != 0 {
			t.Errorf("DeleteObjects = %d deleted, %d errors; want %d and 0", len(res.Deleted), len(res.Errors), len(keys))
		}
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{}).keys(), []string{"zz-keep"})
	})

	s.test(t, "Presign1sAnd7Days", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "at")
		mustPutObject(t, st, b, "k", []byte("v"))
		for _, d := range []time.Duration{time.Second, storage.MaxPresignExpiry} {
			before := time.Now()
			u, err := st.R2().Presign(t.Context(), storage.PresignRequest{Bucket: b, Key: "k", Method: "GET", Expires: d})
			after := time.Now()
			if err != nil {
				wantErr(t, err, storage.CodeUnsupported, "")
				continue
			}
			if u.URL == "" {
				t.Errorf("presign for %v: empty URL", d)
			}
			wantTimeNear(t, fmt.Sprintf("presign for %v: ExpiresAt", d), u.ExpiresAt, before.Add(d).Truncate(time.Second), after.Add(d))
		}
	})
}

// nil2 drops the first result of a two-result call, keeping the error.
func nil2[T any](_ T, err error) error { return err }
