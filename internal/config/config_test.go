package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	e := env(map[string]string{
		"CFSTORAGE_BACKEND":          "local",
		"CFSTORAGE_DATA_DIR":         "/from/env",
		"CFSTORAGE_FILES_ROOT":       "/a" + string(filepath.ListSeparator) + "/b",
		"CFSTORAGE_MAX_INLINE_BYTES": "2048",
		"CFSTORAGE_TOOLSETS":         "kv, r2",
		"CFSTORAGE_READ_ONLY":        "true",
		"CLOUDFLARE_API_TOKEN":       "tok-secret",
	})
	c, err := Load([]string{"--data-dir", "/from/flag", "--files-root", "/c", "--log-level", "debug"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/flag" {
		t.Errorf("flag should win over env: data dir %q", c.DataDir)
	}
	if !slices.Equal(c.FilesRoots, []string{"/c"}) {
		t.Errorf("--files-root should replace the env list: %v", c.FilesRoots)
	}
	if c.Backend != BackendLocal || c.MaxInlineBytes != 2048 || !c.ReadOnly || c.LogLevel != slog.LevelDebug {
		t.Errorf("env not applied: %+v", c)
	}
	if !slices.Equal(c.Toolsets, []string{"kv", "r2"}) {
		t.Errorf("toolsets %v", c.Toolsets)
	}
	if c.APIToken.Reveal() != "tok-secret" {
		t.Error("token not read")
	}
	c2, err := Load(nil, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c2.FilesRoots, []string{"/a", "/b"}) {
		t.Errorf("env files roots %v", c2.FilesRoots)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"CLOUDFLARE_API_TOKEN": "tok-secret", "R2_SECRET_ACCESS_KEY": "s3-secret", "CFSTORAGE_AUTH_TOKEN": "bearer-secret"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c, "token", c.APIToken)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", c, "token", c.APIToken)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c.APIToken), logs.String()} {
		if strings.Contains(s, "tok-secret") || strings.Contains(s, "s3-secret") || strings.Contains(s, "bearer-secret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestBackendAuto(t *testing.T) {
	project := func(Config) string { return "/w/wrangler.jsonc" }
	none := func(Config) string { return "" }
	for _, tc := range []struct {
		backend, token string
		project        func(Config) string
		want           string
	}{
		{BackendAuto, "", nil, BackendLocal},
		{BackendAuto, "", none, BackendLocal},
		{BackendAuto, "t", nil, BackendCloudflare},
		{BackendAuto, "t", project, BackendCloudflare}, // a token wins over a project
		{BackendAuto, "", project, BackendWrangler},
		{BackendLocal, "t", project, BackendLocal},
		{BackendCloudflare, "", project, BackendCloudflare},
		{BackendWrangler, "t", none, BackendWrangler},
	} {
		c := Config{Backend: tc.backend, APIToken: Secret(tc.token)}
		if got, reason := c.ResolvedBackend(tc.project); got != tc.want || reason == "" {
			t.Errorf("%s with token %q: %s (%q), want %s", tc.backend, tc.token, got, reason, tc.want)
		}
	}
	c := Config{Backend: BackendAuto}
	if _, reason := c.ResolvedBackend(project); !strings.Contains(reason, "/w/wrangler.jsonc") {
		t.Errorf("the reason does not name the config: %q", reason)
	}
}

func TestWranglerOptions(t *testing.T) {
	c, err := Load([]string{"--backend", "wrangler", "--wrangler-url", "http://127.0.0.1:9000", "--wrangler-env", "staging"},
		env(map[string]string{"CFSTORAGE_WRANGLER_CONFIG": "w/wrangler.toml", "CFSTORAGE_PERSIST_TO": "/tmp/state", "CFSTORAGE_WRANGLER_ENV": "prod"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != BackendWrangler || c.WranglerConfig != "w/wrangler.toml" || c.WranglerURL != "http://127.0.0.1:9000" || c.PersistTo != "/tmp/state" || c.WranglerEnv != "staging" {
		t.Errorf("wrangler options: %+v", c)
	}
	for _, bad := range []string{"127.0.0.1:8787", "ftp://x", "http://"} {
		if _, err := Load([]string{"--wrangler-url", bad}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "http://") {
			t.Errorf("--wrangler-url %q: %v", bad, err)
		}
	}
	if _, err := Load([]string{"--backend", "miniflare"}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "wrangler") {
		t.Errorf("--backend miniflare: %v", err)
	}
}

func TestTaskThreshold(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want int64
	}{
		{nil, nil, 64 << 20},
		{[]string{"--task-threshold", "0"}, nil, 0},
		{nil, map[string]string{"CFSTORAGE_TASK_THRESHOLD": "1048576"}, 1 << 20},
		{[]string{"--task-threshold", "5"}, map[string]string{"CFSTORAGE_TASK_THRESHOLD": "7"}, 5},
	} {
		c, err := Load(tc.args, env(tc.env), &bytes.Buffer{})
		if err != nil || c.TaskThreshold != tc.want {
			t.Errorf("%v %v: threshold %d, %v; want %d", tc.args, tc.env, c.TaskThreshold, err, tc.want)
		}
	}
}

func TestD1Options(t *testing.T) {
	c, err := Load(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxRows != 200 || c.AllowDatabases != nil {
		t.Errorf("defaults: max rows %d, allow databases %v; want 200 and none", c.MaxRows, c.AllowDatabases)
	}
	c, err = Load([]string{"--max-rows", "50"}, env(map[string]string{"CFSTORAGE_ALLOW_DATABASES": "app-db, 01234567-89ab-4cde-8f01-23456789abcd"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxRows != 50 || !slices.Equal(c.AllowDatabases, []string{"app-db", "01234567-89ab-4cde-8f01-23456789abcd"}) {
		t.Errorf("max rows %d, allow databases %v", c.MaxRows, c.AllowDatabases)
	}
}

func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--backend", "s3"}, nil, "auto, local, cloudflare or wrangler"},
		{[]string{"--max-inline-bytes", "-1"}, nil, "positive"},
		{[]string{"--max-rows", "0"}, nil, "positive"},
		{nil, map[string]string{"CFSTORAGE_MAX_ROWS": "many"}, "CFSTORAGE_MAX_ROWS"},
		{[]string{"--log-level", "loud"}, nil, "log-level"},
		{[]string{"--nope"}, nil, "nope"},
		{[]string{"extra"}, nil, "unexpected argument"},
		{nil, map[string]string{"CFSTORAGE_READ_ONLY": "maybe"}, "CFSTORAGE_READ_ONLY"},
		{[]string{"--r2-jurisdiction", "moon"}, nil, "default, eu or fedramp"},
		{[]string{"--task-threshold", "-1"}, nil, "0 for no tasks"},
		{nil, map[string]string{"CFSTORAGE_TASK_THRESHOLD": "64MiB"}, "CFSTORAGE_TASK_THRESHOLD"},
	} {
		_, err := Load(tc.args, env(tc.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%v, %v) = %v, want error containing %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestHelpListsEveryFlagWithItsEnv(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for name, envName := range Flags() {
		if !strings.Contains(out.String(), "--"+name) || !strings.Contains(out.String(), envName) {
			t.Errorf("--help lacks --%s / %s", name, envName)
		}
	}
}

func TestDefaultDataDir(t *testing.T) {
	if got := defaultDataDir(env(map[string]string{"XDG_DATA_HOME": "/x"})); got != "/x/mcp-cfstorage" {
		t.Errorf("with XDG_DATA_HOME: %s", got)
	}
	if got := defaultDataDir(env(map[string]string{"HOME": "/home/u"})); got != "/home/u/.local/share/mcp-cfstorage" {
		t.Errorf("with HOME: %s", got)
	}
}

// "all", the documented default, may be spelt out.
func TestToolsetsAll(t *testing.T) {
	for _, v := range []string{"all", " all "} {
		c, err := Load([]string{"--toolsets", v}, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Toolsets != nil {
			t.Errorf("--toolsets %q = %q, want every toolset (nil)", v, c.Toolsets)
		}
	}
	c, err := Load([]string{"--toolsets", "kv,all"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Toolsets, []string{"kv", "all"}) {
		t.Errorf("a list with all in it is kept as given, for Validate to refuse: %q", c.Toolsets)
	}
}

func TestR2Jurisdiction(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"CFSTORAGE_R2_JURISDICTION": "eu"}), &bytes.Buffer{})
	if err != nil || c.R2Jurisdiction != "eu" {
		t.Fatalf("CFSTORAGE_R2_JURISDICTION=eu: %q, %v", c.R2Jurisdiction, err)
	}
	c, err = Load([]string{"--r2-jurisdiction", "fedramp"}, env(map[string]string{"CFSTORAGE_R2_JURISDICTION": "eu"}), &bytes.Buffer{})
	if err != nil || c.R2Jurisdiction != "fedramp" {
		t.Fatalf("the flag should win: %q, %v", c.R2Jurisdiction, err)
	}
}
