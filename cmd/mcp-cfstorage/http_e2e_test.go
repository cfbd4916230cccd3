package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

const httpToken = "e2e-bearer-token-0123456789abcdef"

// httpProc is the built server running with --transport http on a free
// loopback port.
type httpProc struct {
	cmd    *exec.Cmd
	url    string // the Streamable HTTP endpoint
	stderr *mcptest.Output
}

var servingLine = regexp.MustCompile(`mcp=(http://\S+/mcp)`)

// startHTTPServer starts the binary over HTTP and waits for it to say where
// it listens. It is stopped with SIGTERM when the test ends.
func startHTTPServer(t testing.TB, args ...string) *httpProc {
	t.Helper()
	return startHTTPServerEnv(t, nil, args...)
}

// startHTTPServerEnv is startHTTPServer with extra environment variables.
func startHTTPServerEnv(t testing.TB, env []string, args ...string) *httpProc {
	t.Helper()
	args = append([]string{"--transport", "http", "--listen", "127.0.0.1:0", "--auth-token", httpToken}, args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(childEnv(t.TempDir()), env...)
	pr, pw := io.Pipe()
	p := &httpProc{cmd: cmd, stderr: &mcptest.Output{}}
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		pw.Close()
		if t.Failed() {
			t.Logf("server stderr:\n%s", p.stderr.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not say where it listens:\n%s", p.stderr.String())
	}
	return p
}

// connect opens a Streamable HTTP client session with the token.
func (p *httpProc) connect(t testing.TB, opts ...client.ClientOption) *mcptest.Session {
	t.Helper()
	return mcptest.Connect(t, client.NewClient(p.transport(t), opts...))
}

func (p *httpProc) transport(t testing.TB) *transport.StreamableHTTP {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(p.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + httpToken}))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// end ends a session the way a client says goodbye: DELETE with its id
// (mcp-go's client sends its DELETE without the bearer token), then closes
// the client.
func (p *httpProc) end(t testing.TB, s *mcptest.Session) {
	t.Helper()
	if id := s.Client.GetSessionId(); id != "" {
		req, _ := http.NewRequest(http.MethodDelete, p.url, nil)
		req.Header.Set("Authorization", "Bearer "+httpToken)
		req.Header.Set("Mcp-Session-Id", id)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("DELETE of session %s: %d", id, res.StatusCode)
		}
	}
	s.Client.Close()
}

// forgingHTTP is a Streamable HTTP client transport that forges roots.
type forgingHTTP struct {
	*transport.StreamableHTTP
	mcptest.RootsForger
}

func (f *forgingHTTP) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	return f.Send(ctx, req, f.StreamableHTTP.SendRequest)
}

// TestHTTPClientRootsDoNotWiden: an HTTP client is remote, so the roots it
// announces never widen --files-root (DESIGN §3): a client with the token
// that announces / can neither upload /etc/hostname nor save outside, in
// either protocol era, with and without sessions; and roots it slips into
// inputResponses unasked are ignored too.
func TestHTTPClientRootsDoNotWiden(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
			name := proto
			if stateless {
				name += "/stateless"
			}
			t.Run(name, func(t *testing.T) {
				allowed, outside := t.TempDir(), t.TempDir()
				inAllowed := filepath.Join(allowed, "ok.txt")
				secret := filepath.Join(outside, "secret.txt")
				for path, text := range map[string]string{inAllowed: "allowed", secret: "not for remote eyes"} {
					if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				args := []string{"--backend", "local", "--data-dir", t.TempDir(), "--files-root", allowed, "--log-level", "debug"}
				if stateless {
					args = append(args, "--stateless")
				}
				p := startHTTPServer(t, args...)
				f := &forgingHTTP{StreamableHTTP: p.transport(t)}
				s := mcptest.Connect(t, client.NewClient(f, client.WithRootsHandler(&rootsHandler{dir: "/"}), client.WithProtocolVersion(proto)))
				s.OK("create_r2_bucket", map[string]any{"name": "uploads"})
				upload := func(path string) map[string]any {
					return map[string]any{"bucket": "uploads", "key": filepath.Base(path), "file_path": path}
				}
				s.OK("r2_upload", upload(inAllowed))
				s.Fail("r2_upload", upload("/etc/hostname"), "permission_denied")
				s.Fail("r2_upload", upload(secret), "permission_denied")
				saved := filepath.Join(outside, "saved.txt")
				s.Fail("r2_download", map[string]any{"bucket": "uploads", "key": "ok.txt", "save_to": saved}, "permission_denied")
				if _, err := os.Stat(saved); !os.IsNotExist(err) {
					t.Errorf("save_to outside --files-root wrote %s: %v", saved, err)
				}
				who := s.OK("whoami", nil)
				if dirs := who["files_roots"].([]any); len(dirs) != 1 {
					t.Errorf("whoami files_roots = %v, want --files-root alone", dirs)
				}

				// Roots the server never asked for, put straight into the call.
				for _, state := range []string{"", "made-up-state"} {
					f.Set(state, "/")
					s.Fail("r2_upload", upload(secret), "permission_denied")
				}
				f.Set("")
				if logs := p.stderr.String(); strings.Contains(logs, "level=WARN") {
					t.Errorf("warnings in the log:\n%s", logs)
				}
			})
		}
	}
}

// TestHTTPNoRootsMachinery: over HTTP the server never asks a client for
// roots, so sessions of clients, with roots or without, using file
// arguments or whoami leave no warning in the log.
func TestHTTPNoRootsMachinery(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
			allowed := t.TempDir()
			if err := os.WriteFile(filepath.Join(allowed, "a.txt"), []byte("a"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"--backend", "local", "--data-dir", t.TempDir(), "--files-root", allowed, "--log-level", "debug"}
			if stateless {
				args = append(args, "--stateless")
			}
			p := startHTTPServer(t, args...)
			for i := range 3 {
				opts := []client.ClientOption{client.WithProtocolVersion(proto)}
				if i == 1 {
					opts = append(opts, client.WithRootsHandler(&rootsHandler{dir: t.TempDir()}))
				}
				s := p.connect(t, opts...)
				s.OK("whoami", nil)
				s.OK("create_r2_bucket", map[string]any{"name": fmt.Sprintf("bucket-%d", i)})
				s.OK("r2_upload", map[string]any{"bucket": fmt.Sprintf("bucket-%d", i), "key": "a", "file_path": filepath.Join(allowed, "a.txt")})
			}
			if logs := p.stderr.String(); strings.Contains(logs, "level=WARN") || strings.Contains(logs, "roots") {
				t.Errorf("stateless=%v %s: roots or warnings in the log:\n%s", stateless, proto, logs)
			}
		}
	}
}
