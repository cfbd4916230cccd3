package mcpserver

import (
	"context"
	"crypto/rand"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// maxPending bounds the input requests of one asker that wait for the
// client's retry; beyond it the oldest is forgotten and that retry is asked
// again.
const maxPending = 8

// asked holds the requestStates of the input requests (multi round-trip,
// SEP-2322) a server made in tool results: one-time nonces, each with what
// it asked about. A retry that carries answers is taken only when it echoes
// one, once: that proves the server asked and the client answered, and is
// never the client's (or its model's) say-so.
type asked[T any] struct {
	limit int // 0 = maxPending

	mu      sync.Mutex
	pending []askedFor[T] // oldest first
}

type askedFor[T any] struct {
	nonce string
	about T
}

// issue returns a new nonce for a request about v.
func (a *asked[T]) issue(v T) string {
	nonce := rand.Text()
	limit := a.limit
	if limit <= 0 {
		limit = maxPending
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) >= limit {
		a.pending = a.pending[1:]
	}
	a.pending = append(a.pending, askedFor[T]{nonce: nonce, about: v})
	return nonce
}

// claim reports whether state is a nonce of issue that was not used yet,
// with what it was about, and uses it up.
func (a *asked[T]) claim(state string) (T, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, p := range a.pending {
		if state != "" && p.nonce == state {
			a.pending = append(a.pending[:i:i], a.pending[i+1:]...)
			return p.about, true
		}
	}
	var zero T
	return zero, false
}

// clientCapabilities returns what the client of ctx declared: per request
// from protocol 2026-07-28 on, per session before; nil when unknown.
func clientCapabilities(ctx context.Context) *mcp.ClientCapabilities {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		c := s.GetClientCapabilities()
		return &c
	}
	return nil
}

// claimed reports whether state is an unused nonce of a, using it up.
func claimed[T any](a *asked[T], state string) bool {
	_, ok := a.claim(state)
	return ok
}
