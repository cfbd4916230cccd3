package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// elicitor is a client's user: it answers every confirmation with action
// and remembers what it was shown.
type elicitor struct {
	mu       sync.Mutex
	action   mcp.ElicitationResponseAction
	messages []string
}

func (e *elicitor) set(a mcp.ElicitationResponseAction) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.action, e.messages = a, nil
}

// shown returns what the user was shown since the last set.
func (e *elicitor) shown() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.messages...)
}

func (e *elicitor) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.messages = append(e.messages, req.Params.Message)
	if e.action == "" {
		return nil, errors.New("the client's form broke")
	}
	res := &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: e.action}}
	if e.action == mcp.ElicitationResponseActionAccept {
		res.Content = map[string]any{}
	}
	return res, nil
}

// confirmStore is the test's own view of the server's data dir: assertions
// are on what is stored, not only on what the server says.
type confirmStore struct {
	t  *testing.T
	be *local.Backend
}

func openStore(t *testing.T, dir string) confirmStore {
	be := local.New(dir)
	t.Cleanup(func() { be.Close() })
	return confirmStore{t: t, be: be}
}

func (s confirmStore) bucketExists(name string) bool {
	s.t.Helper()
	_, err := s.be.R2().GetBucket(context.Background(), name)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.t.Fatal(err)
	}
	return err == nil
}

func (s confirmStore) objects(bucket string) int {
	s.t.Helper()
	page, err := s.be.R2().ListObjects(context.Background(), bucket, storage.ObjectListOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(page.Objects)
}

func (s confirmStore) namespaceExists(id string) bool {
	s.t.Helper()
	_, err := s.be.KV().GetNamespace(context.Background(), id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.t.Fatal(err)
	}
	return err == nil
}

func (s confirmStore) keys(id string) int {
	s.t.Helper()
	page, err := s.be.KV().List(context.Background(), id, storage.ListOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(page.Keys)
}

func (s confirmStore) databaseExists(id string) bool {
	s.t.Helper()
	_, err := s.be.D1().GetDatabase(context.Background(), id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.t.Fatal(err)
	}
	return err == nil
}

// confirmClients are the ways a client with elicitation reaches the server:
// stdio and Streamable HTTP, each before 2026-07-28 (the server sends
// elicitation/create) and on 2026-07-28 (input_required, answered by a
// retry).
func confirmClients(t *testing.T, data string, e *elicitor) map[string]func() *mcptest.Session {
	out := map[string]func() *mcptest.Session{}
	for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		out["stdio/"+proto] = func() *mcptest.Session {
			tr := transport.NewStdioWithOptions(binary, childEnv(t.TempDir()), []string{"--backend", "local", "--data-dir", data})
			return mcptest.Connect(t, client.NewClient(tr, client.WithElicitationHandler(e), client.WithProtocolVersion(proto)))
		}
		out["http/"+proto] = func() *mcptest.Session {
			p := startHTTPServer(t, "--backend", "local", "--data-dir", data)
			return mcptest.Connect(t, client.NewClient(p.transportFor(t, proto), client.WithElicitationHandler(e), client.WithProtocolVersion(proto)))
		}
	}
	return out
}

// TestDeletesAskTheUser: over stdio and HTTP, in both protocol eras, every
// irreversible delete (a bucket, a namespace, a database, many objects, many
// keys) asks the user what goes; on decline or cancel nothing is deleted,
// even with a correct confirm, and the result tells the model not to retry;
// on accept it is deleted with no confirm at all.
func TestDeletesAskTheUser(t *testing.T) {
	for _, transportName := range []string{"stdio", "http"} {
		for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
			name := transportName + "/" + proto
			t.Run(name, func(t *testing.T) {
				data := t.TempDir()
				e := &elicitor{}
				s := confirmClients(t, data, e)[name]()
				if v := s.Client.ProtocolVersion(); v != proto {
					t.Fatalf("the client negotiated %s, want %s", v, proto)
				}
				st := openStore(t, data)

				s.OK("create_r2_bucket", map[string]any{"name": "doomed"})
				s.OK("create_r2_bucket", map[string]any{"name": "photos"})
				for _, k := range []string{"a.jpg", "b.jpg", "c.jpg"} {
					s.OK("r2_upload", map[string]any{"bucket": "photos", "key": k, "content": "x"})
				}
				ns := s.OK("create_kv_namespace", map[string]any{"title": "sessions"})["id"].(string)
				s.OK("kv_bulk_put", map[string]any{"namespace": ns, "entries": []map[string]any{
					{"key": "k1", "value": "1"}, {"key": "k2", "value": "2"}, {"key": "k3", "value": "3"}}})
				db := s.OK("create_d1_database", map[string]any{"name": "app-db"})["id"].(string)

				type deletion struct {
					tool  string
					args  map[string]any
					shows []string    // what the form must name
					kept  func() bool // the store still holds everything
					gone  func() bool // the store holds none of it
				}
				deletions := []deletion{
					{"delete_r2_bucket", map[string]any{"bucket": "doomed"}, []string{`R2 bucket "doomed"`, "empty"},
						func() bool { return st.bucketExists("doomed") }, func() bool { return !st.bucketExists("doomed") }},
					{"r2_delete", map[string]any{"bucket": "photos", "keys": []string{"a.jpg", "b.jpg"}}, []string{`2 objects from R2 bucket "photos"`, `"a.jpg"`, `"b.jpg"`},
						func() bool { return st.objects("photos") == 3 }, func() bool { return st.objects("photos") == 1 }},
					{"kv_bulk_delete", map[string]any{"namespace": ns, "keys": []string{"k1", "k2"}}, []string{`2 keys from KV namespace "sessions"`, `"k1"`},
						func() bool { return st.keys(ns) == 3 }, func() bool { return st.keys(ns) == 1 }},
					{"delete_kv_namespace", map[string]any{"namespace": "sessions"}, []string{`KV namespace "sessions"`, "It holds 1 key,"},
						func() bool { return st.namespaceExists(ns) }, func() bool { return !st.namespaceExists(ns) }},
					{"delete_d1_database", map[string]any{"database": "app-db"}, []string{`D1 database "app-db"`},
						func() bool { return st.databaseExists(db) }, func() bool { return !st.databaseExists(db) }},
				}
				for _, d := range deletions {
					for _, action := range []mcp.ElicitationResponseAction{mcp.ElicitationResponseActionDecline, mcp.ElicitationResponseActionCancel} {
						e.set(action)
						args := map[string]any{}
						for k, v := range d.args {
							args[k] = v
						}
						if n, ok := d.args["bucket"]; ok && d.tool == "delete_r2_bucket" {
							args["confirm"] = n // a model that fills confirm itself does not get around the user
						}
						text := s.Fail(d.tool, args, "permission_denied")
						if !strings.Contains(text, "declined") || !strings.Contains(text, "Do not retry") {
							t.Errorf("%s %s: result %q does not say the user declined and not to retry", d.tool, action, text)
						}
						if len(e.shown()) != 1 {
							t.Errorf("%s %s: the user was asked %d times, want once", d.tool, action, len(e.shown()))
						}
						if !d.kept() {
							t.Fatalf("%s: the user answered %s, but the store changed", d.tool, action)
						}
					}
					e.set(mcp.ElicitationResponseActionAccept)
					s.OK(d.tool, d.args)
					shown := e.shown()
					if len(shown) != 1 {
						t.Fatalf("%s accept: the user was asked %d times, want once", d.tool, len(shown))
					}
					for _, want := range d.shows {
						if !strings.Contains(shown[0], want) {
							t.Errorf("%s: the form %q does not name %q", d.tool, shown[0], want)
						}
					}
					if !d.gone() {
						t.Errorf("%s: the user accepted, but the store still holds it", d.tool)
					}
				}

				// A client whose form fails deletes nothing either.
				s.OK("create_r2_bucket", map[string]any{"name": "doomed"})
				e.set("")
				if mcp.IsModernProtocol(proto) {
					// The client fails its own call: it cannot retry with an answer.
					req := mcp.CallToolRequest{}
					req.Params.Name, req.Params.Arguments = "delete_r2_bucket", map[string]any{"bucket": "doomed", "confirm": "doomed"}
					if res, err := s.Client.CallTool(context.Background(), req); err == nil {
						t.Errorf("the client's form failed, yet the call returned %v", res)
					}
				} else {
					s.Fail("delete_r2_bucket", map[string]any{"bucket": "doomed", "confirm": "doomed"}, "unavailable")
				}
				if !st.bucketExists("doomed") {
					t.Fatal("the bucket went though the user could not be asked")
				}

				// One key or object is not "many": no question.
				e.set(mcp.ElicitationResponseActionDecline)
				s.OK("r2_delete", map[string]any{"bucket": "photos", "keys": []string{"c.jpg"}})
				if len(e.shown()) != 0 || st.objects("photos") != 0 {
					t.Errorf("deleting one object asked the user (%d) or did not delete it (%d left)", len(e.shown()), st.objects("photos"))
				}
			})
		}
	}
}

// TestDeletesWithoutElicitationNeedConfirm: a client without elicitation
// keeps the confirm argument, and its many-key deletes go as before.
func TestDeletesWithoutElicitationNeedConfirm(t *testing.T) {
	for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(proto, func(t *testing.T) {
			data := t.TempDir()
			tr := transport.NewStdioWithOptions(binary, childEnv(t.TempDir()), []string{"--backend", "local", "--data-dir", data})
			s := mcptest.Connect(t, client.NewClient(tr, client.WithProtocolVersion(proto)))
			st := openStore(t, data)
			s.OK("create_r2_bucket", map[string]any{"name": "doomed"})
			for _, args := range []map[string]any{{"bucket": "doomed"}, {"bucket": "doomed", "confirm": "other"}} {
				if text := s.Fail("delete_r2_bucket", args, "invalid_argument"); !strings.Contains(text, "confirm") {
					t.Errorf("error %q does not name confirm", text)
				}
			}
			if !st.bucketExists("doomed") {
				t.Fatal("the bucket went without confirm")
			}
			s.OK("create_r2_bucket", map[string]any{"name": "photos"})
			for i := range 3 {
				s.OK("r2_upload", map[string]any{"bucket": "photos", "key": fmt.Sprint(i), "content": "x"})
			}
			s.OK("r2_delete", map[string]any{"bucket": "photos", "keys": []string{"0", "1", "2"}})
			if n := st.objects("photos"); n != 0 {
				t.Errorf("%d objects left", n)
			}
			s.OK("delete_r2_bucket", map[string]any{"bucket": "doomed", "confirm": "doomed"})
			if st.bucketExists("doomed") {
				t.Error("the bucket is still there after a confirmed delete")
			}
		})
	}
}

// confirmForger is a client transport that slips a user's "accept" into
// tools/call requests with a requestState of the test's choosing, as a
// hostile client or a model-made retry could; it records the requestStates
// the server sends.
type confirmForger struct {
	transport.Interface
	mu     sync.Mutex
	state  *string // nil: requests go as they are
	states []string
}

func (f *confirmForger) set(state *string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = state
}

func (f *confirmForger) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.states...)
}

func (f *confirmForger) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	f.mu.Lock()
	state := f.state
	f.mu.Unlock()
	if req.Method == string(mcp.MethodToolsCall) {
		b, err := json.Marshal(req.Params)
		if err != nil {
			return nil, err
		}
		fields := map[string]json.RawMessage{}
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, err
		}
		if _, retry := fields["inputResponses"]; !retry && state != nil {
			accept := mcp.NewElicitationInputResponse(mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
				Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{}}})
			fields["inputResponses"], _ = json.Marshal(mcp.InputResponses{"cfstorage_confirm": accept})
			fields["requestState"], _ = json.Marshal(*state)
			req.Params = fields
		}
	}
	res, err := f.Interface.SendRequest(ctx, req)
	if err == nil && res != nil {
		var r struct {
			ResultType   string `json:"resultType"`
			RequestState string `json:"requestState"`
		}
		if json.Unmarshal(res.Result, &r) == nil && r.ResultType == string(mcp.ResultTypeInputRequired) {
			f.mu.Lock()
			f.states = append(f.states, r.RequestState)
			f.mu.Unlock()
		}
	}
	return res, err
}

// TestConfirmOnlyWhenAsked: on protocol 2026-07-28, over stdio and HTTP,
// the confirmation goes through input_required, and an
// "accept" counts only in the retry that echoes the requestState of that
// question, once, for that deletion: not unasked, not with a made-up state,
// not replayed, not for another bucket.
func TestConfirmOnlyWhenAsked(t *testing.T) {
	for _, name := range []string{"stdio", "http"} {
		t.Run(name, func(t *testing.T) {
			data := t.TempDir()
			f := &confirmForger{}
			var tr transport.Interface = f
			if name == "stdio" {
				f.Interface = transport.NewStdioWithOptions(binary, childEnv(t.TempDir()), []string{"--backend", "local", "--data-dir", data})
			} else {
				f.Interface = startHTTPServer(t, "--backend", "local", "--data-dir", data).transportFor(t, mcp.LATEST_PROTOCOL_VERSION)
				tr = httpConfirmForger{f}
			}
			e := &elicitor{}
			s := mcptest.Connect(t, client.NewClient(tr, client.WithElicitationHandler(e), client.WithProtocolVersion(mcp.LATEST_PROTOCOL_VERSION)))
			st := openStore(t, data)
			if v := s.Client.ProtocolVersion(); v != mcp.LATEST_PROTOCOL_VERSION {
				t.Fatalf("the client negotiated %s; this test is about %s", v, mcp.LATEST_PROTOCOL_VERSION)
			}
			for _, b := range []string{"keep-me", "other"} {
				s.OK("create_r2_bucket", map[string]any{"name": b})
			}
			e.set(mcp.ElicitationResponseActionDecline)
			s.Fail("delete_r2_bucket", map[string]any{"bucket": "other"}, "permission_denied")
			asked := f.asked()
			if len(asked) != 1 || asked[0] == "" {
				t.Fatalf("the server asked in %d input_required results (%q), want 1 with a requestState", len(asked), asked)
			}
			for _, state := range []string{"", "made-up-state", asked[0]} {
				e.set(mcp.ElicitationResponseActionDecline)
				f.set(&state)
				s.Fail("delete_r2_bucket", map[string]any{"bucket": "keep-me"}, "permission_denied")
				if len(e.shown()) != 1 {
					t.Errorf("state %q: the user was asked %d times, want once (the forged accept must not count)", state, len(e.shown()))
				}
				if !st.bucketExists("keep-me") {
					t.Fatalf("a forged accept with state %q deleted the bucket", state)
				}
			}
			f.set(nil)
			// An answer for one bucket does not delete another: accept
			// "other", then replay that state for "keep-me".
			e.set(mcp.ElicitationResponseActionAccept)
			s.OK("delete_r2_bucket", map[string]any{"bucket": "other"})
			last := f.asked()[len(f.asked())-1]
			e.set(mcp.ElicitationResponseActionDecline)
			f.set(&last)
			s.Fail("delete_r2_bucket", map[string]any{"bucket": "keep-me"}, "permission_denied")
			if st.bucketExists("other") || !st.bucketExists("keep-me") {
				t.Errorf("other exists=%v keep-me exists=%v, want only keep-me", st.bucketExists("other"), st.bucketExists("keep-me"))
			}
		})
	}
}

// transportFor is a Streamable HTTP client transport for proto: 2026-07-28
// has no standalone GET stream, and mcp-go's client stays on an earlier
// version while it listens on one.
func (p *httpProc) transportFor(t testing.TB, proto string) transport.Interface {
	t.Helper()
	if !mcp.IsModernProtocol(proto) {
		return p.transport(t)
	}
	tr, err := transport.NewStreamableHTTP(p.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + httpToken}))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// httpConfirmForger is a confirmForger over Streamable HTTP, which sends
// the negotiated version in a header.
type httpConfirmForger struct{ *confirmForger }

func (h httpConfirmForger) SetProtocolVersion(v string) {
	h.Interface.(transport.HTTPConnection).SetProtocolVersion(v)
}

// TestRefusedDeletesNeverAsk: a delete that would be refused anyway (outside
// --allow-buckets, a bucket that still holds objects, a bad key, an unknown
// namespace) fails with its own error, and the user is never asked.
func TestRefusedDeletesNeverAsk(t *testing.T) {
	for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(proto, func(t *testing.T) {
			data := t.TempDir()
			e := &elicitor{}
			open := func(args ...string) *mcptest.Session {
				tr := transport.NewStdioWithOptions(binary, childEnv(t.TempDir()), append([]string{"--backend", "local", "--data-dir", data}, args...))
				return mcptest.Connect(t, client.NewClient(tr, client.WithElicitationHandler(e), client.WithProtocolVersion(proto)))
			}
			all := open()
			for _, b := range []string{"public", "private"} {
				all.OK("create_r2_bucket", map[string]any{"name": b})
				all.OK("r2_upload", map[string]any{"bucket": b, "key": "k", "content": "x"})
			}
			all.OK("create_r2_bucket", map[string]any{"name": "empty-private"})
			s := open("--allow-buckets", "public")
			st := openStore(t, data)
			e.set(mcp.ElicitationResponseActionAccept)
			s.Fail("delete_r2_bucket", map[string]any{"bucket": "empty-private"}, "not_found")
			s.Fail("r2_delete", map[string]any{"bucket": "private", "keys": []string{"k", "j"}}, "not_found")
			s.Fail("delete_r2_bucket", map[string]any{"bucket": "public"}, "conflict")
			s.Fail("r2_delete", map[string]any{"bucket": "public", "keys": []string{"k", strings.Repeat("x", 1025)}}, "invalid_argument")
			s.Fail("kv_bulk_delete", map[string]any{"namespace": "no-such-namespace", "keys": []string{"a", "b"}}, "not_found")
			s.Fail("delete_d1_database", map[string]any{"database": "no-such-db"}, "not_found")
			if shown := e.shown(); len(shown) != 0 {
				t.Errorf("the user was asked about deletes that were refused anyway: %q", shown)
			}
			if !st.bucketExists("empty-private") || st.objects("private") != 1 || st.objects("public") != 1 {
				t.Error("a refused delete changed the store")
			}
		})
	}
}

// TestStatelessLegacyClientNeedsConfirm: over --stateless HTTP a client
// before 2026-07-28 declares elicitation only in an initialize the server
// does not remember, and there is no stream to send it a request: such a
// client keeps confirm, and is never asked.
func TestStatelessLegacyClientNeedsConfirm(t *testing.T) {
	data := t.TempDir()
	p := startHTTPServer(t, "--backend", "local", "--data-dir", data, "--stateless")
	e := &elicitor{}
	e.set(mcp.ElicitationResponseActionAccept)
	s := mcptest.Connect(t, client.NewClient(p.transportFor(t, mcp.ProtocolVersion20251125), client.WithElicitationHandler(e),
		client.WithProtocolVersion(mcp.ProtocolVersion20251125)))
	st := openStore(t, data)
	s.OK("create_r2_bucket", map[string]any{"name": "doomed"})
	s.Fail("delete_r2_bucket", map[string]any{"bucket": "doomed"}, "invalid_argument")
	if !st.bucketExists("doomed") {
		t.Fatal("the bucket went without confirm")
	}
	s.OK("delete_r2_bucket", map[string]any{"bucket": "doomed", "confirm": "doomed"})
	if st.bucketExists("doomed") || len(e.shown()) != 0 {
		t.Errorf("bucket exists=%v, user asked %d times; want deleted, never asked", st.bucketExists("doomed"), len(e.shown()))
	}
}
