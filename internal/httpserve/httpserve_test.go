package httpserve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/httpserve"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

const token = "s3cr3t-bearer-token-value"

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	url     string
	logs    *syncBuffer
	stop    func() error
	started chan struct{} // the "wait" tool has begun
}

// start serves the real tools on a fresh local store, plus a "tick" tool
// that sends n progress notifications, over HTTP on a random port.
func start(t testing.TB, o httpserve.Options) *fixture {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, closeStore, err := mcptest.LocalServer(t.TempDir(), storage.Policy{}, mcpserver.Options{Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	srv.AddTool(mcp.NewTool("tick", mcp.WithDescription("sends progress"), mcp.WithNumber("n")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			n := req.GetInt("n", 10)
			var token mcp.ProgressToken
			if req.Params.Meta != nil {
				token = req.Params.Meta.ProgressToken
			}
			for i := 1; i <= n; i++ {
				_ = server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress",
					map[string]any{"progressToken": token, "progress": i, "total": n})
			}
			return mcp.NewToolResultText("done"), nil
		})
	f := &fixture{started: make(chan struct{}, 1)}
	srv.AddTool(mcp.NewTool("wait", mcp.WithDescription("signals that it started, then takes a while")),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			f.started <- struct{}{}
			time.Sleep(300 * time.Millisecond)
			return mcp.NewToolResultText("finished"), nil
		})
	o.Listen = "127.0.0.1:0"
	o.Log = logger
	hs := httpserve.New(srv, o)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ctx, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatal(err)
	}
	f.url, f.logs = "http://"+addr.String(), logs
	var once sync.Once
	var stopErr error
	f.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}
	t.Cleanup(func() { f.stop() })
	return f
}

func post(t *testing.T, url string, headers map[string]string, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func TestOriginRule(t *testing.T) {
	f := start(t, httpserve.Options{AllowedOrigins: []string{"https://app.example.com"}})
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", http.StatusOK},
		{"http://localhost:3000", http.StatusOK},
		{"http://127.0.0.1:8080", http.StatusOK},
		{"http://[::1]:8080", http.StatusOK},
		{"https://app.example.com", http.StatusOK},
		{"https://app.example.com/", http.StatusOK},
		{"https://app.example.com:443", http.StatusOK}, // the same origin, default port spelled out
		{"HTTPS://APP.Example.COM", http.StatusOK},     // scheme and host are case-insensitive
		{"https://evil.example.com", http.StatusForbidden},
		{"http://localhost.evil.example", http.StatusForbidden},
		{"null", http.StatusForbidden},
		// Look-alikes of the allowed origin.
		{"https://app.example.com.evil.com", http.StatusForbidden}, // allowed origin as a prefix
		{"https://app.example.comx", http.StatusForbidden},
		{"https://evilapp.example.com", http.StatusForbidden},  // as a suffix
		{"https://evil.app.example.com", http.StatusForbidden}, // a subdomain
		{"https://app.example.co", http.StatusForbidden},
		{"https://app.example.com:8443", http.StatusForbidden}, // another port
		{"https://app.example.com:", http.StatusForbidden},
		{"http://app.example.com", http.StatusForbidden}, // another scheme
		{"wss://app.example.com", http.StatusForbidden},
		{"https://app.example.com@evil.com", http.StatusForbidden}, // userinfo
		{"https://user@app.example.com", http.StatusForbidden},
		{"https://evil.com#https://app.example.com", http.StatusForbidden},
		{"https://app.example.com/path", http.StatusForbidden}, // not an origin
		{"https://app.example.com?x", http.StatusForbidden},
		{"https://app.example.com, https://evil.com", http.StatusForbidden},
		// Look-alikes of loopback.
		{"http://127.0.0.1.evil.com", http.StatusForbidden},
		{"http://localhost@evil.com", http.StatusForbidden},
		{"http://evil.com@localhost", http.StatusForbidden},
		{"file://localhost", http.StatusForbidden},
	} {
		h := map[string]string{}
		if tc.origin != "" {
			h["Origin"] = tc.origin
		}
		if got := post(t, f.url+"/mcp", h, initBody).StatusCode; got != tc.want {
			t.Errorf("Origin %q: status %d, want %d", tc.origin, got, tc.want)
		}
	}
	// The SSE endpoints are behind the same rule.
	req, _ := http.NewRequest(http.MethodGet, f.url+"/sse", nil)
	req.Header.Set("Origin", "https://evil.example.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("SSE with a foreign origin: %d", res.StatusCode)
	}
}

func TestBearerAuth(t *testing.T) {
	f := start(t, httpserve.Options{AuthToken: token})
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic " + token, http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
	} {
		h := map[string]string{}
		if tc.auth != "" {
			h["Authorization"] = tc.auth
		}
		res := post(t, f.url+"/mcp", h, initBody)
		if res.StatusCode != tc.want {
			t.Errorf("Authorization %q: status %d, want %d", tc.auth, res.StatusCode, tc.want)
		}
		if tc.want == http.StatusUnauthorized && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without a WWW-Authenticate Bearer challenge")
		}
	}
	// A real client with the token works end to end; the token is in no log.
	s := connect(t, f.url+"/mcp", map[string]string{"Authorization": "Bearer " + token})
	s.OK("whoami", nil)
	if strings.Contains(f.logs.String(), token) {
		t.Fatal("the bearer token appears in the logs")
	}
}

func TestListenRefusedWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8787", "", true},
		{"localhost:8787", "", true},
		{"[::1]:8787", "", true},
		{"0.0.0.0:8787", "", false},
		{":8787", "", false},
		{"192.0.2.10:8787", "", false},
		{"0.0.0.0:8787", "t", true},
	} {
		err := httpserve.CheckListen(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, token=%v) = %v", tc.addr, tc.token != "", err)
		}
		if err != nil && !strings.Contains(err.Error(), "--auth-token") {
			t.Errorf("refusal does not say how to fix it: %v", err)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	f := start(t, httpserve.Options{MaxBodyBytes: 1024})
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
	if got := post(t, f.url+"/mcp", nil, big).StatusCode; got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize body: %d, want 413", got)
	}
	// Without Content-Length (chunked), the limit still holds.
	req, _ := http.NewRequest(http.MethodPost, f.url+"/mcp", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversize body: %d, want 413", res.StatusCode)
	}
	if got := post(t, f.url+"/mcp", nil, initBody).StatusCode; got != http.StatusOK {
		t.Errorf("small body: %d", got)
	}
}

// Session ids the server never issued get 404 on every verb; GET and DELETE
// without a session id are refused; so is a session after its DELETE.
func TestUnknownSession(t *testing.T) {
	f := start(t, httpserve.Options{})
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	for _, id := range []string{"mcp-session-00000000-0000-0000-0000-000000000000", "mcp-session-NOTISSUED", "garbage"} {
		if got := post(t, f.url+"/mcp", map[string]string{"Mcp-Session-Id": id}, list).StatusCode; got != http.StatusNotFound {
			t.Errorf("POST, session %q: %d, want 404", id, got)
		}
		for _, verb := range []string{http.MethodGet, http.MethodDelete} {
			if got := send(t, verb, f.url+"/mcp", id); got != http.StatusNotFound {
				t.Errorf("%s, session %q: %d, want 404", verb, id, got)
			}
		}
	}
	for _, verb := range []string{http.MethodGet, http.MethodDelete} {
		if got := send(t, verb, f.url+"/mcp", ""); got != http.StatusBadRequest {
			t.Errorf("%s without a session id: %d, want 400", verb, got)
		}
	}

	// An issued session streams and ends; after DELETE it is unknown.
	init := rawPost(t, f.url+"/mcp", "", initBody)
	init.Body.Close()
	id := init.Header.Get("Mcp-Session-Id")
	if id == "" {
		t.Fatal("initialize issued no session id")
	}
	if got := send(t, http.MethodGet, f.url+"/mcp", id); got != http.StatusOK {
		t.Errorf("GET on an issued session: %d, want 200", got)
	}
	if got := send(t, http.MethodDelete, f.url+"/mcp", id); got != http.StatusOK {
		t.Errorf("DELETE on an issued session: %d, want 200", got)
	}
	for _, verb := range []string{http.MethodGet, http.MethodDelete} {
		if got := send(t, verb, f.url+"/mcp", id); got != http.StatusNotFound {
			t.Errorf("%s after DELETE: %d, want 404", verb, got)
		}
	}
	if got := post(t, f.url+"/mcp", map[string]string{"Mcp-Session-Id": id}, list).StatusCode; got != http.StatusNotFound {
		t.Errorf("POST after DELETE: %d, want 404", got)
	}
}

// Without sessions there is no stream to listen to and nothing to end.
func TestStatelessGetDelete(t *testing.T) {
	f := start(t, httpserve.Options{Stateless: true})
	for _, verb := range []string{http.MethodGet, http.MethodDelete} {
		for _, id := range []string{"", "mcp-session-NOTISSUED"} {
			if got := send(t, verb, f.url+"/mcp", id); got != http.StatusMethodNotAllowed {
				t.Errorf("stateless %s, session %q: %d, want 405", verb, id, got)
			}
		}
	}
}

// send makes a bodiless request and returns its status once the headers are
// in (a GET stream is then closed).
func send(t *testing.T, verb, url, session string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, verb, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", verb, err)
	}
	res.Body.Close()
	return res.StatusCode
}

func connect(t testing.TB, url string, headers map[string]string) *mcptest.Session {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	return mcptest.Connect(t, c)
}

func TestConcurrentClients(t *testing.T) {
	f := start(t, httpserve.Options{})
	setup := connect(t, f.url+"/mcp", nil)
	setup.OK("create_kv_namespace", map[string]any{"title": "shared"})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for c := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := connect(t, f.url+"/mcp", nil)
			for i := range 10 {
				key := fmt.Sprintf("client-%d-%d", c, i)
				want := fmt.Sprintf("value %d/%d", c, i)
				if res := s.Call("kv_put", map[string]any{"namespace": "shared", "key": key, "value": want}); res.IsError {
					errs <- fmt.Errorf("put %s: %s", key, mcptest.Text(res))
					return
				}
				got := s.Call("kv_get", map[string]any{"namespace": "shared", "key": key})
				if got.IsError || !strings.Contains(mcptest.Text(got), want) {
					errs <- fmt.Errorf("get %s: %s", key, mcptest.Text(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list := setup.OK("kv_list", map[string]any{"namespace": "shared", "limit": 1000})
	if n := len(list["keys"].([]any)); n != 200 {
		t.Errorf("%d keys stored, want 200", n)
	}
}

// Every progress notification reaches an HTTP client, ahead of the result
// on the request's SSE stream (mcp-go drops some without an event store).
// The stream is read raw, so that only the server is under test.
func TestProgressDelivered(t *testing.T) {
	f := start(t, httpserve.Options{})
	init := rawPost(t, f.url+"/mcp", "", initBody)
	session := init.Header.Get("Mcp-Session-Id")
	init.Body.Close()
	rawPost(t, f.url+"/mcp", session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()
	for round := range 20 {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"tick","arguments":{"n":10},"_meta":{"progressToken":"t%d"}}}`, round+2, round)
		res := rawPost(t, f.url+"/mcp", session, body)
		data, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var progress, results int
		for line := range strings.Lines(string(data)) {
			switch {
			case !strings.HasPrefix(line, "data: "):
			case strings.Contains(line, `"notifications/progress"`):
				if results > 0 {
					t.Fatalf("round %d: progress after the result", round)
				}
				progress++
			case strings.Contains(line, `"result"`):
				results++
			}
		}
		if progress != 10 || results != 1 {
			t.Fatalf("round %d: %d of 10 progress notifications and %d results on the stream:\n%s", round, progress, results, data)
		}
	}
}

func rawPost(t *testing.T, url, session, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSSETransport(t *testing.T) {
	f := start(t, httpserve.Options{AuthToken: token})
	c, err := client.NewSSEMCPClient(f.url+"/sse", transport.WithHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	s := mcptest.Connect(t, c)
	s.OK("create_r2_bucket", map[string]any{"name": "over-sse"})
	s.OK("r2_upload", map[string]any{"bucket": "over-sse", "key": "a.txt", "content": "hello over SSE"})
	if _, got := s.Read("r2_download", map[string]any{"bucket": "over-sse", "key": "a.txt"}); got != "hello over SSE" {
		t.Fatalf("download over SSE = %v", got)
	}
	noAuth, err := http.Get(f.url + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	noAuth.Body.Close()
	if noAuth.StatusCode != http.StatusUnauthorized {
		t.Errorf("SSE without the token: %d", noAuth.StatusCode)
	}
}

func TestStatelessMode(t *testing.T) {
	f := start(t, httpserve.Options{Stateless: true})
	res := post(t, f.url+"/mcp", nil, initBody)
	if res.StatusCode != http.StatusOK || res.Header.Get("Mcp-Session-Id") != "" {
		t.Fatalf("stateless initialize: %d, session %q", res.StatusCode, res.Header.Get("Mcp-Session-Id"))
	}
	s := connect(t, f.url+"/mcp", nil)
	s.OK("create_kv_namespace", map[string]any{"title": "nosession"})
	if got := s.OK("list_kv_namespaces", nil); len(got["namespaces"].([]any)) != 1 {
		t.Errorf("stateless calls did not share the store: %v", got)
	}
}

// Shutdown lets an in-flight call finish and then returns without error.
func TestGracefulShutdown(t *testing.T) {
	f := start(t, httpserve.Options{})
	s := connect(t, f.url+"/mcp", nil)
	done := make(chan *mcp.CallToolResult, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "wait"
		res, err := s.Client.CallTool(context.Background(), req)
		if err != nil {
			res = mcp.NewToolResultError(err.Error())
		}
		done <- res
	}()
	<-f.started
	if err := f.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	res := <-done
	if res.IsError || mcptest.Text(res) != "finished" {
		t.Fatalf("the in-flight call did not finish: %s", mcptest.Text(res))
	}
}
