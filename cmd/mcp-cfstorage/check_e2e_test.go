package main

import (
	"errors"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestCheckOffline: check with the API out of reach (nothing listens on
// the base URL) names the cause and its fix, blames neither the token nor
// its permissions, calls nothing ok that it did not check, and exits 1
// (issue 12, item 5).
func TestCheckOffline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cmd := exec.Command(binary, "check")
	cmd.Env = append(childEnv(t.TempDir()), "CLOUDFLARE_API_TOKEN=offline-token-value-000000000000000000",
		"CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353", "CLOUDFLARE_BASE_URL=http://"+closed+"/client/v4")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("check offline: %v, want exit code 1\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"FAIL Cloudflare API", "connection to " + closed + " refused", "fix: check CLOUDFLARE_BASE_URL",
		"skip API token", "skip account", "skip Workers KV", "skip D1", "skip R2 objects (S3)", "6 not checked"} {
		if !strings.Contains(text, want) {
			t.Errorf("check output lacks %q:\n%s", want, text)
		}
	}
	if regexp.MustCompile(`(?m)^ok `).MatchString(text) || strings.Contains(text, "create an API token") ||
		strings.Contains(text, "give the token") || strings.Contains(text, "retrying") {
		t.Errorf("check offline passes something, blames the token or retries:\n%s", text)
	}
}

// TestOfflineServer: a server whose API cannot be reached still answers
// whoami (backend, account as configured, reachability and why), and
// resources/list fails with the cause rather than listing nothing (issue
// 12, item 5). Over real stdio against the binary.
func TestOfflineServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	const account = "023e105f4ecef8ad9ca31a8372d0c353"
	s := startServerEnv(t, t.TempDir(), []string{"CLOUDFLARE_API_TOKEN=offline-token-value-000000000000000000",
		"CLOUDFLARE_ACCOUNT_ID=" + account, "CLOUDFLARE_BASE_URL=http://" + closed + "/client/v4"})
	who := s.OK("whoami", nil)
	if who["backend"] != "cloudflare" || who["account_id"] != account || who["api_reachable"] != false ||
		!strings.Contains(who["api_error"].(string), "refused") || who["token_status"] != nil {
		t.Errorf("whoami offline = %v", who)
	}
	_, err = s.Client.ListResources(t.Context(), mcp.ListResourcesRequest{})
	if !errors.Is(err, mcp.ErrInternalError) || !strings.Contains(err.Error(), "unavailable: ") ||
		strings.Count(err.Error(), "refused") != 1 {
		t.Errorf("resources/list offline: %v, want an error naming the cause once", err)
	}
}
