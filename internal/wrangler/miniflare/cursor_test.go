package miniflare

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Keys that are not valid UTF-8 page through a listing each exactly once:
// the cursor carries the last key as bytes (a JSON string would turn 0xff
// into U+FFFD, and the next page would resume before it).
func TestListingsPageThroughNonUTF8Keys(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	keys := []string{"a\xff1", "a\xff2", "a\xff3"}
	for _, k := range keys {
		if err := s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: k, Body: strings.NewReader("v"), Size: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: k, Body: strings.NewReader("v"), Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var kvKeys, objects []string
	for cur, i := "", 0; i < 10; i++ {
		p, err := s.KV().List(ctx, fixtureKV.ID, storage.ListOptions{Limit: 1, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range p.Keys {
			kvKeys = append(kvKeys, k.Name)
		}
		if cur = p.Cursor; cur == "" {
			break
		}
	}
	for cur, i := "", 0; i < 10; i++ {
		p, err := s.R2().ListObjects(ctx, "fixture-bucket", storage.ObjectListOptions{Limit: 1, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			objects = append(objects, o.Key)
		}
		if cur = p.Cursor; cur == "" {
			break
		}
	}
	if !reflect.DeepEqual(kvKeys, keys) {
		t.Errorf("KV pages: %q, want %q", kvKeys, keys)
	}
	if !reflect.DeepEqual(objects, keys) {
		t.Errorf("R2 pages: %q, want %q", objects, keys)
	}
	if _, err := s.KV().List(ctx, fixtureKV.ID, storage.ListOptions{Cursor: storage.EncodeCursor(cursor{Kind: "o"})}); storage.CodeOf(err) != storage.CodeInvalidArgument {
		t.Errorf("an object cursor given to a key listing: %v, want invalid_argument", err)
	}
}
