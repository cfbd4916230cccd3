package storage

import (
	"fmt"
	"strings"
)

// BindingName derives a Worker binding name from a namespace title or bucket
// name: SITE_CONFIG for site-config. Bindings must be valid JavaScript
// identifiers, so a name left empty or starting with a digit takes fallback.
func BindingName(name, fallback string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	id := strings.Trim(b.String(), "_")
	if id == "" {
		return fallback
	}
	if id[0] >= '0' && id[0] <= '9' {
		return fallback + "_" + id
	}
	return id
}

// KVBindingTOML is the wrangler.toml block that binds a KV namespace.
func KVBindingTOML(binding, namespaceID string) string {
	return fmt.Sprintf("[[kv_namespaces]]\nbinding = %q\nid = %q\n", binding, namespaceID)
}

// R2BindingTOML is the wrangler.toml block that binds an R2 bucket.
func R2BindingTOML(binding string, b Bucket) string {
	s := fmt.Sprintf("[[r2_buckets]]\nbinding = %q\nbucket_name = %q\n", binding, b.Name)
	if b.Jurisdiction != "" && b.Jurisdiction != "default" {
		s += fmt.Sprintf("jurisdiction = %q\n", b.Jurisdiction)
	}
	return s
}

// D1BindingTOML is the wrangler.toml block that binds a D1 database.
func D1BindingTOML(binding string, db Database) string {
	return fmt.Sprintf("[[d1_databases]]\nbinding = %q\ndatabase_name = %q\ndatabase_id = %q\n", binding, db.Name, db.ID)
}
