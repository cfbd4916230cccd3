package tools

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// How often progress is reported: when it has moved by progressStep of the
// total since the last notification, or progressInterval has passed. The
// backends report every read or write; a client wants a bar that moves, not
// a notification per 32 KiB.
const (
	progressStep     = 0.01
	progressInterval = 250 * time.Millisecond
)

type progressKey struct{}

type progress struct {
	srv   *server.MCPServer
	token mcp.ProgressToken
}

// withProgress remembers the request's progress token, if the client sent
// one, so that long operations can report how far they got.
func withProgress(ctx context.Context, req mcp.CallToolRequest) context.Context {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return ctx
	}
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return ctx
	}
	return context.WithValue(ctx, progressKey{}, progress{srv, req.Params.Meta.ProgressToken})
}

// reportProgress sends notifications/progress when the client asked for it,
// throttled (see throttle). It returns nil when it did not: callers pass the
// result on unconditionally.
func reportProgress(ctx context.Context, total int64, message string) func(done int64) {
	p, ok := ctx.Value(progressKey{}).(progress)
	if !ok {
		return nil
	}
	t := &throttle{total: total, now: time.Now}
	return func(done int64) {
		prev, ok := t.due(done)
		if !ok {
			return
		}
		params := map[string]any{"progressToken": p.token, "progress": done, "message": message}
		if total > 0 {
			params["total"] = total
		}
		// mcp-go drops a notification when the session's queue is full (a
		// slow client). Dropped, it is not sent: the next report tries again;
		// the final one, which the client's bar waits for, is retried for a
		// moment. A client that went away must not fail the operation.
		for wait := time.Millisecond; ; wait *= 2 {
			err := p.srv.SendNotificationToClient(ctx, "notifications/progress", params)
			if !errors.Is(err, server.ErrNotificationChannelBlocked) {
				return
			}
			if total <= 0 || done < total || wait > finalProgressWait {
				t.undo(prev)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// finalProgressWait bounds the retries of the last notification (about
// twice this in all).
const finalProgressWait = time.Second

// throttle decides which progress reports become notifications: the first,
// the one that reaches the total, and between them one per progressStep of
// the total or per progressInterval, whichever comes first. A report that
// moved nothing is dropped.
type throttle struct {
	total int64 // 0 or less: unknown
	now   func() time.Time

	mu       sync.Mutex
	sent     bool
	lastDone int64
	lastAt   time.Time
}

// sentState is what the throttle knew before a report it let through, so
// that a notification that could not be sent can be taken back.
type sentState struct {
	sent     bool
	lastDone int64
	lastAt   time.Time
}

// due reports whether done becomes a notification, and the state to restore
// with undo if it cannot be sent.
func (t *throttle) due(done int64) (sentState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := sentState{t.sent, t.lastDone, t.lastAt}
	now := t.now()
	step := max(int64(float64(t.total)*progressStep), 1)
	switch {
	case !t.sent:
	case done == t.lastDone:
		return prev, false
	case t.total > 0 && done >= t.total:
	case t.total > 0 && done-t.lastDone >= step:
	case now.Sub(t.lastAt) >= progressInterval:
	default:
		return prev, false
	}
	t.sent, t.lastDone, t.lastAt = true, done, now
	return prev, true
}

// undo forgets the last report due let through: it was not sent.
func (t *throttle) undo(prev sentState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent, t.lastDone, t.lastAt = prev.sent, prev.lastDone, prev.lastAt
}
