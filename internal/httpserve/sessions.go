package httpserve

import (
	"crypto/rand"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// sessions issues Streamable HTTP session ids and accepts only those it
// issued: mcp-go's stateful manager checks just their format, so any
// well-formed id would pass. Ids idle for longer than ttl expire.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	lastSeen map[string]time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, lastSeen: map[string]time.Time{}}
}

var errUnknownSession = errors.New("unknown or expired session id")

func (s *sessions) Generate() string {
	id := "mcp-session-" + rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, seen := range s.lastSeen { // forget expired ids as new ones come
		if now.Sub(seen) > s.ttl {
			delete(s.lastSeen, k)
		}
	}
	s.lastSeen[id] = now
	return id
}

func (s *sessions) Validate(id string) (terminated bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen, ok := s.lastSeen[id]
	now := s.now()
	if !ok || now.Sub(seen) > s.ttl {
		delete(s.lastSeen, id)
		return false, errUnknownSession
	}
	s.lastSeen[id] = now
	return false, nil
}

func (s *sessions) Terminate(id string) (notAllowed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.lastSeen[id]; !ok {
		return false, errUnknownSession
	}
	delete(s.lastSeen, id)
	return false, nil
}

// checkSession answers the GET (listening stream) and DELETE (end of
// session) requests that mcp-go would take wrongly: its GET handler does not
// call Validate, and opens a session under any id it is given, or under a
// new one without an id; its DELETE answers 500 for an unknown id. ids is
// nil without sessions (--stateless), where neither verb has a session to
// act on. Clients of protocol 2026-07-28, which has no sessions, are left to
// mcp-go, which refuses both verbs.
func checkSession(next http.Handler, ids *sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method != http.MethodGet && r.Method != http.MethodDelete) || mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) {
			next.ServeHTTP(w, r)
			return
		}
		id := r.Header.Get(server.HeaderKeySessionID)
		switch {
		case ids == nil:
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "Method Not Allowed: the server runs without sessions (--stateless); send requests with POST", http.StatusMethodNotAllowed)
		case id == "":
			http.Error(w, "Bad Request: "+r.Method+" needs the Mcp-Session-Id header of an initialized session", http.StatusBadRequest)
		default:
			if _, err := ids.Validate(id); err != nil {
				http.Error(w, "Not Found: "+err.Error()+"; initialize a new session", http.StatusNotFound)
				return
			}
			next.ServeHTTP(w, r)
		}
	})
}
