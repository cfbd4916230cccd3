package miniflare

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// wrangler dev serves the namespaces, buckets and databases its config
// binds, and makes none: creating one is adding a binding.

func errConfigOwned(what, fix string) error {
	return storage.Errorf(storage.CodeUnsupported,
		"%s is not something wrangler dev does: its namespaces, buckets and databases are the bindings of the wrangler config; %s, then restart wrangler dev", what, fix)
}

func errCreateNamespace(title string) error {
	var id [16]byte
	rand.Read(id[:])
	return errConfigOwned("creating a KV namespace",
		"add this block to wrangler.toml (wrangler dev accepts any id; for a deploy, use the id `wrangler kv namespace create` prints):\n"+
			storage.KVBindingTOML(storage.BindingName(title, "KV"), hex.EncodeToString(id[:])))
}

func errCreateBucket(name string) error {
	return errConfigOwned("creating an R2 bucket",
		"add this block to wrangler.toml (for a deploy, create it with `wrangler r2 bucket create "+name+"`):\n"+
			storage.R2BindingTOML(storage.BindingName(name, "BUCKET"), storage.Bucket{Name: name}))
}

func errCreateDatabase(name string) error {
	return errConfigOwned("creating a D1 database",
		"add this block to wrangler.toml (wrangler dev accepts any id; for a deploy, use the id `wrangler d1 create "+name+"` prints):\n"+
			storage.D1BindingTOML(storage.BindingName(name, "DB"), storage.Database{Name: name, ID: storage.NewDatabaseID()}))
}
