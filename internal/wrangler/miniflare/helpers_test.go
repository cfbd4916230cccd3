package miniflare

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The bindings of testdata/worker/wrangler.jsonc, as wrangler dev names
// them.
var (
	fixtureKV  = Namespace{ID: "0f2ac74b498b48028cb68387c421e279", Title: "KV"}
	fixtureKV2 = Namespace{ID: "seeded-before-dev", Title: "KV2"}
	fixtureDB  = Database{ID: "4f0b8a3e-2d1c-4e5f-9a6b-7c8d9e0f1a2b", Name: "fixture-db"}
	fixtureDB2 = Database{ID: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", Name: "seeded-db"}
	fixture    = Bindings{
		KV: []Namespace{fixtureKV, fixtureKV2},
		R2: []Bucket{{Name: "fixture-bucket"}, {Name: "seeded-bucket"}},
		D1: []Database{fixtureDB, fixtureDB2},
	}
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, fixture, Options{ExplorerURL: "http://127.0.0.1:8787/cdn-cgi/explorer/api"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wranglerBin is the wrangler that test/wrangler/run.sh names, or skips
// the test where that script did not run.
func wranglerBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("WRANGLER_BIN")
	if bin == "" {
		if os.Getenv("CFSTORAGE_REQUIRE_WRANGLER") == "1" {
			t.Fatal("CFSTORAGE_REQUIRE_WRANGLER=1 but WRANGLER_BIN is not set")
		}
		t.Skip("SKIPPED: needs a real wrangler dev; run test/wrangler/run.sh")
	}
	return bin
}

// fixtureProject copies testdata/worker into a temp dir: wrangler dev
// writes .wrangler/ into the project it runs.
func fixtureProject(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "worker")
	err := filepath.WalkDir("testdata/worker", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/worker", path)
		if d.IsDir() {
			if d.Name() == ".wrangler" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// dev is a running `wrangler dev` of the fixture.
type dev struct {
	t   *testing.T
	url string
	cmd *exec.Cmd
	out *syncBuffer
}

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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startDev starts wrangler dev in project with its state in persist, and
// waits until the Worker answers.
func startDev(t *testing.T, project, persist string) *dev {
	t.Helper()
	bin := wranglerBin(t)
	port := freePort(t)
	cmd := exec.Command(bin, "dev", "--ip", "127.0.0.1", "--port", fmt.Sprint(port), "--persist-to", persist)
	cmd.Dir = project
	cmd.Env = append(os.Environ(), "WRANGLER_SEND_METRICS=false", "CI=1",
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that stop reaches workerd too
	d := &dev{t: t, url: fmt.Sprintf("http://127.0.0.1:%d/", port), cmd: cmd, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	deadline := time.Now().Add(120 * time.Second)
	for {
		res, err := http.Get(d.url)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) == "ready\n" {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("wrangler dev did not answer at %s within 120 s; its output:\n%s", d.url, d.out.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// stop ends wrangler dev and its workerd (its process group), and waits.
func (d *dev) stop() {
	if d.cmd.Process == nil || d.cmd.ProcessState != nil {
		return
	}
	pgid := d.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGINT)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// workerd may outlive wrangler for a moment: wait until the group is gone.
	for i := 0; i < 100 && syscall.Kill(-pgid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// do asks the fixture Worker to run one operation, and returns its answer.
func (d *dev) do(op map[string]any) map[string]any {
	d.t.Helper()
	js, _ := json.Marshal(op)
	res, err := http.Post(d.url, "application/json", bytes.NewReader(js))
	if err != nil {
		d.t.Fatalf("%v: %v", op["op"], err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		d.t.Fatalf("%v: decoding the answer: %v", op["op"], err)
	}
	if res.StatusCode != 200 {
		d.t.Fatalf("%v: %d %v\nwrangler output:\n%s", op["op"], res.StatusCode, out["error"], d.out.String())
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64: %v", v)
	}
	return b
}

// pattern is the fixture Worker's pattern(n, seed).
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*31 + seed) % 251)
	}
	return b
}

func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kvGet(t *testing.T, s *Store, ns, key string) (*storage.KVValue, []byte) {
	t.Helper()
	v, err := s.KV().Get(context.Background(), ns, key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	return v, readAll(t, v.Body)
}

func mustCode(t *testing.T, err error, code storage.Code, contains ...string) {
	t.Helper()
	if storage.CodeOf(err) != code {
		t.Fatalf("got %v, want a %s error", err, code)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Fatalf("error %q does not say %q", err, c)
		}
	}
}
