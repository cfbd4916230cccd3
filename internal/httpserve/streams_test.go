package httpserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// A session keeps the events of its last maxStreamsPerSession streams:
// those replay, older ones are unknown, and purging forgets them all.
func TestEventLogKeepsRecentStreams(t *testing.T) {
	ctx := context.Background()
	l := newEventLog()
	var first, last []string // event ids of stream 0 and of the last stream
	streams := maxStreamsPerSession + 5
	for s := range streams {
		for e := range 3 {
			id, err := l.StoreEvent(ctx, "sess", fmt.Sprint("stream-", s), json.RawMessage(fmt.Sprintf(`{"n":%d}`, e)))
			if err != nil {
				t.Fatal(err)
			}
			switch s {
			case 0:
				first = append(first, id)
			case streams - 1:
				last = append(last, id)
			}
		}
		if _, err := l.StoreEvent(ctx, "other", "x", json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	stream, err := l.ReplayEventsAfter(ctx, "sess", last[0], func(id string, msg json.RawMessage) error {
		got = append(got, id+"="+string(msg))
		return nil
	})
	if err != nil || stream != fmt.Sprint("stream-", streams-1) || strings.Join(got, " ") != last[1]+`={"n":1} `+last[2]+`={"n":2}` {
		t.Errorf("replay after %s: stream %q, events %v, %v", last[0], stream, got, err)
	}
	if _, err := l.ReplayEventsAfter(ctx, "sess", first[0], func(string, json.RawMessage) error { return nil }); !errors.Is(err, server.ErrUnknownEventID) {
		t.Errorf("replay of an evicted stream: %v, want ErrUnknownEventID", err)
	}
	if n, idx := len(l.sessions["sess"].streams), len(l.sessions["sess"].index); n != maxStreamsPerSession || idx != 3*maxStreamsPerSession {
		t.Errorf("session keeps %d streams and %d events, want %d and %d", n, idx, maxStreamsPerSession, 3*maxStreamsPerSession)
	}
	if _, err := l.ReplayEventsAfter(ctx, "other", last[0], func(string, json.RawMessage) error { return nil }); !errors.Is(err, server.ErrUnknownEventID) {
		t.Errorf("an event id of another session replays: %v", err)
	}
	l.PurgeSession(ctx, "sess")
	if _, ok := l.sessions["sess"]; ok {
		t.Error("a purged session is still kept")
	}
}

// Without sessions, nothing a call records outlives it, however many of its
// responses became SSE streams.
func TestStatelessKeepsNothing(t *testing.T) {
	srv := server.NewMCPServer("t", "1")
	srv.AddTool(mcp.NewTool("tick"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		for i := 1; i <= 3; i++ {
			_ = server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress",
				map[string]any{"progressToken": req.Params.Meta.ProgressToken, "progress": i, "total": 3})
		}
		return mcp.NewToolResultText("done"), nil
	})
	s := New(srv, Options{Stateless: true})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for i := range 20 {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"tick","_meta":{"progressToken":"p%d"}}}`, i+1, i)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+PathMCP, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", mcp.ProtocolVersion20251125)
		if i%2 == 0 {
			req.Header.Set("Mcp-Session-Id", "mcp-session-chosen-by-the-client")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if n := strings.Count(string(data), `"notifications/progress"`); n != 3 || !strings.Contains(string(data), `"done"`) {
			t.Fatalf("call %d: %d progress notifications:\n%s", i, n, data)
		}
	}
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	if n := len(s.events.sessions); n != 0 {
		t.Errorf("after 20 stateless calls the event store keeps %d sessions", n)
	}
}
