package tools

import (
	"context"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

type accountTools struct{ Deps }

type whoamiIn struct{}

type whoamiOut struct {
	Backend     string   `json:"backend" jsonschema:"local (embedded store), cloudflare or wrangler (a Worker project's wrangler dev state)"`
	AccountID   string   `json:"account_id,omitempty" jsonschema:"the Cloudflare account in use"`
	TokenStatus string   `json:"token_status,omitempty" jsonschema:"status of the API token, as Cloudflare reports it"`
	ReadOnly    bool     `json:"read_only" jsonschema:"true: the server refuses every write"`
	Toolsets    []string `json:"toolsets" jsonschema:"the tool areas this server offers"`
	DataDir     string   `json:"data_dir,omitempty" jsonschema:"where the local backend keeps its data"`
	FilesRoots  []string `json:"files_roots" jsonschema:"directories file_path and save_to may use"`
	// Wrangler: the Worker project, on the wrangler backend.
	Wrangler *storage.WranglerDescription `json:"wrangler,omitempty" jsonschema:"on the wrangler backend: which Worker project, which path (explorer or files) and which bindings"`
}

func (a accountTools) whoami(ctx context.Context, _ whoamiIn) (whoamiOut, error) {
	desc, err := a.Store.Describe(ctx)
	if err != nil {
		return whoamiOut{}, err
	}
	return whoamiOut{Backend: desc.Backend, AccountID: desc.AccountID, TokenStatus: desc.TokenStatus,
		ReadOnly: a.Store.ReadOnly(), Toolsets: nonNil(a.Toolsets), DataDir: desc.DataDir,
		FilesRoots: nonNil(a.Roots(ctx).Dirs()), Wrangler: desc.Wrangler}, nil
}

func (a accountTools) declare() ([]Tool, []error) {
	g := newGroup(ToolsetAccount, a.Deps)
	add(g, Spec[whoamiIn, whoamiOut]{
		Name: "whoami", Title: "Which storage am I using?", Hints: readHints, Handle: a.whoami,
		Description: "Report which backend this server uses (local embedded store, a Cloudflare account, or a Worker project's wrangler dev state), the account id, whether it is read-only, which tool areas it offers and which directories file arguments may use. Call it first when unsure where data goes. Never reveals credentials.",
	})
	return g.done()
}
