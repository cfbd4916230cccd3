// Package httpserve serves the MCP server over the network: Streamable HTTP
// at /mcp and the legacy SSE transport at /sse and /message, behind the
// checks the MCP specification asks of HTTP servers (Origin, bearer auth,
// body size) that mcp-go leaves to its user.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"
)

// Paths served.
const (
	PathMCP     = "/mcp"
	PathSSE     = "/sse"
	PathMessage = "/message"
)

// Defaults for Options.
const (
	DefaultListen       = "127.0.0.1:8787"
	DefaultMaxBodyBytes = 40 << 20 // a 25 MiB KV value as base64, with room for JSON
	DefaultSessionIdle  = 30 * time.Minute
	shutdownGrace       = 10 * time.Second
)

// Options configures the HTTP transports.
type Options struct {
	Listen         string
	AuthToken      string   // when set, every request needs "Authorization: Bearer <token>"
	AllowedOrigins []string // besides loopback origins, which are always allowed
	MaxBodyBytes   int64
	Stateless      bool          // no sessions: for replicas behind a load balancer
	SessionIdle    time.Duration // sessions idle this long expire
	Log            *slog.Logger
}

func (o *Options) defaults() {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = DefaultSessionIdle
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// CheckListen refuses to serve a non-loopback address without a token:
// anyone who can reach the port could otherwise use the storage.
func CheckListen(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if token != "" || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("--listen %s is reachable from other machines, so it needs a bearer token: "+
		"set --auth-token (or CFSTORAGE_AUTH_TOKEN) to a long random secret, or listen on 127.0.0.1", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// Server is the HTTP side of one MCP server.
type Server struct {
	opts       Options
	streamable *server.StreamableHTTPServer
	events     *eventLog
	sse        *server.SSEServer
	handler    http.Handler
}

// New builds the handler tree for srv.
func New(srv *server.MCPServer, o Options) *Server {
	o.defaults()
	events := newEventLog()
	streamOpts := []server.StreamableHTTPOption{
		server.WithEndpointPath(PathMCP),
		server.WithStreamableHTTPLogger(o.Log),
		// Without an event store mcp-go drops notifications sent while a
		// request's stream is being set up; with one, progress and log
		// notifications are recorded and delivered. See streams.go for
		// what it keeps.
		server.WithEventStore(events),
		server.WithSessionIdleTTL(o.SessionIdle),
	}
	var ids *sessions // nil when stateless
	if o.Stateless {
		streamOpts = append(streamOpts, server.WithStateLess(true))
	} else {
		ids = newSessions(o.SessionIdle, time.Now)
		streamOpts = append(streamOpts, server.WithSessionIdManager(ids))
	}
	s := &Server{
		opts:       o,
		streamable: server.NewStreamableHTTPServer(srv, streamOpts...),
		events:     events,
		sse: server.NewSSEServer(srv,
			server.WithSSEEndpoint(PathSSE),
			server.WithMessageEndpoint(PathMessage),
			server.WithKeepAlive(true),
		),
	}
	mux := http.NewServeMux()
	mux.Handle(PathMCP, checkSession(http.HandlerFunc(s.scope), ids))
	mux.Handle(PathSSE, s.sse.SSEHandler())
	mux.Handle(PathMessage, s.sse.MessageHandler())
	s.handler = guard(mux, o)
	return s
}

// Handler is the whole tree, checks included.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve listens on Options.Listen until ctx is done, then shuts down:
// open streams are closed, in-flight calls get time to finish.
func (s *Server) Serve(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.opts.Log.Info("shutting down HTTP transports")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Streams never go idle on their own: close the sessions first, then
	// let http.Server wait for the remaining requests.
	s.streamable.CloseSessions(sctx)
	s.sse.CloseSessions()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
