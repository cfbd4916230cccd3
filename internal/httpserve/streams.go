package httpserve

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// What a request leaves behind in mcp-go's Streamable HTTP transport.
//
// With an event store (without one, mcp-go can drop a notification sent just
// before the result), mcp-go keeps every request whose response became an
// SSE stream (any call that sent progress), with the writer it answered on,
// until its session ends; without sessions (--stateless) all requests share
// the id "", which never ends. So:
//   - the writer mcp-go gets lets go of the real one when the request is
//     over (releasingWriter): what stays is a few words, not the request,
//     its body and its response;
//   - the event store keeps the last maxStreamsPerSession streams of a
//     session (eventLog);
//   - without sessions, each request gets a session id of its own, whose
//     state is dropped as soon as it is answered (scope).

// maxStreamsPerSession bounds the SSE streams whose events a session keeps
// for resumption; a client resumes the stream it just lost, not one from
// dozens of calls ago.
const maxStreamsPerSession = 32

// scope serves one request on /mcp so that mcp-go keeps nothing of it once
// it is answered.
func (s *Server) scope(w http.ResponseWriter, r *http.Request) {
	rw := &releasingWriter{w: w}
	defer rw.release()
	if !s.opts.Stateless || r.Method != http.MethodPost || mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) {
		s.streamable.ServeHTTP(rw, r)
		return
	}
	// Without sessions the client's Mcp-Session-Id means nothing; an id of
	// the request's own keys what mcp-go records for it, and ending that
	// "session" afterwards drops it all (initialize gets no id either way).
	id := "stateless-" + rand.Text()
	r.Header.Set(server.HeaderKeySessionID, id)
	defer s.streamable.Handle(discardWriter{}, &server.HTTPRequest{
		Method:  http.MethodDelete,
		Header:  http.Header{server.HeaderKeySessionID: {id}},
		Context: context.WithoutCancel(r.Context()),
	})
	s.streamable.ServeHTTP(rw, r)
}

var errReleased = errors.New("httpserve: the request is over")

// releasingWriter passes writes to the real ResponseWriter until release.
type releasingWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter // nil once released
}

func (rw *releasingWriter) release() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.w = nil
}

func (rw *releasingWriter) Header() http.Header {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.w == nil {
		return http.Header{}
	}
	return rw.w.Header()
}

func (rw *releasingWriter) WriteHeader(code int) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.w != nil {
		rw.w.WriteHeader(code)
	}
}

func (rw *releasingWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.w == nil {
		return 0, errReleased
	}
	return rw.w.Write(p)
}

func (rw *releasingWriter) Flush() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the real writer (for write
// deadlines); nil once released.
func (rw *releasingWriter) Unwrap() http.ResponseWriter {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.w
}

// discardWriter answers the requests the server makes to itself.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) WriteHeader(int)             {}
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) Flush()                      {}
func (discardWriter) CanStream() bool             { return false }

// eventLog is the Streamable HTTP event store: it records the events of SSE
// streams, per session, so that mcp-go delivers every notification and a
// client can resume a broken stream, keeping the last maxStreamsPerSession
// streams of each session.
type eventLog struct {
	mu       sync.Mutex
	seq      int64
	sessions map[string]*sessionLog
}

type sessionLog struct {
	order   []string // stream ids, oldest first
	streams map[string][]storedEvent
	index   map[string]eventRef // event id -> where it is
}

type storedEvent struct {
	id      string
	message json.RawMessage
}

type eventRef struct {
	stream string
	pos    int
}

func newEventLog() *eventLog {
	return &eventLog{sessions: map[string]*sessionLog{}}
}

func (l *eventLog) StoreEvent(_ context.Context, sessionID, streamID string, message json.RawMessage) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sl := l.sessions[sessionID]
	if sl == nil {
		sl = &sessionLog{streams: map[string][]storedEvent{}, index: map[string]eventRef{}}
		l.sessions[sessionID] = sl
	}
	if _, ok := sl.streams[streamID]; !ok {
		if len(sl.order) >= maxStreamsPerSession {
			oldest := sl.order[0]
			sl.order = sl.order[1:]
			for _, ev := range sl.streams[oldest] {
				delete(sl.index, ev.id)
			}
			delete(sl.streams, oldest)
		}
		sl.order = append(sl.order, streamID)
	}
	l.seq++
	id := strconv.FormatInt(l.seq, 10)
	sl.index[id] = eventRef{stream: streamID, pos: len(sl.streams[streamID])}
	sl.streams[streamID] = append(sl.streams[streamID], storedEvent{id: id, message: append(json.RawMessage(nil), message...)})
	return id, nil
}

func (l *eventLog) ReplayEventsAfter(_ context.Context, sessionID, lastEventID string, send func(eventID string, message json.RawMessage) error) (string, error) {
	l.mu.Lock()
	var ref eventRef
	var tail []storedEvent
	sl, ok := l.sessions[sessionID]
	if ok {
		ref, ok = sl.index[lastEventID]
	}
	if ok {
		tail = append(tail, sl.streams[ref.stream][ref.pos+1:]...)
	}
	l.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%w: %s (the stream ended long ago or never was)", server.ErrUnknownEventID, lastEventID)
	}
	for _, ev := range tail {
		if err := send(ev.id, ev.message); err != nil {
			return "", err
		}
	}
	return ref.stream, nil
}

func (l *eventLog) PurgeSession(_ context.Context, sessionID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.sessions, sessionID)
	return nil
}
