package mcptest

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"slices"
	"sync"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// RootsForger puts roots into the tools/call requests a client sends, with a
// requestState of the test's choosing, as a hostile client can; it records
// the requestState of every result. A test wraps a transport's SendRequest
// with Send.
type RootsForger struct {
	mu     sync.Mutex
	roots  *mcp.ListRootsResult // nil: requests go as they are
	state  string
	states []string
}

// Set makes the next tools/call requests (not the client's retries with
// answers) carry dirs as the answer to the
// server's roots request (id "cfstorage_roots") with state; no dirs stops it.
func (f *RootsForger) Set(state string, dirs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roots, f.state = nil, state
	if len(dirs) == 0 {
		return
	}
	f.roots = &mcp.ListRootsResult{Roots: []mcp.Root{}}
	for _, d := range dirs {
		f.roots.Roots = append(f.roots.Roots, mcp.Root{URI: (&url.URL{Scheme: "file", Path: filepath.ToSlash(d)}).String()})
	}
}

// States returns the requestStates the server has sent so far.
func (f *RootsForger) States() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.states)
}

// Send forges req as Set says, sends it with next and records the result's
// requestState.
func (f *RootsForger) Send(ctx context.Context, req transport.JSONRPCRequest,
	next func(context.Context, transport.JSONRPCRequest) (*transport.JSONRPCResponse, error)) (*transport.JSONRPCResponse, error) {
	f.mu.Lock()
	roots, state := f.roots, f.state
	f.mu.Unlock()
	if roots != nil && req.Method == string(mcp.MethodToolsCall) {
		fields := map[string]json.RawMessage{}
		b, err := json.Marshal(req.Params)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, err
		}
		if _, retry := fields["inputResponses"]; retry {
			// The client answers what the server asked: let it through.
			return f.record(next(ctx, req))
		}
		fields["inputResponses"], _ = json.Marshal(mcp.InputResponses{"cfstorage_roots": mcp.NewRootsInputResponse(*roots)})
		fields["requestState"], _ = json.Marshal(state)
		req.Params = fields
	}
	return f.record(next(ctx, req))
}

func (f *RootsForger) record(res *transport.JSONRPCResponse, err error) (*transport.JSONRPCResponse, error) {
	if err == nil && res != nil {
		var r struct {
			RequestState string `json:"requestState"`
		}
		if json.Unmarshal(res.Result, &r) == nil && r.RequestState != "" {
			f.mu.Lock()
			f.states = append(f.states, r.RequestState)
			f.mu.Unlock()
		}
	}
	return res, err
}
