package mcpserver

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
)

// DefaultRootsTimeout bounds how long a tool call waits for a client to
// answer roots/list before going on with the --files-root directories.
const DefaultRootsTimeout = 3 * time.Second

// rootsRetry is how long a client that did not answer roots/list is left
// alone before it is asked again (unless it says its roots changed).
const rootsRetry = time.Minute

// rootsInputID names the roots request in a multi round-trip tool call.
const rootsInputID = "cfstorage_roots"

// clientRoots adds the directories an MCP client announces (roots/list) to
// the --files-root ones, per session. Only for stdio (Options.ClientRoots):
// the roots of a remote client must not widen what the server exposes.
//
// The roots are fetched when a tool call with a file argument needs them and
// cached for the session until the client sends
// notifications/roots/list_changed. How they are fetched depends on the
// protocol era: clients before 2026-07-28 (and in-process ones) are sent a
// roots/list request, bounded by a timeout; later clients get an
// input_required result asking for roots (multi round-trip, SEP-2322), and
// answer by retrying the call with them and the result's one-time
// requestState; roots in a call without it are ignored.
type clientRoots struct {
	srv     *server.MCPServer
	base    fsroot.Roots
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	sessions map[string]*sessionRoots
}

// sessionRoots is what is known about one session's roots.
type sessionRoots struct {
	asking chan struct{} // holds a token while a call asks the client, so only one asks

	mu    sync.Mutex
	roots fsroot.Roots // base plus the client's roots
	known bool         // roots holds the client's answer
	retry time.Time    // the client did not answer; ask again after this
	gen   int          // bumped by list_changed, to drop answers that raced it
	// pending holds the requestStates of roots requests made in tool
	// results; only a retry that echoes one is an answer.
	pending asked[struct{}]
}

// forget drops what is known, so the client is asked again.
func (s *sessionRoots) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known, s.retry = false, time.Time{}
	s.gen++
}

func newClientRoots(base fsroot.Roots, timeout time.Duration, log *slog.Logger) *clientRoots {
	if timeout <= 0 {
		timeout = DefaultRootsTimeout
	}
	return &clientRoots{base: base, timeout: timeout, log: log, now: time.Now, sessions: map[string]*sessionRoots{}}
}

// install hooks the roots into srv: the list_changed notification, session
// clean-up, and the tool middleware that fetches them. The middleware must
// already be among srv's options (see middleware).
func (c *clientRoots) install(srv *server.MCPServer, hooks *server.Hooks) {
	c.srv = srv
	srv.AddNotificationHandler(mcp.MethodNotificationRootsListChanged, func(ctx context.Context, _ mcp.JSONRPCNotification) {
		c.log.Debug("client roots changed; asking again on the next file argument")
		if s := c.session(ctx, false); s != nil {
			s.forget()
			return
		}
		if server.ClientSessionFromContext(ctx) != nil {
			return // a session that never asked: nothing to forget
		}
		// mcp-go's in-process transport delivers notifications without
		// their session: forget every session's roots, which costs at most
		// one roots/list each.
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.sessions {
			s.forget()
		}
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, session server.ClientSession) {
		c.mu.Lock()
		delete(c.sessions, session.SessionID())
		c.mu.Unlock()
	})
}

// maxSessions bounds the sessions whose roots are remembered; beyond it a
// forgotten session is simply asked again.
const maxSessions = 1024

// session returns the state of ctx's session, creating it when create is
// set; nil without a session, or for a session without an id (stateless
// HTTP), whose requests may come from different clients and so share
// nothing.
func (c *clientRoots) session(ctx context.Context, create bool) *sessionRoots {
	cs := server.ClientSessionFromContext(ctx)
	if cs == nil || cs.SessionID() == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[cs.SessionID()]
	if s == nil && create {
		if len(c.sessions) >= maxSessions {
			for id := range c.sessions {
				delete(c.sessions, id)
				break
			}
		}
		s = &sessionRoots{asking: make(chan struct{}, 1)}
		c.sessions[cs.SessionID()] = s
	}
	return s
}

// callRootsKey carries the roots a retry brought to the call it retries.
type callRootsKey struct{}

// Roots returns the directories file arguments may use in ctx's session:
// --files-root plus, once known, the client's roots. It never blocks on the
// client; the middleware fetched them before the tool ran.
func (c *clientRoots) Roots(ctx context.Context) fsroot.Roots {
	if r, ok := ctx.Value(callRootsKey{}).(fsroot.Roots); ok {
		return r
	}
	s := c.session(ctx, false)
	if s == nil {
		return c.base
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known {
		return s.roots
	}
	return c.base
}

// declaresRoots reports whether the client of ctx supports roots: per
// request from protocol 2026-07-28 on, per session before.
func declaresRoots(ctx context.Context) bool {
	c := clientCapabilities(ctx)
	return c != nil && c.Roots != nil
}

// usesFiles reports whether a tool call names a file (file_path, save_to)
// or asks which directories are allowed (whoami).
func usesFiles(req mcp.CallToolRequest) bool {
	if req.Params.Name == "whoami" {
		return true
	}
	args := req.GetArguments()
	for _, k := range []string{"file_path", "save_to"} {
		if v, ok := args[k].(string); ok && v != "" {
			return true
		}
	}
	return false
}

// askInResult is the tool result that asks a 2026-07-28 client for its
// roots; it retries the call with them and with the result's requestState,
// a one-time nonce that proves the server asked.
func (s *sessionRoots) askInResult() *mcp.CallToolResult {
	return server.NewInputRequestBuilder(s.pending.issue(struct{}{})).Roots(rootsInputID).ToolResult()
}

// middleware makes sure a tool call that uses files sees the client's roots.
func (c *clientRoots) middleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if answer := server.RootsResponse(req.Params.InputResponses, rootsInputID); answer != nil {
			// A retry carrying roots: taken only as the answer to a request
			// this session's server made, never as the client's say-so.
			if s := c.session(ctx, false); s != nil && claimed(&s.pending, req.Params.RequestState) && declaresRoots(ctx) {
				roots := c.resolve(answer)
				s.mu.Lock()
				s.remember(roots)
				s.mu.Unlock()
				return next(context.WithValue(ctx, callRootsKey{}, roots), req)
			}
			c.log.Debug("ignoring roots in inputResponses that the server did not ask for")
		}
		if !usesFiles(req) || !declaresRoots(ctx) {
			return next(ctx, req)
		}
		s := c.session(ctx, true)
		if s == nil {
			// No session to tie the client's answer to: --files-root alone.
			return next(ctx, req)
		}
		if err := c.fetch(ctx, s); errors.Is(err, server.ErrServerInitiatedRequestUnsupported) {
			// A 2026-07-28 client over a transport where the server may not
			// send requests: ask through the result instead.
			return s.askInResult(), nil
		}
		return next(ctx, req)
	}
}

// ask sends roots/list to the client and waits at most c.timeout.
func (c *clientRoots) ask(ctx context.Context) (*mcp.ListRootsResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.srv.RequestRoots(ctx, mcp.ListRootsRequest{Request: mcp.Request{Method: string(mcp.MethodListRoots)}})
}

// fetch asks the client for its roots unless they are known or it recently
// failed to answer. It waits at most c.timeout, also for another call's
// fetch in progress.
func (c *clientRoots) fetch(ctx context.Context, s *sessionRoots) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	select {
	case s.asking <- struct{}{}:
		defer func() { <-s.asking }()
	case <-ctx.Done():
		return ctx.Err()
	}

	s.mu.Lock()
	if s.known || c.now().Before(s.retry) {
		s.mu.Unlock()
		return nil
	}
	gen := s.gen
	s.mu.Unlock()

	res, err := c.ask(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case errors.Is(err, server.ErrServerInitiatedRequestUnsupported):
		return err
	case err != nil:
		c.log.Warn("the client did not list its roots; using --files-root only", "error", err, "retry_in", rootsRetry)
		if gen == s.gen {
			s.retry = c.now().Add(rootsRetry)
		}
		return err
	}
	if gen == s.gen { // else the roots changed while the client answered: ask again next time
		s.remember(c.resolve(res))
	}
	return nil
}

// remember records a session's roots. s.mu is held.
func (s *sessionRoots) remember(roots fsroot.Roots) {
	s.roots, s.known, s.retry = roots, true, time.Time{}
}

// resolve adds a client's roots to the --files-root ones. Roots that are
// not local directories are skipped.
func (c *clientRoots) resolve(res *mcp.ListRootsResult) fsroot.Roots {
	roots := c.base
	for _, r := range res.Roots {
		dir, ok := fileURIPath(r.URI)
		if !ok {
			c.log.Debug("ignoring a client root that is not a local file: URI", "uri", r.URI)
			continue
		}
		with, err := roots.With(dir)
		if err != nil {
			c.log.Warn("ignoring a client root", "uri", r.URI, "error", err)
			continue
		}
		roots = with
	}
	c.log.Debug("client roots", "dirs", roots.Dirs())
	return roots
}

// fileURIPath turns a file:// URI into a local path.
func fileURIPath(uri string) (string, bool) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
		return "", false
	}
	p := u.Path
	if runtime.GOOS == "windows" {
		p = strings.TrimPrefix(p, "/") // file:///C:/dir
	}
	return filepath.FromSlash(p), true
}
