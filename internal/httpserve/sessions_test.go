package httpserve

import (
	"testing"
	"time"
)

func TestSessionsIssueValidateExpire(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newSessions(time.Minute, func() time.Time { return now })
	id := s.Generate()
	if _, err := s.Validate(id); err != nil {
		t.Fatalf("a fresh id is refused: %v", err)
	}
	if _, err := s.Validate("mcp-session-" + "00000000-0000-0000-0000-000000000000"); err == nil {
		t.Fatal("an id that was never issued is accepted")
	}
	now = now.Add(50 * time.Second)
	if _, err := s.Validate(id); err != nil {
		t.Fatalf("an id used 50 s ago is refused: %v", err)
	}
	now = now.Add(50 * time.Second) // 50 s after its last use: still alive
	if _, err := s.Validate(id); err != nil {
		t.Fatalf("use should extend the session: %v", err)
	}
	now = now.Add(61 * time.Second)
	if _, err := s.Validate(id); err == nil {
		t.Fatal("an id idle for longer than the TTL is accepted")
	}
	other := s.Generate()
	if _, err := s.Terminate(other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Validate(other); err == nil {
		t.Fatal("a terminated id is accepted")
	}
	if len(s.lastSeen) != 0 {
		t.Errorf("expired and terminated ids are still remembered: %d", len(s.lastSeen))
	}
}
