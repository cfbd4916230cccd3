// Package wranglertest starts a real `wrangler dev` (Cloudflare's workerd
// runtime, through Miniflare) for tests. The binary comes from WRANGLER_BIN,
// which test/wrangler/run.sh sets after installing the pinned wrangler and
// Node 22; without it the tests that need one are skipped, and with
// CFSTORAGE_REQUIRE_WRANGLER=1 (set by that script) they fail instead, so a
// run that should have exercised the real runtime cannot pass without it.
package wranglertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// SkipMessage is what a test that needs wrangler says when it is skipped.
const SkipMessage = "SKIPPED: needs a real wrangler dev; run test/wrangler/run.sh"

// readyTimeout bounds the start: about 10 s here offline, more on a busy
// machine.
const readyTimeout = 120 * time.Second

// ExplorerPaths are where the Local Explorer API has been served: wrangler
// 4.164.0 answers at both.
var ExplorerPaths = []string{"/cdn-cgi/explorer/api", "/cdn-cgi/local/explorer/api"}

// Bin returns the wrangler binary of WRANGLER_BIN, or skips the test (fails
// it under CFSTORAGE_REQUIRE_WRANGLER=1) when there is none.
func Bin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("WRANGLER_BIN")
	if bin == "" {
		if os.Getenv("CFSTORAGE_REQUIRE_WRANGLER") == "1" {
			t.Fatal("CFSTORAGE_REQUIRE_WRANGLER=1 but WRANGLER_BIN is unset: " + SkipMessage)
		}
		t.Skip(SkipMessage)
	}
	return bin
}

// Dev is a running `wrangler dev`.
type Dev struct {
	// URL is where the Worker and the Local Explorer answer:
	// http://127.0.0.1:<port>.
	URL string
	// ProjectDir is the Worker project dev runs in.
	ProjectDir string
	// PersistDir is the --persist-to directory of its state.
	PersistDir string

	t    testing.TB
	cmd  *exec.Cmd
	out  *mcptest.Output
	done chan struct{}
	once sync.Once
}

type options struct {
	persistTo string
	env       string
	port      int
}

// Option changes how Start runs wrangler dev.
type Option func(*options)

// PersistTo keeps the state in dir (wrangler's --persist-to); by default it
// is a fresh temporary directory, so tests never share state by accident.
func PersistTo(dir string) Option { return func(o *options) { o.persistTo = dir } }

// Env selects an environment of the config (wrangler's --env).
func Env(name string) Option { return func(o *options) { o.env = name } }

// Port listens on port instead of a free one, e.g. to restart dev where a
// backend already points.
func Port(port int) Option { return func(o *options) { o.port = port } }

// CopyProject copies the Worker project at src into a temporary directory and
// returns it, so that wrangler's own files (.wrangler/tmp) land outside the
// repository's testdata.
func CopyProject(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	// A state or build directory of an earlier manual run is not the test's.
	if err := os.RemoveAll(filepath.Join(dst, ".wrangler")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return dst
}

// Start runs `wrangler dev` in projectDir on a free loopback port, waits until
// its Local Explorer answers, and stops it when the test ends.
func Start(t testing.TB, projectDir string, opts ...Option) *Dev {
	t.Helper()
	bin := Bin(t)
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.persistTo == "" {
		o.persistTo = t.TempDir()
	}
	if o.port == 0 {
		o.port = FreePort(t)
	}
	args := []string{"dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(o.port),
		// Several devs may run at once: the default inspector port 9229
		// would collide.
		"--inspector-port", strconv.Itoa(FreePort(t)),
		"--persist-to", o.persistTo,
		"--show-interactive-dev-session=false"}
	if o.env != "" {
		args = append(args, "--env", o.env)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = projectDir
	logDir := t.TempDir()
	cmd.Env = append(os.Environ(),
		"WRANGLER_SEND_METRICS=false",
		"WRANGLER_LOG_PATH="+logDir, // not ~/.config/.wrangler/logs
		"CI=1",                      // no prompts, no hotkeys
	)
	out := &mcptest.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s dev: %v", bin, err)
	}
	d := &Dev{
		URL:        "http://127.0.0.1:" + strconv.Itoa(o.port),
		ProjectDir: projectDir,
		PersistDir: o.persistTo,
		t:          t,
		cmd:        cmd,
		out:        out,
		done:       make(chan struct{}),
	}
	go func() { _ = cmd.Wait(); close(d.done) }()
	t.Cleanup(d.Stop)
	if err := d.waitReady(); err != nil {
		d.Stop()
		t.Fatalf("wrangler dev in %s: %v\n--- wrangler output ---\n%s", projectDir, err, out.String())
	}
	return d
}

// waitReady polls the Local Explorer until it answers 200.
func (d *Dev) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range ExplorerPaths {
			resp, err := client.Get(d.URL + p)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("exited before it was ready (%v)", d.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not ready at %s after %v", d.URL, readyTimeout)
		case <-tick.C:
		}
	}
}

// Output is what wrangler printed so far.
func (d *Dev) Output() string { return d.out.String() }

// Stop ends wrangler dev and every process it started (workerd), and waits
// for them. It is safe to call more than once; the test's cleanup calls it.
func (d *Dev) Stop() {
	d.once.Do(func() {
		signalGroup(d.cmd, false)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			signalGroup(d.cmd, true)
			<-d.done
		}
		// workerd may outlive its parent for a moment: make sure the group
		// is gone so the port and the state files are free.
		signalGroup(d.cmd, true)
		if d.t.Failed() {
			d.t.Logf("--- wrangler dev output (%s) ---\n%s", d.URL, d.out.String())
		}
	})
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
