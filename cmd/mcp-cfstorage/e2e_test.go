package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// binary is the server built once for every end-to-end test, the way users
// run it: CGO_ENABLED=0, talking MCP over its stdin and stdout.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcp-cfstorage-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "mcp-cfstorage")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the server: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one running mcp-cfstorage process with a connected client.
type proc struct {
	*mcptest.Session
	cmd    *exec.Cmd
	stderr *mcptest.Output
}

// childEnv is a clean environment: no Cloudflare credentials leak in from
// the machine running the tests.
func childEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
}

// startPiped starts cmd with a pipe to its stdin and one from its stdout.
func startPiped(t testing.TB, cmd *exec.Cmd) (io.WriteCloser, io.ReadCloser) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdin, stdout
}

func startServer(t testing.TB, home string, args ...string) *proc {
	t.Helper()
	return startServerEnv(t, home, nil, args...)
}

// startServerEnv starts the server with extra environment variables.
func startServerEnv(t testing.TB, home string, env []string, args ...string) *proc {
	t.Helper()
	s := &proc{stderr: &mcptest.Output{}}
	capture := transport.WithCommandFunc(func(_ context.Context, command string, env, args []string) (*exec.Cmd, error) {
		cmd := exec.Command(command, args...)
		cmd.Env = env
		cmd.Stderr = s.stderr
		s.cmd = cmd
		return cmd, nil
	})
	c, err := client.NewStdioMCPClientWithOptions(binary, append(childEnv(home), env...), args, capture)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	s.Session = mcptest.Connect(t, c)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

func (s *proc) stop(t testing.TB) {
	t.Helper()
	if err := s.Client.Close(); err != nil {
		t.Logf("close: %v", err)
	}
}

func pngFile(t testing.TB, path string) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for x := range 16 {
		for y := range 16 {
			img.Set(x, y, color.NRGBA{R: uint8(x * 16), G: uint8(y * 16), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSeedWalkthrough drives the tutorial this product grew from over real
// stdio: a KV namespace with configuration, an R2 bucket with a text file
// and a logo, listing, downloads, copies and deletes, then a restart that
// must find everything again.
func TestSeedWalkthrough(t *testing.T) {
	home, data, files := t.TempDir(), t.TempDir(), t.TempDir()
	args := []string{"--backend", "local", "--data-dir", data, "--files-root", files, "--log-level", "debug"}
	s := startServer(t, home, args...)

	who := s.OK("whoami", nil)
	if who["backend"] != "local" || who["data_dir"] != data {
		t.Fatalf("whoami = %v", who)
	}

	// 1. A KV namespace with configuration values.
	ns := s.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	nsID := ns["id"].(string)
	s.OK("kv_put", map[string]any{"namespace": "site-config", "key": "site-title", "value": "My Cloudflare Site",
		"metadata": map[string]any{"updated_by": "assistant"}})
	s.OK("kv_put", map[string]any{"namespace": "site-config", "key": "cache:api-response", "value": `{"ok":true}`,
		"expiration_ttl": 3600})
	var entries []any
	for i := range 12 {
		entries = append(entries, map[string]any{"key": fmt.Sprintf("config:feature-%02d", i), "value": "on",
			"metadata": map[string]any{"n": i}})
	}
	s.OK("kv_bulk_put", map[string]any{"namespace": nsID, "entries": entries})
	page1 := s.OK("kv_list", map[string]any{"namespace": "site-config", "prefix": "config:", "limit": 10})
	page2 := s.OK("kv_list", map[string]any{"namespace": "site-config", "prefix": "config:", "limit": 10, "cursor": page1["cursor"]})
	if n1, n2 := len(page1["keys"].([]any)), len(page2["keys"].([]any)); n1 != 10 || n2 != 2 || page2["cursor"] != nil {
		t.Fatalf("pages of %d and %d keys (cursor %v), want 10 and 2 and no cursor", n1, n2, page2["cursor"])
	}
	ttl := s.OK("kv_get", map[string]any{"namespace": "site-config", "key": "cache:api-response", "encoding": "json"})
	if ttl["expiration"] == nil {
		t.Error("TTL key has no expiration")
	}

	// 2. An R2 bucket with a text file and an image.
	s.OK("create_r2_bucket", map[string]any{"name": "my-assets"})
	readme := []byte("# my-assets\nStatic files for the site.\n")
	if err := os.WriteFile(filepath.Join(files, "README.md"), readme, 0o600); err != nil {
		t.Fatal(err)
	}
	logo := pngFile(t, filepath.Join(files, "logo.png"))
	s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "docs/README.md", "file_path": filepath.Join(files, "README.md"),
		"content_type": "text/markdown"})
	up := s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "images/logo.png", "file_path": "logo.png"})
	if up["content_type"] != "image/png" {
		t.Errorf("logo content type %v", up["content_type"])
	}
	listing := s.OK("r2_list", map[string]any{"bucket": "my-assets", "delimiter": ""})
	if objs := listing["objects"].([]any); len(objs) != 2 {
		t.Fatalf("listing = %v", listing)
	}

	// 3. Download both, byte-exact, inline and to files.
	_, textValue := s.Read("r2_download", map[string]any{"bucket": "my-assets", "key": "docs/README.md"})
	if textValue != string(readme) {
		t.Errorf("inline text = %q", textValue)
	}
	for key, want := range map[string][]byte{"docs/README.md": readme, "images/logo.png": logo} {
		out := strings.ReplaceAll(key, "/", "_") + ".out"
		s.OK("r2_download", map[string]any{"bucket": "my-assets", "key": key, "save_to": out})
		got, err := os.ReadFile(filepath.Join(files, out))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: downloaded bytes differ (err %v)", key, err)
		}
	}
	head := s.OK("r2_head", map[string]any{"bucket": "my-assets", "key": "images/logo.png"})
	if head["size"] != float64(len(logo)) {
		t.Errorf("head = %v", head)
	}

	// 4. Copy, then delete with confirmation.
	s.OK("r2_copy", map[string]any{"source_bucket": "my-assets", "source_key": "images/logo.png", "bucket": "my-assets", "key": "images/logo-v2.png"})
	s.OK("create_r2_bucket", map[string]any{"name": "scratch"})
	s.Fail("delete_r2_bucket", map[string]any{"bucket": "scratch", "confirm": "my-assets"}, "invalid_argument")
	s.OK("delete_r2_bucket", map[string]any{"bucket": "scratch", "confirm": "scratch"})
	s.OK("create_kv_namespace", map[string]any{"title": "scratch"})
	s.OK("delete_kv_namespace", map[string]any{"namespace": "scratch", "confirm": "scratch"})
	s.OK("r2_delete", map[string]any{"bucket": "my-assets", "keys": []string{"images/logo-v2.png"}})

	s.stop(t)
	logs := s.stderr.String()
	if !strings.Contains(logs, "backend chosen") || !strings.Contains(logs, "backend=local") {
		t.Errorf("stderr does not say which backend was chosen:\n%s", logs)
	}

	// 5. A new process on the same data directory finds everything.
	s2 := startServer(t, home, args...)
	got, gotValue := s2.Read("kv_get", map[string]any{"namespace": "site-config", "key": "site-title"})
	if gotValue != "My Cloudflare Site" || got["metadata"].(map[string]any)["updated_by"] != "assistant" {
		t.Fatalf("after restart kv_get = %v", got)
	}
	s2.OK("r2_download", map[string]any{"bucket": "my-assets", "key": "images/logo.png", "save_to": "after-restart.png"})
	if b, _ := os.ReadFile(filepath.Join(files, "after-restart.png")); !bytes.Equal(b, logo) {
		t.Error("logo differs after restart")
	}
	after := s2.OK("r2_list", map[string]any{"bucket": "my-assets", "delimiter": ""})
	if n := len(after["objects"].([]any)); n != 2 {
		t.Errorf("after restart %d objects, want 2 (the copy was deleted)", n)
	}
	namespaces := s2.OK("list_kv_namespaces", nil)["namespaces"].([]any)
	if len(namespaces) != 1 {
		t.Errorf("after restart namespaces = %v", namespaces)
	}
	s2.stop(t)
}

func TestVersionAndHelp(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "mcp-cfstorage ") {
		t.Fatalf("version: %q %v", out, err)
	}
	// --version says the same, wherever it stands (issue 12, item 9).
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--backend", "local", "--version"}} {
		if v, err := exec.Command(binary, args...).Output(); err != nil || string(v) != string(out) {
			t.Errorf("%v: %q %v, want %q", args, v, err, out)
		}
	}
	help, err := exec.Command(binary, "--help").Output()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"Workers KV, R2 and D1", "--version", "--backend", "CFSTORAGE_BACKEND", "--files-root", "CFSTORAGE_FILES_ROOT", "--max-inline-bytes", "CLOUDFLARE_API_TOKEN"} {
		if !strings.Contains(string(help), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
	bad := exec.Command(binary, "--backend", "nope")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "--backend") && !strings.Contains(string(out), "auto, local, cloudflare or wrangler") {
		t.Errorf("bad flag: %v %s", err, out)
	}
}

// TestStartIsLazy: answering tools/list must not create the data directory.
func TestStartIsLazy(t *testing.T) {
	data := filepath.Join(t.TempDir(), "not-yet")
	s := startServer(t, t.TempDir(), "--backend", "local", "--data-dir", data)
	if len(s.Tools) == 0 {
		t.Fatal("no tools")
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("data dir exists before any storage call: %v", err)
	}
	s.OK("list_kv_namespaces", nil)
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("data dir not created by the first storage call: %v", err)
	}
	s.stop(t)
}

// valueFor derives a value from its key, so a reader can check any write.
func valueFor(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return bytes.Repeat(sum[:], 1+int(sum[0])%64)
}

// TestCrashDuringConcurrentWrites kills the server with SIGKILL while
// several clients write, then checks that every write it acknowledged is
// there, byte-exact, in a new process on the same data directory.
func TestCrashDuringConcurrentWrites(t *testing.T) {
	home, data := t.TempDir(), t.TempDir()
	args := []string{"--backend", "local", "--data-dir", data}
	setup := startServer(t, home, args...)
	setup.OK("create_kv_namespace", map[string]any{"title": "crash"})
	setup.OK("create_r2_bucket", map[string]any{"name": "crash"})
	setup.stop(t)

	var mu sync.Mutex
	acked := map[string]bool{} // "kv/<key>" or "r2/<key>"
	for round := range 3 {
		s := startServer(t, home, args...)
		var wg sync.WaitGroup
		ctx, cancel := context.WithCancel(context.Background())
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					key := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					req := mcp.CallToolRequest{}
					if w%2 == 0 {
						req.Params.Name = "kv_put"
						req.Params.Arguments = map[string]any{"namespace": "crash", "key": key, "value_base64": base64.StdEncoding.EncodeToString(valueFor(key))}
					} else {
						req.Params.Name = "r2_upload"
						req.Params.Arguments = map[string]any{"bucket": "crash", "key": key, "content_base64": base64.StdEncoding.EncodeToString(valueFor(key))}
					}
					res, err := s.Client.CallTool(ctx, req)
					if err != nil || res.IsError {
						return // the server is gone
					}
					mu.Lock()
					acked[req.Params.Name[:2]+"/"+key] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(300+200*round) * time.Millisecond)
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cancel()
		wg.Wait()
		s.Client.Close()
	}
	if len(acked) < 20 {
		t.Fatalf("only %d writes were acknowledged before the kills; the test proves little", len(acked))
	}

	s := startServer(t, home, args...)
	for id := range acked {
		kind, key, _ := strings.Cut(id, "/")
		want := valueFor(key)
		if kind == "kv" {
			got, gotValue := s.Read("kv_get", map[string]any{"namespace": "crash", "key": key, "encoding": "base64"})
			if got["found"] != true {
				t.Fatalf("acknowledged KV write %s lost", key)
			}
			if b, _ := base64.StdEncoding.DecodeString(gotValue); !bytes.Equal(b, want) {
				t.Fatalf("KV %s torn", key)
			}
			continue
		}
		_, gotValue := s.Read("r2_download", map[string]any{"bucket": "crash", "key": key, "encoding": "base64"})
		if b, _ := base64.StdEncoding.DecodeString(gotValue); !bytes.Equal(b, want) {
			t.Fatalf("R2 %s torn or lost", key)
		}
	}
	t.Logf("%d acknowledged writes across 3 kills all survived", len(acked))
	s.stop(t)
}
