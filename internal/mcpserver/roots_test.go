package mcpserver_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// announcer is a client's roots: the directories it lists, and how often it
// was asked.
type announcer struct {
	mu    sync.Mutex
	dirs  []string
	asked atomic.Int32
	hang  bool          // never answer
	gone  chan struct{} // with hang: gets one value per request given up on
}

func (a *announcer) set(dirs ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dirs = dirs
}

func (a *announcer) ListRoots(ctx context.Context, _ mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	a.asked.Add(1)
	if a.hang {
		<-ctx.Done()
		a.gone <- struct{}{}
		return nil, ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	res := &mcp.ListRootsResult{Roots: []mcp.Root{
		{URI: "https://example.com/not-a-file", Name: "ignored"},
		{URI: "file:///no/such/directory", Name: "ignored too"},
	}}
	for _, d := range a.dirs {
		res.Roots = append(res.Roots, mcp.Root{URI: (&url.URL{Scheme: "file", Path: filepath.ToSlash(d)}).String(), Name: filepath.Base(d)})
	}
	return res, nil
}

type rootsSetup struct {
	filesRoot string // --files-root; "" for none
	timeout   time.Duration
	opts      []client.ClientOption
}

func newRootsSession(t *testing.T, s rootsSetup) *mcptest.Session {
	t.Helper()
	var roots []string
	if s.filesRoot != "" {
		roots = []string{s.filesRoot}
	}
	srv, closeStore, err := mcptest.LocalServer(t.TempDir(), storage.Policy{}, mcpserver.Options{ClientRoots: true, RootsTimeout: s.timeout}, roots...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	c, err := client.NewInProcessClientWithOptions(srv, s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	sess := mcptest.Connect(t, c)
	sess.OK("create_r2_bucket", map[string]any{"name": "uploads"})
	return sess
}

// dirWithFile makes a directory holding name with some content.
func dirWithFile(t *testing.T, name string) (dir, path string) {
	dir = t.TempDir()
	path = filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("content of "+name), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func uploadFrom(path string) map[string]any {
	return map[string]any{"bucket": "uploads", "key": filepath.Base(path), "file_path": path}
}

// A directory the client announces is usable for file_path and save_to in
// addition to --files-root, with the same confinement; others are not.
func TestClientRoots(t *testing.T) {
	for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(proto, func(t *testing.T) {
			filesRoot, inFilesRoot := dirWithFile(t, "a.txt")
			announced, inAnnounced := dirWithFile(t, "b.txt")
			_, elsewhere := dirWithFile(t, "c.txt")
			roots := &announcer{}
			roots.set(announced)
			s := newRootsSession(t, rootsSetup{filesRoot: filesRoot,
				opts: []client.ClientOption{client.WithRootsHandler(roots), client.WithProtocolVersion(proto)}})

			s.OK("r2_upload", uploadFrom(inFilesRoot))
			s.OK("r2_upload", uploadFrom(inAnnounced))
			s.Fail("r2_upload", uploadFrom(elsewhere), "permission_denied")
			// A symlink inside an announced root that leads out is refused.
			link := filepath.Join(announced, "escape.txt")
			if err := os.Symlink(elsewhere, link); err != nil {
				t.Fatal(err)
			}
			s.Fail("r2_upload", uploadFrom(link), "permission_denied")
			saved := filepath.Join(announced, "saved.txt")
			s.OK("r2_download", map[string]any{"bucket": "uploads", "key": "a.txt", "save_to": saved})
			if b, err := os.ReadFile(saved); err != nil || string(b) != "content of a.txt" {
				t.Errorf("save_to in an announced root: %q %v", b, err)
			}
			who := s.OK("whoami", nil)
			dirs := who["files_roots"].([]any)
			if len(dirs) != 2 || !strings.HasSuffix(dirs[1].(string), filepath.Base(announced)) {
				t.Errorf("whoami files_roots = %v", dirs)
			}
			if n := roots.asked.Load(); n != 1 {
				t.Errorf("the client was asked for its roots %d times, want once (cached)", n)
			}

			// The client changes its roots and says so.
			other, inOther := dirWithFile(t, "d.txt")
			roots.set(other)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Client.RootListChanges(ctx); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				res := s.Call("r2_upload", uploadFrom(inOther))
				if !res.IsError {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after list_changed: %s", mcptest.Text(res))
				}
				time.Sleep(20 * time.Millisecond)
			}
			s.Fail("r2_upload", uploadFrom(inAnnounced), "permission_denied")
			s.OK("r2_upload", uploadFrom(inFilesRoot))
		})
	}
}

// Without --files-root, a client root alone enables file arguments; a client
// without the roots capability is not asked and gets the usual refusal.
func TestClientRootsAlone(t *testing.T) {
	announced, inAnnounced := dirWithFile(t, "b.txt")
	roots := &announcer{}
	roots.set(announced)
	s := newRootsSession(t, rootsSetup{opts: []client.ClientOption{client.WithRootsHandler(roots)}})
	s.OK("r2_upload", uploadFrom(inAnnounced))

	plain := newRootsSession(t, rootsSetup{})
	msg := plain.Fail("r2_upload", uploadFrom(inAnnounced), "permission_denied")
	if !strings.Contains(msg, "--files-root") {
		t.Errorf("refusal = %q", msg)
	}
}

// A client that declares roots but never answers is given up on: the call
// goes on with the --files-root directories, the roots request is abandoned
// (its context ends), and the calls that follow do not ask again.
func TestClientRootsTimeout(t *testing.T) {
	filesRoot, inFilesRoot := dirWithFile(t, "a.txt")
	for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(proto, func(t *testing.T) {
			roots := &announcer{hang: true, gone: make(chan struct{}, 8)}
			s := newRootsSession(t, rootsSetup{filesRoot: filesRoot, timeout: 100 * time.Millisecond,
				opts: []client.ClientOption{client.WithRootsHandler(roots), client.WithProtocolVersion(proto)}})
			s.OK("r2_upload", uploadFrom(inFilesRoot))
			select {
			case <-roots.gone:
			case <-time.After(10 * time.Second):
				t.Fatal("the roots request was never abandoned")
			}
			for range 3 {
				s.OK("r2_upload", uploadFrom(inFilesRoot))
			}
			who := s.OK("whoami", nil)
			if dirs := who["files_roots"].([]any); len(dirs) != 1 {
				t.Errorf("files_roots = %v, want --files-root alone", dirs)
			}
			if n := roots.asked.Load(); n != 1 {
				t.Errorf("the silent client was asked %d times, want once", n)
			}
		})
	}
}

// Tool calls that use no file never ask for roots.
func TestClientRootsOnlyWhenNeeded(t *testing.T) {
	roots := &announcer{}
	roots.set(t.TempDir())
	s := newRootsSession(t, rootsSetup{opts: []client.ClientOption{client.WithRootsHandler(roots)}})
	s.OK("list_r2_buckets", nil)
	s.OK("r2_upload", map[string]any{"bucket": "uploads", "key": "k", "content": "inline"})
	if n := roots.asked.Load(); n != 0 {
		t.Errorf("asked for roots %d times without a file argument", n)
	}
	s.OK("whoami", nil)
	if n := roots.asked.Load(); n != 1 {
		t.Errorf("whoami asked %d times", n)
	}
}

// forger is an in-process client transport that forges roots.
type forger struct {
	*transport.InProcessTransport
	mcptest.RootsForger
}

func (f *forger) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	return f.Send(ctx, req, f.InProcessTransport.SendRequest)
}

// Roots that come in a call's inputResponses count only as the answer to a
// request the server made in a result (its one-time requestState): a client
// that slips them into a call unasked, or with a made-up or replayed state,
// widens nothing.
func TestClientRootsUnaskedInputResponses(t *testing.T) {
	for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(proto, func(t *testing.T) {
			project, inProject := dirWithFile(t, "p.txt")
			forged, inForged := dirWithFile(t, "f.txt")
			roots := &announcer{}
			roots.set(project)
			srv, closeStore, err := mcptest.LocalServer(t.TempDir(), storage.Policy{}, mcpserver.Options{ClientRoots: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(closeStore)
			f := &forger{InProcessTransport: transport.NewInProcessTransportWithOptions(srv, transport.WithRootsHandler(roots))}
			s := mcptest.Connect(t, client.NewClient(f, client.WithRootsHandler(roots), client.WithProtocolVersion(proto)))
			s.OK("create_r2_bucket", map[string]any{"name": "uploads"})

			for _, state := range []string{"", "made-up-state"} {
				f.Set(state, forged)
				s.Fail("r2_upload", uploadFrom(inForged), "permission_denied")
			}
			f.Set("")
			// The client's real roots, asked for by the server, do count.
			s.OK("r2_upload", uploadFrom(inProject))
			if dirs := s.OK("whoami", nil)["files_roots"].([]any); len(dirs) != 1 || !strings.HasSuffix(dirs[0].(string), filepath.Base(project)) {
				t.Errorf("files_roots = %v, want the client's root alone", dirs)
			}
		})
	}
}
