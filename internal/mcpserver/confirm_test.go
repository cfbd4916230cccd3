package mcpserver

import (
	"context"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/tools"
)

// An answer is tied to what goes (tool, names, items), not to how much it
// measured: a database written to between the question and the retry still
// matches its answer, another database or other keys do not.
func TestFingerprint(t *testing.T) {
	ctx := context.Background()
	base := tools.Deletion{Tool: "delete_d1_database", What: "D1 database", Name: "shop", NameIs: "name", Detail: "3 tables, 12.0 KiB"}
	same := base
	same.Detail = "3 tables, 16.0 KiB"
	if fingerprint(ctx, base) != fingerprint(ctx, same) {
		t.Error("a changed size made the deletion a different one")
	}
	for name, d := range map[string]tools.Deletion{
		"another database": {Tool: base.Tool, What: base.What, Name: "shop2", NameIs: "name"},
		"another tool":     {Tool: "delete_kv_namespace", What: base.What, Name: base.Name, NameIs: "name"},
		"other items":      {Tool: "r2_delete", What: "objects", In: "R2 bucket", Name: "b", Items: []string{"a", "b"}},
	} {
		other := base
		if name == "other items" {
			other = tools.Deletion{Tool: "r2_delete", What: "objects", In: "R2 bucket", Name: "b", Items: []string{"a", "c"}}
		}
		if fingerprint(ctx, other) == fingerprint(ctx, d) {
			t.Errorf("%s: same fingerprint", name)
		}
	}
}
