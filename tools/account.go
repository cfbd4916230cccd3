package tools

import (
	"context"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

type accountTools struct{ Deps }

type whoamiIn struct{}

type whoamiOut struct {
	Backend      string   `json:"backend" jsonschema:"local (embedded store), cloudflare or wrangler (a Worker project's wrangler dev state)"`
	AccountID    string   `json:"account_id,omitempty" jsonschema:"the Cloudflare account in use: CLOUDFLARE_ACCOUNT_ID, or else the token's only account; absent when it cannot be told"`
	TokenStatus  string   `json:"token_status,omitempty" jsonschema:"the API token's status as Cloudflare reports it (active, disabled, expired); absent when the API did not tell"`
	APIReachable *bool    `json:"api_reachable,omitempty" jsonschema:"cloudflare: whether the Cloudflare API answered a probe made for this call (at most 3 s); absent for the local backend, which needs no network"`
	APIError     string   `json:"api_error,omitempty" jsonschema:"why the API did not answer, refused the token or could not tell the account, and what to change; absent when all is well"`
	ReadOnly     bool     `json:"read_only" jsonschema:"true: the server refuses every write"`
	Toolsets     []string `json:"toolsets" jsonschema:"the tool areas this server offers"`
	DataDir      string   `json:"data_dir,omitempty" jsonschema:"where the local backend keeps its data"`
	FilesRoots   []string `json:"files_roots" jsonschema:"directories file_path and save_to may use; a relative path is taken from the first"`
	// Wrangler: the Worker project, on the wrangler backend.
	Wrangler *storage.WranglerDescription `json:"wrangler,omitempty" jsonschema:"on the wrangler backend: which Worker project, which path (explorer or files) and which bindings"`
}

// whoami answers whether or not the backend's service can be reached:
// that is one of the things it reports.
func (a accountTools) whoami(ctx context.Context, _ whoamiIn) (whoamiOut, error) {
	desc, err := a.Store.Describe(ctx)
	if err != nil {
		return whoamiOut{}, err
	}
	return whoamiOut{Backend: desc.Backend, AccountID: desc.AccountID, TokenStatus: desc.TokenStatus,
		APIReachable: desc.APIReachable, APIError: desc.APIError,
		ReadOnly: a.Store.ReadOnly(), Toolsets: nonNil(a.Toolsets), DataDir: desc.DataDir,
		FilesRoots: nonNil(a.Roots(ctx).Dirs()), Wrangler: desc.Wrangler}, nil
}

func (a accountTools) declare() ([]Tool, []error) {
	g := newGroup(ToolsetAccount, a.Deps)
	add(g, Spec[whoamiIn, whoamiOut]{
		Name: "whoami", Title: "Which storage am I using?", Hints: readHints, Handle: a.whoami,
		Description: "The backend (local store, Cloudflare account or wrangler dev), account id, whether the API answers (if not, why and the fix), read-only mode, toolsets and allowed file directories. Call it when unsure where data goes or when calls fail with unavailable.",
	})
	return g.done()
}
