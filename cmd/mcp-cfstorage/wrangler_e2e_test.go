package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
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
	s := &proc{stderr: &lockedBuffer{}}
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
	if got := s.OK("kv_get", map[string]any{"namespace": "CACHE", "key": "from-worker"}); got["value"] != "by the Worker" {
		t.Errorf("kv_get of the Worker's key = %v", got)
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
