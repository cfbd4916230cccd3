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

// KVBindingTOML is the wrangler.toml block that binds a KV namespace. With
// no id, wrangler dev keeps the data under the binding name.
func KVBindingTOML(binding, namespaceID string) string {
	if namespaceID == "" {
		return fmt.Sprintf("[[kv_namespaces]]\nbinding = %q\n", binding)
	}
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

// D1BindingTOML is the wrangler.toml block that binds a D1 database. With
// no id, wrangler dev keeps the database under the binding name.
func D1BindingTOML(binding string, db Database) string {
	if db.ID == "" {
		return fmt.Sprintf("[[d1_databases]]\nbinding = %q\ndatabase_name = %q\n", binding, db.Name)
	}
	return fmt.Sprintf("[[d1_databases]]\nbinding = %q\ndatabase_name = %q\ndatabase_id = %q\n", binding, db.Name, db.ID)
}

// KVBindingJSON is the entry of "kv_namespaces" in a wrangler.json(c) that
// binds a KV namespace; with no id, wrangler dev uses the binding name.
func KVBindingJSON(binding, namespaceID string) string {
	return bindingJSON("kv_namespaces", "binding", binding, "id", namespaceID)
}

// R2BindingJSON is the entry of "r2_buckets" that binds an R2 bucket.
func R2BindingJSON(binding string, b Bucket) string {
	j := b.Jurisdiction
	if j == "default" {
		j = ""
	}
	return bindingJSON("r2_buckets", "binding", binding, "bucket_name", b.Name, "jurisdiction", j)
}

// D1BindingJSON is the entry of "d1_databases" that binds a D1 database.
func D1BindingJSON(binding string, db Database) string {
	return bindingJSON("d1_databases", "binding", binding, "database_name", db.Name, "database_id", db.ID)
}

// bindingJSON writes `"list": [{"k": "v", ...}]`, leaving out empty values.
func bindingJSON(list string, kv ...string) string {
	var fields []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fields = append(fields, fmt.Sprintf("%q: %q", kv[i], kv[i+1]))
		}
	}
	return fmt.Sprintf("%q: [{ %s }]", list, strings.Join(fields, ", "))
}

// The create commands of wrangler that make a real namespace, bucket or
// database, for ConfigNote.
func CreateKVCommand(title string) string {
	return "npx wrangler kv namespace create " + shellWord(title)
}
func CreateR2Command(name string) string { return "npx wrangler r2 bucket create " + shellWord(name) }
func CreateD1Command(name string) string { return "npx wrangler d1 create " + shellWord(name) }

// ConfigNote says, as TOML comment lines to put above a drafted config
// block, what the ids and names in it are, which depends on the backend they
// were read from (DESIGN §4): on cloudflare they are the account's real ones
// and the block needs no note; on the local backend they exist only in this
// server's store, so a Worker deployed with them would be bound to nothing,
// and the note says how to create the real ones (the create commands); on
// the wrangler backend they are the project's own config.
func ConfigNote(backend string, create ...string) string {
	switch backend {
	case "cloudflare":
		return ""
	case "wrangler":
		return "# From the Worker project's own wrangler config: the ids wrangler dev uses there.\n"
	}
	var b strings.Builder
	b.WriteString("# NOT in your Cloudflare account: these ids and names exist only in mcp-cfstorage's\n" +
		"# " + backend + " store. Deployed as they are, the bindings would point at nothing. Create the\n" +
		"# real ones first\n")
	for i, c := range create {
		sep := ","
		if i == len(create)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "#   %s%s\n", c, sep)
	}
	b.WriteString("# and put the ids they print in place of these (wrangler dev alone needs no ids).\n")
	return b.String()
}

// shellWord quotes s for a POSIX shell when it holds anything but letters,
// digits and -_.
func shellWord(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// WorkerTOML is a wrangler.toml for a Worker whose entry point is
// src/index.ts: note (ConfigNote) above the binding blocks.
func WorkerTOML(name, compatibilityDate, note string, blocks ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name = %q\nmain = \"src/index.ts\"\ncompatibility_date = %q\n", name, compatibilityDate)
	if note != "" {
		b.WriteString("\n" + note)
	}
	for i, block := range blocks {
		if i > 0 || note == "" {
			b.WriteString("\n")
		}
		b.WriteString(block)
	}
	return b.String()
}
