package tools_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// declining is a user who reads each form and says no.
type declining struct {
	mu    sync.Mutex
	forms []string
}

func (d *declining) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forms = append(d.forms, req.Params.Message)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}, nil
}

func (d *declining) last(t *testing.T) string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.forms) == 0 {
		t.Fatal("the user was not asked")
	}
	return d.forms[len(d.forms)-1]
}

// TestDeletionForms: the form says how much goes, as far as it is known
// cheaply: a namespace's key count from one listing page ("at least" beyond
// it), a database's tables and size, and that a bucket is empty.
func TestDeletionForms(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	user := &declining{}
	c, err := client.NewInProcessClientWithOptions(newServer(t, t, setup{}, t.TempDir(), dataDir), client.WithElicitationHandler(user))
	if err != nil {
		t.Fatal(err)
	}
	h := mcptest.Connect(t, c)

	for _, n := range []int{3, 1001} {
		title := fmt.Sprintf("ns-%d", n)
		id := h.OK("create_kv_namespace", map[string]any{"title": title})["id"].(string)
		entries := make([]map[string]any, n)
		for i := range entries {
			entries[i] = map[string]any{"key": fmt.Sprintf("k%04d", i), "value": "v"}
		}
		h.OK("kv_bulk_put", map[string]any{"namespace": id, "entries": entries})
		h.Fail("delete_kv_namespace", map[string]any{"namespace": title}, string(storage.CodePermissionDenied))
		want := "It holds 3 keys"
		if n > 1000 {
			want = "at least 1000 keys"
		}
		if form := user.last(t); !strings.Contains(form, want) {
			t.Errorf("form %q does not say %q", form, want)
		}
	}

	h.OK("create_d1_database", map[string]any{"name": "app-db"})
	h.OK("d1_query", map[string]any{"database": "app-db", "sql": "CREATE TABLE t (x); CREATE TABLE u (y)"})
	h.Fail("delete_d1_database", map[string]any{"database": "app-db"}, string(storage.CodePermissionDenied))
	if form := user.last(t); !strings.Contains(form, `D1 database "app-db"`) || !strings.Contains(form, "bytes") {
		t.Errorf("database form %q does not name it and its size", form)
	}

	h.OK("create_r2_bucket", map[string]any{"name": "empty"})
	h.Fail("delete_r2_bucket", map[string]any{"bucket": "empty"}, string(storage.CodePermissionDenied))
	if form := user.last(t); !strings.Contains(form, `R2 bucket "empty"`) || !strings.Contains(form, "empty.") {
		t.Errorf("bucket form %q", form)
	}
}
