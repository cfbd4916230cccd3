package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/miniflare"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

// TestWranglerE2E: the built binary, started by an MCP client in a Worker
// project with no credentials, picks the wrangler backend by itself (auto),
// says so in whoami, and what the assistant writes through it is what the
// Worker's own bindings read under `wrangler dev`: text and binary KV values
// with metadata and expiration, an R2 object with its Content-Type and
// custom metadata, D1 rows; what the Worker writes, the tools read.
func TestWranglerE2E(t *testing.T) {
	dev := wranglertest.Start(t, wranglertest.CopyProject(t, "../../internal/wrangler/testdata/worker"))
	s := &proc{stderr: &mcptest.Output{}}
	inProject := transport.WithCommandFunc(func(_ context.Context, command string, env, args []string) (*exec.Cmd, error) {
		cmd := exec.Command(command, args...)
		cmd.Env, cmd.Dir, cmd.Stderr = env, dev.ProjectDir, s.stderr
		return cmd, nil
	})
	c, err := client.NewStdioMCPClientWithOptions(binary, childEnv(t.TempDir()),
		[]string{"--wrangler-url", dev.URL, "--persist-to", dev.PersistDir}, inProject)
	if err != nil {
		t.Fatal(err)
	}
	s.Session = mcptest.Connect(t, c)
	defer s.stop(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.stderr.String())
		}
	})

	who := s.OK("whoami", nil)
	w, _ := who["wrangler"].(map[string]any)
	if who["backend"] != "wrangler" || w == nil || w["path"] != "explorer" || !strings.HasSuffix(w["config"].(string), "wrangler.jsonc") {
		t.Fatalf("whoami = %v", who)
	}
	if !strings.Contains(s.stderr.String(), "binds KV, R2 or D1") {
		t.Errorf("the log does not say why wrangler was chosen:\n%s", s.stderr.String())
	}

	exp := time.Now().Add(2 * time.Hour).Unix()
	s.OK("kv_put", map[string]any{"namespace": "CACHE", "key": "w/hello.txt", "value": "hello, Worker",
		"metadata": map[string]any{"lang": "en"}, "expiration": exp})
	s.OK("kv_put", map[string]any{"namespace": "CACHE", "key": "bin?#%", "value_base64": base64.StdEncoding.EncodeToString([]byte{0, 0xff, 1})})
	resp, body := get(t, dev.URL+"/kv?key="+url.QueryEscape("w/hello.txt"))
	if string(body) != "hello, Worker" || resp.Header.Get("x-metadata") != `{"lang":"en"}` || resp.Header.Get("x-expiration") != jsonNum(exp) {
		t.Errorf("the Worker reads %q %v", body, resp.Header)
	}
	if _, body := get(t, dev.URL+"/kv?key="+url.QueryEscape("bin?#%")); string(body) != "\x00\xff\x01" {
		t.Errorf("the Worker reads the binary value as %x", body)
	}

	s.OK("r2_upload", map[string]any{"bucket": "fixture-assets", "key": "img/a b.txt", "content": "object", "content_type": "text/plain",
		"custom_metadata": map[string]any{"owner": "assistant"}})
	resp, body = get(t, dev.URL+"/r2?key="+url.QueryEscape("img/a b.txt"))
	if string(body) != "object" || resp.Header.Get("x-http-metadata") != `{"contentType":"text/plain"}` || resp.Header.Get("x-custom-metadata") != `{"owner":"assistant"}` {
		t.Errorf("the Worker reads the object as %q %v", body, resp.Header)
	}

	s.OK("d1_query", map[string]any{"database": "fixture-db", "sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('first')"})
	req, _ := http.NewRequest(http.MethodPost, dev.URL+"/d1", strings.NewReader(`{"sql":"SELECT body FROM notes"}`))
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if string(rows) != `{"results":[{"body":"first"}]}` {
		t.Errorf("the Worker reads rows %s", rows)
	}

	// The Worker writes; the tools read.
	put, _ := http.NewRequest(http.MethodPut, dev.URL+"/kv?key=from-worker", strings.NewReader("by the Worker"))
	if r, err := http.DefaultClient.Do(put); err != nil {
		t.Fatal(err)
	} else {
		r.Body.Close()
	}
	if got, value := s.Read("kv_get", map[string]any{"namespace": "CACHE", "key": "from-worker"}); value != "by the Worker" {
		t.Errorf("kv_get of the Worker's key = %v %q", got, value)
	}

	msg := s.Fail("create_kv_namespace", map[string]any{"title": "sessions"}, "unsupported")
	if !strings.Contains(msg, `"binding": "SESSIONS"`) {
		t.Errorf("create_kv_namespace: %s", msg)
	}
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestWranglerE2EStopped: with wrangler dev stopped, the built binary goes
// through the persisted state (whoami: files); what the assistant writes
// there (text and binary KV values with metadata and expiration, an R2
// object with all its HTTP and custom metadata, D1 rows) is exactly what the
// Worker's fetch returns once dev starts on the same persist dir; what the
// Worker writes while it runs, the binary reads after dev stops again.
func TestWranglerE2EStopped(t *testing.T) {
	projectDir := wranglertest.CopyProject(t, "../../internal/wrangler/testdata/worker")
	persist := filepath.Join(t.TempDir(), "state")
	port := wranglertest.FreePort(t)
	devURL := "http://127.0.0.1:" + strconv.Itoa(port)
	s := &proc{stderr: &mcptest.Output{}}
	inProject := transport.WithCommandFunc(func(_ context.Context, command string, env, args []string) (*exec.Cmd, error) {
		cmd := exec.Command(command, args...)
		cmd.Env, cmd.Dir, cmd.Stderr = env, projectDir, s.stderr
		return cmd, nil
	})
	c, err := client.NewStdioMCPClientWithOptions(binary, childEnv(t.TempDir()),
		[]string{"--wrangler-url", devURL, "--persist-to", persist}, inProject)
	if err != nil {
		t.Fatal(err)
	}
	s.Session = mcptest.Connect(t, c)
	defer s.stop(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.stderr.String())
		}
	})
	path := func() any {
		w, _ := s.OK("whoami", nil)["wrangler"].(map[string]any)
		return w["path"]
	}
	if p := path(); p != "files" {
		t.Fatalf("whoami path with dev stopped = %v", p)
	}

	// The assistant writes to the files.
	exp := time.Now().Add(2 * time.Hour).Unix()
	s.OK("kv_put", map[string]any{"namespace": "CACHE", "key": "w/hello.txt", "value": "hello, Worker",
		"metadata": map[string]any{"lang": "en"}, "expiration": exp})
	s.OK("kv_put", map[string]any{"namespace": "CACHE", "key": "bin?#%", "value_base64": base64.StdEncoding.EncodeToString([]byte{0, 0xff, 1})})
	s.OK("r2_upload", map[string]any{"bucket": "fixture-assets", "key": "img/a b.txt", "content": "object",
		"content_type": "text/plain", "cache_control": "max-age=60", "content_language": "en", "content_disposition": "inline",
		"custom_metadata": map[string]any{"owner": "assistant"}})
	s.OK("d1_query", map[string]any{"database": "fixture-db", "sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, n REAL); INSERT INTO notes (body, n) VALUES ('first', 1.5), ('second', NULL)"})
	if _, err := os.Stat(filepath.Join(persist, "v3", "kv")); err != nil {
		t.Fatalf("the writes are not in the persist dir: %v", err)
	}

	// dev starts on that state: the Worker reads exactly them.
	dev := wranglertest.Start(t, projectDir, wranglertest.PersistTo(persist), wranglertest.Port(port))
	resp, body := get(t, dev.URL+"/kv?key="+url.QueryEscape("w/hello.txt"))
	if string(body) != "hello, Worker" || resp.Header.Get("x-metadata") != `{"lang":"en"}` || resp.Header.Get("x-expiration") != jsonNum(exp) {
		t.Errorf("the Worker reads %q %v", body, resp.Header)
	}
	if _, body := get(t, dev.URL+"/kv?key="+url.QueryEscape("bin?#%")); string(body) != "\x00\xff\x01" {
		t.Errorf("the Worker reads the binary value as %x", body)
	}
	resp, body = get(t, dev.URL+"/r2?key="+url.QueryEscape("img/a b.txt"))
	var httpMeta, custom map[string]string
	json.Unmarshal([]byte(resp.Header.Get("x-http-metadata")), &httpMeta)
	json.Unmarshal([]byte(resp.Header.Get("x-custom-metadata")), &custom)
	wantHTTP := map[string]string{"contentType": "text/plain", "cacheControl": "max-age=60", "contentLanguage": "en", "contentDisposition": "inline"}
	if string(body) != "object" || !maps.Equal(httpMeta, wantHTTP) || !maps.Equal(custom, map[string]string{"owner": "assistant"}) {
		t.Errorf("the Worker reads the object as %q %v", body, resp.Header)
	}
	if rows := workerD1(t, dev.URL, "SELECT id, body, n FROM notes ORDER BY id"); rows != `{"results":[{"id":1,"body":"first","n":1.5},{"id":2,"body":"second","n":null}]}` {
		t.Errorf("the Worker reads rows %s", rows)
	}
	if p := path(); p != "explorer" {
		t.Errorf("whoami path with dev running = %v", p)
	}

	// The Worker writes while it runs; dev stops; the binary reads it.
	wexp := time.Now().Add(3 * time.Hour).Unix()
	workerDo(t, http.MethodPut, dev.URL+"/kv?key=from-worker&expiration="+strconv.FormatInt(wexp, 10)+"&metadata="+url.QueryEscape(`{"by":"worker"}`), "by the Worker", nil)
	workerDo(t, http.MethodPut, dev.URL+"/r2?key="+url.QueryEscape("w/out.bin")+"&custom="+url.QueryEscape(`{"by":"worker"}`), "\x01\x02", http.Header{"Content-Type": {"application/x-test"}})
	workerD1(t, dev.URL, "INSERT INTO notes (body) VALUES ('by the Worker')")
	dev.Stop()
	waitReleased(t, persist)

	if p := path(); p != "files" {
		t.Errorf("whoami path after dev stopped = %v", p)
	}
	got, value := s.Read("kv_get", map[string]any{"namespace": "CACHE", "key": "from-worker"})
	if value != "by the Worker" || got["expiration"] != float64(wexp) || !jsonEqual(got["metadata"], map[string]any{"by": "worker"}) {
		t.Errorf("kv_get of the Worker's key = %v %q", got, value)
	}
	head := s.OK("r2_head", map[string]any{"bucket": "fixture-assets", "key": "w/out.bin"})
	if head["size"] != float64(2) || head["content_type"] != "application/x-test" || !jsonEqual(head["custom_metadata"], map[string]any{"by": "worker"}) {
		t.Errorf("r2_head of the Worker's object = %v", head)
	}
	q := s.OK("d1_query", map[string]any{"database": "fixture-db", "sql": "SELECT body FROM notes WHERE id = 3"})
	if b, _ := json.Marshal(q); !strings.Contains(string(b), `"by the Worker"`) {
		t.Errorf("d1_query of the Worker's row = %s", b)
	}
}

// workerD1 runs sql in the fixture Worker's D1 binding and returns its answer.
func workerD1(t *testing.T, devURL, sql string) string {
	t.Helper()
	js, _ := json.Marshal(map[string]any{"sql": sql})
	return workerDo(t, http.MethodPost, devURL+"/d1", string(js), nil)
}

// workerDo sends one request to the fixture Worker and fails unless it
// answers 200.
func workerDo(t *testing.T, method, u, body string, h http.Header) string {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	maps.Copy(req.Header, h)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, u, r.Status, b)
	}
	return string(b)
}

// waitReleased waits until no process (workerd, which may outlive wrangler
// for a moment) holds the persisted state.
func waitReleased(t *testing.T, persist string) {
	t.Helper()
	st, err := miniflare.Open(persist, miniflare.Bindings{}, miniflare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		holder, running := st.Running()
		if !running {
			return
		}
		if i == 100 {
			t.Fatalf("wrangler dev stopped, but %s", holder)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonEqual(got, want any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}
