package wranglertest_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

// TestStartStopRestart proves the harness: the fixture Worker starts under a
// real wrangler dev, both Local Explorer paths answer, what the Worker writes
// is kept in PersistDir across a stop and a restart, and Stop frees the port.
func TestStartStopRestart(t *testing.T) {
	project := wranglertest.CopyProject(t, "../testdata/worker")
	dev := wranglertest.Start(t, project)

	for _, p := range wranglertest.ExplorerPaths {
		if code, body := do(t, http.MethodGet, dev.URL+p, ""); code != http.StatusOK || !strings.Contains(body, `"openapi"`) {
			t.Errorf("GET %s = %d %.80q, want 200 and the OpenAPI document", p, code, body)
		}
	}
	kv := dev.URL + "/kv?key=" + url.QueryEscape("w/hello world?.txt")
	if code, _ := do(t, http.MethodGet, kv, ""); code != http.StatusNotFound {
		t.Fatalf("GET before PUT = %d, want 404", code)
	}
	if code, body := do(t, http.MethodPut, kv, "hello"); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	dev.Stop()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(dev.URL, "http://"), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still answers after Stop", dev.URL)
	}

	again := wranglertest.Start(t, project, wranglertest.PersistTo(dev.PersistDir))
	kv = again.URL + "/kv?key=" + url.QueryEscape("w/hello world?.txt")
	if code, body := do(t, http.MethodGet, kv, ""); code != http.StatusOK || body != "hello" {
		t.Fatalf("GET after restart = %d %q, want 200 \"hello\"", code, body)
	}
}

func do(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
