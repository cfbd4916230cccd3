package main

import (
	"bytes"
	"encoding/base64"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

// fakeAccount is a Cloudflare account in the test process: cffake serves
// the REST API, gofakes3 R2's S3 API, and buckets made through either exist
// in both. The server under test reaches them through the same environment
// variables users set for proxies.
func fakeAccount(t *testing.T) (env []string, api *cffake.Server) {
	t.Helper()
	objects := s3mem.New()
	s3 := httptest.NewServer(gofakes3.New(objects).Server())
	t.Cleanup(s3.Close)
	api = cffake.Start(t, cffake.WithBucketHooks(cffake.BucketHooks{
		Created: func(b cffake.BucketRef) error { return objects.CreateBucket(b.Name) },
		Deleted: func(b cffake.BucketRef) error { return objects.DeleteBucket(b.Name) },
		ObjectCount: func(b cffake.BucketRef) (int, error) {
			list, err := objects.ListBucket(b.Name, nil, gofakes3.ListBucketPage{MaxKeys: 1})
			if err != nil {
				return 0, err
			}
			return len(list.Contents), nil
		},
	}))
	return []string{
		"CLOUDFLARE_API_TOKEN=" + cffake.DefaultToken,
		"CLOUDFLARE_BASE_URL=" + api.BaseURL(),
		"R2_ENDPOINT=" + s3.URL,
	}, api
}

// TestCloudflareBackendOverStdio runs the built binary against a fake
// Cloudflare account: --backend auto picks cloudflare from the token, the
// account is found without CLOUDFLARE_ACCOUNT_ID, S3 credentials are derived
// from the token, and the walk-through's calls work; the token appears in
// no result and no log line.
func TestCloudflareBackendOverStdio(t *testing.T) {
	env, api := fakeAccount(t)
	files := t.TempDir()
	s := startServerEnv(t, t.TempDir(), env, "--files-root", files, "--log-level", "debug")

	who := s.OK("whoami", nil)
	if who["backend"] != "cloudflare" || who["account_id"] != cffake.DefaultAccountID || who["token_status"] != "active" {
		t.Fatalf("whoami = %v", who)
	}
	ns := s.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	s.OK("kv_put", map[string]any{"namespace": "site-config", "key": "pages/home?v=1", "value": "My Site",
		"expiration_ttl": 3600, "metadata": map[string]any{"by": "e2e"}})
	got, gotValue := s.Read("kv_get", map[string]any{"namespace": ns["id"], "key": "pages/home?v=1"})
	if gotValue != "My Site" || got["metadata"].(map[string]any)["by"] != "e2e" {
		t.Fatalf("kv_get = %v", got)
	}
	if api.Count("PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}") != 1 {
		t.Errorf("the key with / and ? did not reach the value route as one segment: %v", api.Counts())
	}

	s.OK("create_r2_bucket", map[string]any{"name": "my-assets"})
	logo := pngFile(t, filepath.Join(files, "logo.png"))
	s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "images/logo.png", "file_path": "logo.png"})
	_, imgValue := s.Read("r2_download", map[string]any{"bucket": "my-assets", "key": "images/logo.png", "encoding": "base64"})
	if b, _ := base64.StdEncoding.DecodeString(imgValue); !bytes.Equal(b, logo) {
		t.Fatal("logo differs after a round trip through the fake R2")
	}
	s.Fail("delete_r2_bucket", map[string]any{"bucket": "my-assets", "confirm": "my-assets"}, "conflict")
	pre := s.OK("r2_presign", map[string]any{"bucket": "my-assets", "key": "images/logo.png", "expires_in": 600})
	if !strings.Contains(pre["url"].(string), "X-Amz-Expires=600") {
		t.Errorf("presigned URL = %v", pre["url"])
	}
	s.stop(t)

	logs := s.stderr.String()
	if !strings.Contains(logs, "backend=cloudflare") {
		t.Errorf("the log does not say the cloudflare backend was chosen:\n%s", logs)
	}
	if strings.Contains(logs, cffake.DefaultToken) || strings.Contains(pre["url"].(string), cffake.DefaultToken) {
		t.Fatal("the API token leaked into the logs or a result")
	}
}

func TestCheckCommand(t *testing.T) {
	env, _ := fakeAccount(t)
	cmd := exec.Command(binary, "check")
	cmd.Env = append(childEnv(t.TempDir()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check against a healthy fake account: %v\n%s", err, out)
	}
	for _, want := range []string{"API token", "Workers KV", "R2 objects (S3)", "D1", "all 6 checks passed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	bad := exec.Command(binary, "check", "--data-dir", "/proc/no-such-dir")
	bad.Env = childEnv(t.TempDir())
	out, err = bad.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "fix:") {
		t.Fatalf("check with an unusable data dir: %v\n%s", err, out)
	}
}

// TestKVOnlyToolsetNeverCallsR2: a user whose token may use only KV runs
// --toolsets kv,account. Tools, resources/list and the overview prompt
// work, and no R2 or D1 route of the API is ever requested.
func TestKVOnlyToolsetNeverCallsR2(t *testing.T) {
	env, api := fakeAccount(t)
	s := startServerEnv(t, t.TempDir(), env, "--toolsets", "kv,account")
	if _, ok := s.Tools["r2_list"]; ok {
		t.Fatal("r2_list offered under --toolsets kv,account")
	}
	s.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	s.OK("kv_put", map[string]any{"namespace": "site-config", "key": "title", "value": "My Site"})
	list, err := s.Client.ListResources(t.Context(), mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Resources) != 1 || !strings.HasPrefix(list.Resources[0].URI, "kv://") {
		t.Errorf("resources/list = %+v, want the one namespace", list.Resources)
	}
	req := mcp.GetPromptRequest{}
	req.Params.Name = "storage_overview"
	if _, err := s.Client.GetPrompt(t.Context(), req); err != nil {
		t.Fatalf("storage_overview: %v", err)
	}
	s.stop(t)
	counts := api.Counts()
	if len(counts) == 0 {
		t.Fatal("the fake saw no requests at all")
	}
	for route := range counts {
		if strings.Contains(route, "/r2/") || strings.Contains(route, "/d1/") {
			t.Errorf("%s requested under --toolsets kv,account (all: %v)", route, counts)
		}
	}
}

// TestCheckFollowsToolsets: check tries only what --toolsets serves, and
// says what it skipped.
func TestCheckFollowsToolsets(t *testing.T) {
	env, api := fakeAccount(t)
	cmd := exec.Command(binary, "check", "--toolsets", "kv,account")
	cmd.Env = append(childEnv(t.TempDir()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check --toolsets kv,account: %v\n%s", err, out)
	}
	for _, want := range []string{"Workers KV", "skip R2", "skip D1", "all 3 checks passed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	for route := range api.Counts() {
		if strings.Contains(route, "/r2/") || strings.Contains(route, "/d1/") {
			t.Errorf("check requested %s under --toolsets kv,account", route)
		}
	}
}

// TestR2Jurisdiction: --r2-jurisdiction eu works in the EU jurisdiction,
// whose buckets a default server does not list; a bucket asked for in
// another jurisdiction is refused with the flag to use. (Objects are not
// checked across jurisdictions: R2_ENDPOINT points both servers at the one
// S3 server of the test.)
func TestR2Jurisdiction(t *testing.T) {
	env, _ := fakeAccount(t)
	eu := startServerEnv(t, t.TempDir(), env, "--r2-jurisdiction", "eu")
	made := eu.OK("create_r2_bucket", map[string]any{"name": "eu-assets"})
	if made["jurisdiction"] != "eu" {
		t.Errorf("create_r2_bucket in eu = %v", made)
	}
	eu.OK("r2_upload", map[string]any{"bucket": "eu-assets", "key": "a.txt", "content": "hej"})
	if _, got := eu.Read("r2_download", map[string]any{"bucket": "eu-assets", "key": "a.txt"}); got != "hej" {
		t.Errorf("r2_download in eu = %v", got)
	}
	list := eu.OK("list_r2_buckets", nil)["buckets"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["jurisdiction"] != "eu" {
		t.Errorf("list_r2_buckets in eu = %v", list)
	}
	msg := eu.Fail("create_r2_bucket", map[string]any{"name": "us-assets", "jurisdiction": "default"}, "invalid_argument")
	if !strings.Contains(msg, "--r2-jurisdiction default") {
		t.Errorf("refusal of another jurisdiction does not name the flag: %s", msg)
	}
	eu.stop(t)

	def := startServerEnv(t, t.TempDir(), env)
	if list := def.OK("list_r2_buckets", nil)["buckets"].([]any); len(list) != 0 {
		t.Errorf("a default-jurisdiction server lists eu buckets: %v", list)
	}
	def.stop(t)
}
