package httpserve

import (
	"crypto/rand"
	"errors"
	"sync"
	"time"
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
