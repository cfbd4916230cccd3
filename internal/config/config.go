// Package config loads the server's one Config from flags and environment
// variables (flags win), and keeps secrets out of anything printed.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Transports, as named by --transport.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
)

// Backends, as named by --backend.
const (
	BackendAuto       = "auto"
	BackendLocal      = "local"
	BackendCloudflare = "cloudflare"
	BackendWrangler   = "wrangler"
)

// Secret is a credential. It prints as [redacted] in every format and log.
type Secret string

func (Secret) String() string               { return "[redacted]" }
func (Secret) GoString() string             { return "[redacted]" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret itself, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// DefaultTaskThreshold is --task-threshold's default: the transfer size from
// which clients that support tool-call tasks are told to run one as a task.
const DefaultTaskThreshold = 64 << 20

// Config is everything the server is started with.
type Config struct {
	Backend         string
	DataDir         string
	ReadOnly        bool
	Toolsets        []string
	AllowNamespaces []string
	AllowBuckets    []string
	AllowDatabases  []string
	FilesRoots      []string
	MaxInlineBytes  int64
	MaxRows         int
	TaskThreshold   int64 // --task-threshold: 0 = no tool-call tasks
	LogLevel        slog.Level

	// The wrangler backend: a Worker project's `wrangler dev` state.
	WranglerConfig string // --wrangler-config: "" finds one in the working directory
	WranglerURL    string // --wrangler-url: "" takes dev.port of the config
	PersistTo      string // --persist-to: "" is .wrangler/state beside the config
	WranglerEnv    string // --wrangler-env: "" is the top level

	// R2Jurisdiction is where the cloudflare backend's buckets live:
	// "default", "eu" or "fedramp" ("" means default).
	R2Jurisdiction string

	// Transport.
	Transport      string // stdio or http
	Listen         string
	AllowedOrigins []string
	AuthToken      Secret
	MaxBodyBytes   int64
	Stateless      bool

	// Cloudflare credentials and endpoints, from the environment only.
	APIToken          Secret // CLOUDFLARE_API_TOKEN
	AccountID         string // CLOUDFLARE_ACCOUNT_ID
	R2AccessKeyID     string // R2_ACCESS_KEY_ID
	R2SecretAccessKey Secret // R2_SECRET_ACCESS_KEY
	BaseURL           string // CLOUDFLARE_BASE_URL: REST API base, for proxies and tests
	R2Endpoint        string // R2_ENDPOINT: S3 endpoint, for proxies and tests
}

// ResolvedBackend applies --backend auto: cloudflare when an API token is
// set; else wrangler when wranglerProject names a wrangler config that binds
// KV, R2 or D1 (the one of --wrangler-config, or the working directory's);
// else local. The reason is for the start-up log.
func (c Config) ResolvedBackend(wranglerProject func(Config) string) (backend, reason string) {
	switch {
	case c.Backend != BackendAuto:
		return c.Backend, "chosen with --backend " + c.Backend
	case c.APIToken != "":
		return BackendCloudflare, "CLOUDFLARE_API_TOKEN is set"
	}
	if wranglerProject != nil {
		if path := wranglerProject(c); path != "" {
			return BackendWrangler, "no CLOUDFLARE_API_TOKEN, and " + path + " binds KV, R2 or D1: serving that Worker's wrangler dev storage"
		}
	}
	return BackendLocal, "no CLOUDFLARE_API_TOKEN and no wrangler config with KV, R2 or D1 bindings here, so the embedded store is used"
}

// Getenv looks up an environment variable; os.Getenv in production.
type Getenv func(string) string

// option is one flag with its environment variable.
type option struct {
	name, env, usage string
	set              func(*Config, string) error
	def              string
	boolean          bool
	repeatable       bool
}

func options() []option {
	return []option{
		{name: "backend", env: "CFSTORAGE_BACKEND", def: BackendAuto,
			usage: "where data lives: auto (cloudflare when CLOUDFLARE_API_TOKEN is set, else wrangler when the working directory's wrangler config binds KV, R2 or D1, else local), local, cloudflare, wrangler",
			set: func(c *Config, v string) error {
				switch v {
				case BackendAuto, BackendLocal, BackendCloudflare, BackendWrangler:
					c.Backend = v
					return nil
				}
				return fmt.Errorf("must be auto, local, cloudflare or wrangler")
			}},
		{name: "data-dir", env: "CFSTORAGE_DATA_DIR", def: "$XDG_DATA_HOME/mcp-cfstorage or ~/.local/share/mcp-cfstorage",
			usage: "directory of the local backend's data",
			set:   func(c *Config, v string) error { c.DataDir = v; return nil }},
		{name: "wrangler-config", env: "CFSTORAGE_WRANGLER_CONFIG", def: "wrangler.json, wrangler.jsonc or wrangler.toml in the working directory",
			usage: "the Worker project's wrangler config, for the wrangler backend",
			set:   func(c *Config, v string) error { c.WranglerConfig = v; return nil }},
		{name: "wrangler-url", env: "CFSTORAGE_WRANGLER_URL", def: "http://127.0.0.1:<dev.port of the config, or 8787>",
			usage: "where wrangler dev answers, for the wrangler backend",
			set: func(c *Config, v string) error {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("must be an http:// or https:// URL, such as http://127.0.0.1:8787")
				}
				c.WranglerURL = v
				return nil
			}},
		{name: "persist-to", env: "CFSTORAGE_PERSIST_TO", def: ".wrangler/state beside the wrangler config",
			usage: "wrangler dev's --persist-to directory, for the wrangler backend",
			set:   func(c *Config, v string) error { c.PersistTo = v; return nil }},
		{name: "wrangler-env", env: "CFSTORAGE_WRANGLER_ENV",
			usage: "environment of the wrangler config whose bindings to serve (wrangler dev --env); bindings are not inherited from the top level",
			set:   func(c *Config, v string) error { c.WranglerEnv = v; return nil }},
		{name: "read-only", env: "CFSTORAGE_READ_ONLY", boolean: true, def: "false",
			usage: "offer only tools that change nothing, and refuse every write",
			set: func(c *Config, v string) (err error) {
				c.ReadOnly, err = strconv.ParseBool(v)
				return err
			}},
		{name: "toolsets", env: "CFSTORAGE_TOOLSETS", def: "all",
			usage: "comma-separated areas to offer (tools, resources and prompts): kv, r2, d1, account; all for every one",
			set: func(c *Config, v string) error {
				if c.Toolsets = splitList(v); slices.Equal(c.Toolsets, []string{"all"}) {
					c.Toolsets = nil // the default, spelt out
				}
				return nil
			}},
		{name: "allow-namespaces", env: "CFSTORAGE_ALLOW_NAMESPACES",
			usage: "comma-separated KV namespace ids or titles; when set, no other namespace is visible",
			set:   func(c *Config, v string) error { c.AllowNamespaces = splitList(v); return nil }},
		{name: "allow-buckets", env: "CFSTORAGE_ALLOW_BUCKETS",
			usage: "comma-separated R2 bucket names; when set, no other bucket is visible",
			set:   func(c *Config, v string) error { c.AllowBuckets = splitList(v); return nil }},
		{name: "allow-databases", env: "CFSTORAGE_ALLOW_DATABASES",
			usage: "comma-separated D1 database ids or names; when set, no other database is visible",
			set:   func(c *Config, v string) error { c.AllowDatabases = splitList(v); return nil }},
		{name: "files-root", env: "CFSTORAGE_FILES_ROOT", repeatable: true,
			usage: "directory that file_path and save_to may use (repeatable; the env var takes a " + string(os.PathListSeparator) + "-separated list)",
			set:   func(c *Config, v string) error { c.FilesRoots = append(c.FilesRoots, v); return nil }},
		{name: "max-inline-bytes", env: "CFSTORAGE_MAX_INLINE_BYTES", def: "1048576",
			usage: "largest value or object returned inline; larger ones need save_to",
			set: func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 1 {
					return fmt.Errorf("must be a positive number of bytes")
				}
				c.MaxInlineBytes = n
				return nil
			}},
		{name: "max-rows", env: "CFSTORAGE_MAX_ROWS", def: "200",
			usage: "most rows of one SQL statement that d1_query returns inline; the rest are counted, to be paged with LIMIT/OFFSET",
			set: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return fmt.Errorf("must be a positive number of rows")
				}
				c.MaxRows = n
				return nil
			}},
		{name: "task-threshold", env: "CFSTORAGE_TASK_THRESHOLD", def: strconv.Itoa(DefaultTaskThreshold),
			usage: "size in bytes from which uploads and downloads should run as tool-call tasks, for clients that support them; 0 offers no tasks",
			set: func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					return fmt.Errorf("must be a number of bytes, or 0 for no tasks")
				}
				c.TaskThreshold = n
				return nil
			}},
		{name: "log-level", env: "CFSTORAGE_LOG_LEVEL", def: "info",
			usage: "debug, info, warn or error (logs go to stderr)",
			set:   func(c *Config, v string) error { return c.LogLevel.UnmarshalText([]byte(v)) }},
		{name: "r2-jurisdiction", env: "CFSTORAGE_R2_JURISDICTION", def: "default",
			usage: "R2 jurisdiction the cloudflare backend works in: default, eu or fedramp (R2 keeps each one's buckets apart, at its own S3 endpoint)",
			set: func(c *Config, v string) error {
				switch v {
				case "default", "eu", "fedramp":
					c.R2Jurisdiction = v
					return nil
				}
				return fmt.Errorf("must be default, eu or fedramp")
			}},
		{name: "transport", env: "CFSTORAGE_TRANSPORT", def: TransportStdio,
			usage: "stdio, or http: Streamable HTTP at /mcp and legacy SSE at /sse + /message",
			set: func(c *Config, v string) error {
				if v != TransportStdio && v != TransportHTTP {
					return fmt.Errorf("must be stdio or http")
				}
				c.Transport = v
				return nil
			}},
		{name: "listen", env: "CFSTORAGE_LISTEN", def: "127.0.0.1:8787",
			usage: "address for --transport http; a non-loopback address needs --auth-token",
			set:   func(c *Config, v string) error { c.Listen = v; return nil }},
		{name: "allowed-origins", env: "CFSTORAGE_ALLOWED_ORIGINS",
			usage: "comma-separated Origin values allowed besides loopback ones (browser clients); others get 403",
			set:   func(c *Config, v string) error { c.AllowedOrigins = splitList(v); return nil }},
		{name: "auth-token", env: "CFSTORAGE_AUTH_TOKEN",
			usage: "bearer token every HTTP request must carry (prefer the env var: flags show in ps)",
			set:   func(c *Config, v string) error { c.AuthToken = Secret(v); return nil }},
		{name: "max-body-bytes", env: "CFSTORAGE_MAX_BODY_BYTES", def: "41943040",
			usage: "largest HTTP request body; larger ones get 413",
			set: func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 1 {
					return fmt.Errorf("must be a positive number of bytes")
				}
				c.MaxBodyBytes = n
				return nil
			}},
		{name: "stateless", env: "CFSTORAGE_STATELESS", boolean: true, def: "false",
			usage: "serve HTTP without sessions, for several replicas behind a load balancer",
			set: func(c *Config, v string) (err error) {
				c.Stateless, err = strconv.ParseBool(v)
				return err
			}},
	}
}

// Load reads the configuration from args (without the program name) and the
// environment. --help yields flag.ErrHelp after printing usage to out.
func Load(args []string, getenv Getenv, out io.Writer) (Config, error) {
	c := Config{Backend: BackendAuto, MaxInlineBytes: 1 << 20, MaxRows: 200, TaskThreshold: DefaultTaskThreshold, LogLevel: slog.LevelInfo,
		Transport: TransportStdio, Listen: "127.0.0.1:8787", MaxBodyBytes: 40 << 20}
	opts := options()
	for _, o := range opts {
		v := getenv(o.env)
		if v == "" {
			continue
		}
		vals := []string{v}
		if o.repeatable {
			vals = filepath.SplitList(v)
		}
		for _, v := range vals {
			if err := o.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("%s=%q: %w", o.env, v, err)
			}
		}
	}
	fs := flag.NewFlagSet("mcp-cfstorage", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagRoots := false
	for _, o := range opts {
		set := func(v string) error {
			if o.repeatable && !flagRoots {
				// Flags replace the env list rather than adding to it.
				flagRoots, c.FilesRoots = true, nil
			}
			return o.set(&c, v)
		}
		if o.boolean {
			fs.BoolFunc(o.name, o.usage, set)
		} else {
			fs.Func(o.name, o.usage, set)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, Usage())
		}
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	c.APIToken = Secret(getenv("CLOUDFLARE_API_TOKEN"))
	c.AccountID = getenv("CLOUDFLARE_ACCOUNT_ID")
	c.R2AccessKeyID = getenv("R2_ACCESS_KEY_ID")
	c.R2SecretAccessKey = Secret(getenv("R2_SECRET_ACCESS_KEY"))
	c.BaseURL = getenv("CLOUDFLARE_BASE_URL")
	c.R2Endpoint = getenv("R2_ENDPOINT")
	if c.DataDir == "" {
		c.DataDir = defaultDataDir(getenv)
	}
	return c, nil
}

// Usage is the --help text: every flag with its environment variable.
func Usage() string {
	var b strings.Builder
	b.WriteString(`mcp-cfstorage: an MCP server for Cloudflare Workers KV, R2 and D1.

Usage:
  mcp-cfstorage [flags]     serve MCP (over stdio unless --transport http)
  mcp-cfstorage check       verify credentials and access, say what to fix (exit 1 if anything fails)
  mcp-cfstorage version     print the version (also --version)
  mcp-cfstorage --help      print this

Flags (each also set by the environment variable shown; flags win):
`)
	for _, o := range options() {
		arg := " value"
		if o.boolean {
			arg = ""
		}
		fmt.Fprintf(&b, "  --%s%s\n      %s\n      env %s", o.name, arg, o.usage, o.env)
		if o.def != "" {
			fmt.Fprintf(&b, "; default %s", o.def)
		}
		b.WriteString("\n")
	}
	b.WriteString(`
Cloudflare credentials and endpoints (environment only):
  CLOUDFLARE_API_TOKEN    API token; selects the cloudflare backend under --backend auto
  CLOUDFLARE_ACCOUNT_ID   account to use (optional when the token sees exactly one)
  R2_ACCESS_KEY_ID        R2 S3 access key id (optional: derived from the API token)
  R2_SECRET_ACCESS_KEY    R2 S3 secret access key (optional: derived from the API token)
  CLOUDFLARE_BASE_URL     REST API base URL (default https://api.cloudflare.com/client/v4)
  R2_ENDPOINT             S3 endpoint (default https://<account>.r2.cloudflarestorage.com)
`)
	return b.String()
}

// Flags lists every flag name with its environment variable, for docs and
// tests.
func Flags() map[string]string {
	m := map[string]string{}
	for _, o := range options() {
		m[o.name] = o.env
	}
	return m
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func defaultDataDir(getenv Getenv) string {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "mcp-cfstorage")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "mcp-cfstorage")
}
