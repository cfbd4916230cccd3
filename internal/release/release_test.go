package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/config"
)

const repoRoot = "../.."

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// serverBinary builds the server once for these tests: static, as releases are.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "release-test")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", built, "./cmd/mcp-cfstorage")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			built = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, built)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" && buildErr == nil {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	bin, readme := filepath.Join(dir, "bin"), filepath.Join(dir, "README.md")
	os.WriteFile(bin, []byte("\x7fELF binary"), 0o600)
	os.WriteFile(readme, []byte("# read me\n"), 0o600)
	files := []archiveFile{{name: "mcp-cfstorage", path: bin, mode: 0o755}, {name: "README.md", path: readme, mode: 0o644}}
	mtime := time.Date(2026, 12, 2, 16, 50, 3, 0, time.UTC)
	want := map[string]struct {
		mode int64
		data string
	}{"mcp-cfstorage": {0o755, "\x7fELF binary"}, "README.md": {0o644, "# read me\n"}}

	for _, ext := range []string{".tar.gz", ".zip"} {
		t.Run(ext, func(t *testing.T) {
			a, b := filepath.Join(dir, "a"+ext), filepath.Join(dir, "b"+ext)
			for _, p := range []string{a, b} {
				if err := writeArchive(p, files, mtime); err != nil {
					t.Fatal(err)
				}
			}
			ab, _ := os.ReadFile(a)
			bb, _ := os.ReadFile(b)
			if !bytes.Equal(ab, bb) {
				t.Error("the same files gave different archives: not reproducible")
			}
			got := map[string]struct {
				mode int64
				data string
			}{}
			if ext == ".zip" {
				zr, err := zip.NewReader(bytes.NewReader(ab), int64(len(ab)))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range zr.File {
					if !f.Modified.Equal(mtime) {
						t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, mtime)
					}
					rc, _ := f.Open()
					data, _ := io.ReadAll(rc)
					got[f.Name] = struct {
						mode int64
						data string
					}{int64(f.Mode().Perm()), string(data)}
				}
			} else {
				gz, err := gzip.NewReader(bytes.NewReader(ab))
				if err != nil {
					t.Fatal(err)
				}
				tr := tar.NewReader(gz)
				for {
					h, err := tr.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if !h.ModTime.Equal(mtime) || h.Uid != 0 || h.Uname != "" {
						t.Errorf("%s: mtime %v uid %d uname %q: want %v, 0, none", h.Name, h.ModTime, h.Uid, h.Uname, mtime)
					}
					data, _ := io.ReadAll(tr)
					got[h.Name] = struct {
						mode int64
						data string
					}{h.Mode, string(data)}
				}
			}
			if len(got) != len(want) {
				t.Errorf("entries %v, want %v", got, want)
			}
			for n, w := range want {
				if got[n] != w {
					t.Errorf("%s: %+v, want %+v", n, got[n], w)
				}
			}
		})
	}
}

func TestWriteChecksums(t *testing.T) {
	dir := t.TempDir()
	for n, data := range map[string]string{"b.zip": "bee", "a.tar.gz": "ay"} {
		os.WriteFile(filepath.Join(dir, n), []byte(data), 0o644)
	}
	if err := writeChecksums(dir, "sums.txt", []string{"b.zip", "a.tar.gz"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "sums.txt"))
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	// sha256sum's format, sorted by name.
	want := sum("ay") + "  a.tar.gz\n" + sum("bee") + "  b.zip\n"
	if string(got) != want {
		t.Errorf("checksums:\n%s\nwant:\n%s", got, want)
	}
}

func TestBundleManifest(t *testing.T) {
	r := release{version: "v1.2.3", commit: strings.Repeat("a", 40)}
	tools := []bundleTool{{Name: "kv_put", Description: "Write a value."}}
	usage := config.Usage()
	ref := regexp.MustCompile(`\$\{user_config\.([a-z_]+)\}`)
	for _, tg := range targets {
		m := bundleManifest(r, tg, tools)
		if m.Version != "1.2.3" || m.ManifestVersion != "0.3" || m.Server.Type != "binary" {
			t.Errorf("%s: version %q manifest_version %q type %q", tg, m.Version, m.ManifestVersion, m.Server.Type)
		}
		if want := "${__dirname}/" + m.Server.EntryPoint; m.Server.MCPConfig.Command != want || !strings.HasSuffix(want, "/"+tg.exe()) {
			t.Errorf("%s: command %q, entry point %q", tg, m.Server.MCPConfig.Command, m.Server.EntryPoint)
		}
		if !slices.Equal(m.Compatibility.Platforms, []string{tg.mcpbPlatform()}) {
			t.Errorf("%s: platforms %v", tg, m.Compatibility.Platforms)
		}
		if !slices.Equal(m.Tools, tools) {
			t.Errorf("%s: tools %v", tg, m.Tools)
		}
		for env, val := range m.Server.MCPConfig.Env {
			// Every variable is one the server reads (its --help lists them all)...
			if !strings.Contains(usage, env) {
				t.Errorf("%s: env %s is not one of the server's (see --help)", tg, env)
			}
			// ...from a declared setting with a default, so that Claude
			// Desktop never passes the literal "${user_config.x}".
			for _, sub := range ref.FindAllStringSubmatch(val, -1) {
				uc, ok := m.UserConfig[sub[1]]
				if !ok || uc.Default == nil || uc.Required {
					t.Errorf("%s: env %s uses %s: declared %v, default %v, required %v", tg, env, sub[0], ok, uc.Default, uc.Required)
				}
			}
		}
	}
	uc := bundleUserConfig()
	if !uc["api_token"].Sensitive || uc["account_id"].Sensitive || uc["files_root"].Type != "directory" || uc["read_only"].Type != "boolean" {
		t.Errorf("user_config: %+v", uc)
	}
}

// TestListTools starts the real server over stdio, as the release does to
// write the manifests and as the CI check does to compare them.
func TestListTools(t *testing.T) {
	bin := serverBinary(t)
	ctx := context.Background()
	home := t.TempDir()
	all, err := listTools(ctx, serverCommand{Command: bin, Env: map[string]string{"CFSTORAGE_BACKEND": "local"}}, home)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tool := range all {
		names[tool.Name] = true
		if tool.Description == "" {
			t.Errorf("%s has no description", tool.Name)
		}
	}
	for _, want := range []string{"kv_put", "r2_upload", "d1_query", "list_kv_namespaces"} {
		if !names[want] {
			t.Errorf("tools lack %s: %v", want, all)
		}
	}
	// The bundle's read_only setting reaches the server through its
	// environment (and only through the env given: HOME is the test's).
	ro, err := listTools(ctx, serverCommand{Command: bin, Env: map[string]string{"CFSTORAGE_BACKEND": "local", "CFSTORAGE_READ_ONLY": "true"}}, home)
	if err != nil {
		t.Fatal(err)
	}
	if len(ro) == 0 || len(ro) >= len(all) || slices.ContainsFunc(ro, func(b bundleTool) bool { return b.Name == "kv_put" }) {
		t.Errorf("read-only lists %d of %d tools, kv_put among them: %v", len(ro), len(all), ro)
	}
	if err := fewerTools(all, ro); err != nil {
		t.Error(err)
	}
	if err := fewerTools(all, all); err == nil {
		t.Error("read-only serving every tool passed")
	}
	if err := sameTools(all, all); err != nil {
		t.Error(err)
	}
	if err := sameTools(all, ro); err == nil || !strings.Contains(err.Error(), "listed, not served: kv_put") {
		t.Errorf("manifest listing kv_put, server not serving it: %v", err)
	}
	changed := slices.Clone(all)
	changed[0].Description += " (edited)"
	if err := sameTools(changed, all); err == nil || !strings.Contains(err.Error(), "description differs: "+all[0].Name) {
		t.Errorf("edited description: %v", err)
	}
	if err := sameTools(nil, all); err == nil {
		t.Error("an empty manifest list matched")
	}
}

func TestServerJSON(t *testing.T) {
	r := release{version: "v1.2.3"}
	sums := map[target]string{{"darwin", "arm64"}: strings.Repeat("ab", 32), {"windows", "amd64"}: strings.Repeat("cd", 32)}
	js, err := serverJSON(r, sums)
	if err != nil {
		t.Fatal(err)
	}
	var s server
	if err := json.Unmarshal(js, &s); err != nil {
		t.Fatal(err)
	}
	if s.Version != "1.2.3" || s.Schema != serverSchema || len(s.Description) > 100 {
		t.Errorf("version %q schema %q description of %d characters", s.Version, s.Schema, len(s.Description))
	}
	var got []string
	for _, p := range s.Packages {
		got = append(got, p.RegistryType+" "+p.Identifier+" "+p.FileSHA256)
	}
	want := []string{
		"mcpb " + repoURL + "/releases/download/v1.2.3/mcp-cfstorage_1.2.3_darwin_arm64.mcpb " + sums[target{"darwin", "arm64"}],
		"mcpb " + repoURL + "/releases/download/v1.2.3/mcp-cfstorage_1.2.3_windows_amd64.mcpb " + sums[target{"windows", "amd64"}],
		"oci " + imageRepo + ":1.2.3 ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("packages:\n%q\nwant\n%q", got, want)
	}
	oci := s.Packages[2]
	if oci.Transport.Type != "streamable-http" || !slices.ContainsFunc(oci.EnvironmentVariables, func(i input) bool {
		return i.Name == "CFSTORAGE_AUTH_TOKEN" && i.IsRequired && i.IsSecret
	}) {
		t.Errorf("oci package: %+v", oci)
	}
}

// TestValidateServerJSON checks the validation's mechanics (a local schema
// file stands for the published URL) with a small schema; test/dist/run.sh
// validates against the registry's own.
func TestValidateServerJSON(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "schema.json")
	os.WriteFile(schema, []byte(`{"$schema": "http://json-schema.org/draft-07/schema#", "$id": "`+serverSchema+`",
		"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "pattern": "^[a-z.-]+/[a-z-]+$"}}}`), 0o644)
	for _, c := range []struct {
		doc, wantErr string
	}{
		{`{"$schema": "` + serverSchema + `", "name": "io.github.x/y"}`, ""},
		{`{"$schema": "` + serverSchema + `", "name": "no slash"}`, "does not follow"},
		{`{"$schema": "` + serverSchema + `"}`, "does not follow"},
		{`{"$schema": "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json", "name": "io.github.x/y"}`, "$schema"},
	} {
		err := validateServerJSON(schema, []byte(c.doc))
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %v, want %q", c.doc, err, c.wantErr)
		}
	}
}

func TestCheckImageConfig(t *testing.T) {
	good := imageConfig{User: "65532:65532", Entrypoint: imageEntrypoint, Cmd: imageCmd, ExposedPorts: map[string]struct{}{"8787/tcp": {}}}
	for _, c := range []struct {
		name    string
		edit    func(*imageConfig)
		wantErr string
	}{
		{"good", func(*imageConfig) {}, ""},
		{"root", func(c *imageConfig) { c.User = "0:0" }, "non-root"},
		{"no user", func(c *imageConfig) { c.User = "" }, "non-root"},
		{"named user", func(c *imageConfig) { c.User = "root" }, "non-root"},
		{"loopback", func(c *imageConfig) { c.Cmd = []string{"--transport", "http"} }, "cmd"},
		{"shell entrypoint", func(c *imageConfig) { c.Entrypoint = []string{"/bin/sh", "-c"} }, "entrypoint"},
		{"no port", func(c *imageConfig) { c.ExposedPorts = nil }, "exposed ports"},
	} {
		cfg := good
		c.edit(&cfg)
		err := checkImageConfig(cfg)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.wantErr)
		}
	}
}

func TestCheckStatic(t *testing.T) {
	if err := checkStatic(serverBinary(t)); err != nil {
		t.Errorf("the cgo-free build: %v", err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	if sh, err = filepath.EvalSymlinks(sh); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(sh); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("%s: %v, want dynamically linked", sh, err)
	}
}

// TestIcon keeps packaging/icon.png the drawing of drawIcon: regenerate it
// with `go run ./internal/release icon`.
func TestIcon(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "packaging", "icon.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	committed, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := drawIcon()
	if committed.Bounds() != want.Bounds() || committed.Bounds() != image.Rect(0, 0, 512, 512) {
		t.Fatalf("icon is %v, drawing %v, want 512×512", committed.Bounds(), want.Bounds())
	}
	for y := range iconSize {
		for x := range iconSize {
			r1, g1, b1, a1 := committed.At(x, y).RGBA()
			r2, g2, b2, a2 := want.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel (%d,%d) differs: run go run ./internal/release icon", x, y)
			}
		}
	}
}

// TestModProxy serves HEAD as the GOPROXY protocol wants it; run.sh then
// installs from it.
func TestModProxy(t *testing.T) {
	ctx := context.Background()
	r, err := headRelease(ctx, repoRoot, "")
	if err != nil {
		t.Fatal(err)
	}
	if !module.IsPseudoVersion(r.version) || !strings.HasSuffix(r.version, r.commit[:12]) {
		t.Fatalf("version %q of commit %s", r.version, r.commit)
	}
	dir := t.TempDir()
	if err := writeModProxy(ctx, r, dir); err != nil {
		t.Fatal(err)
	}
	v := filepath.Join(dir, "github.com", "mcp-cfstorage", "mcp-cfstorage", "@v")
	list, _ := os.ReadFile(filepath.Join(v, "list"))
	if string(list) != r.version+"\n" {
		t.Errorf("list: %q", list)
	}
	var info struct {
		Version string
		Time    time.Time
	}
	if err := readJSON(filepath.Join(v, r.version+".info"), &info); err != nil || info.Version != r.version || !info.Time.Equal(r.time) {
		t.Errorf("info: %+v %v", info, err)
	}
	mod, _ := os.ReadFile(filepath.Join(v, r.version+".mod"))
	if !bytes.HasPrefix(mod, []byte("module "+modulePath+"\n")) || bytes.Contains(mod, []byte("\nreplace ")) {
		t.Errorf(".mod: want this module's go.mod, with no replace (go install refuses one):\n%s", mod)
	}
	checked, err := modzip.CheckZip(module.Version{Path: modulePath, Version: r.version}, filepath.Join(v, r.version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checked.Err(); err != nil {
		t.Fatal(err)
	}
	prefix := modulePath + "@" + r.version + "/"
	for _, want := range []string{"go.mod", "cmd/mcp-cfstorage/main.go", "packaging/icon.png"} {
		if !slices.Contains(checked.Valid, prefix+want) {
			t.Errorf("the module zip lacks %s", want)
		}
	}
	for _, f := range checked.Valid {
		if strings.Contains(f, "node_modules/") {
			t.Errorf("the module zip has untracked %s", f)
		}
	}
}
