// Command mcp-cfstorage serves Cloudflare Workers KV, R2 and D1 to AI
// assistants over the Model Context Protocol.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/config"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/httpserve"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler"
)

// version and commit are set at link time by release builds
// (-ldflags "-X main.version=v1.2.3 -X main.commit=0123abcd..."); otherwise
// they come from the build information: the module version of a
// `go install module@version`, the VCS revision of a build from a checkout.
var version, commit = "", ""

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv config.Getenv, stdin io.Reader, stdout, stderr io.Writer) int {
	if slices.Contains(args, "--version") || slices.Contains(args, "-version") {
		args = []string{"version"} // as --help, wherever it stands
	}
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, versionLine())
			return 0
		case "help":
			fmt.Fprint(stdout, config.Usage())
			return 0
		case "check":
			return check(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := config.Load(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcp-cfstorage: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := serve(ctx, cfg, logger, stdin, stdout); err != nil {
		logger.Error("stopped", "error", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, stdin io.Reader, stdout io.Writer) error {
	backend, err := openBackend(cfg, logger)
	if err != nil {
		return err
	}
	defer backend.Close()

	roots, err := fsroot.New(cfg.FilesRoots...)
	if err != nil {
		return fmt.Errorf("--files-root: %w", err)
	}
	store := storage.Guard(backend, storage.Policy{
		ReadOnly:   cfg.ReadOnly,
		Namespaces: cfg.AllowNamespaces,
		Buckets:    cfg.AllowBuckets,
		Databases:  cfg.AllowDatabases,
		Off:        storage.Unnamed(cfg.Toolsets),
	})
	// Tasks belong to the session that started them; --stateless has none,
	// so another client could list and cancel them: no tasks there.
	var tasks *mcpserver.Tasks
	if !(cfg.Transport == config.TransportHTTP && cfg.Stateless) {
		tasks = mcpserver.NewTasks(cfg.TaskThreshold, logger)
	}
	// Runs before backend.Close: the tasks' transfers undo themselves
	// (multipart uploads aborted, partial files removed) while it is open.
	defer func() {
		if err := tasks.Shutdown(); err != nil {
			logger.Warn("shutdown", "error", err)
		}
	}()
	srv, err := mcpserver.New(mcpserver.Options{
		Version:        buildVersion(),
		Store:          store,
		Roots:          roots,
		ClientRoots:    cfg.Transport != config.TransportHTTP, // a stdio client is the local user; an HTTP one is not
		MaxInlineBytes: cfg.MaxInlineBytes,
		MaxRows:        cfg.MaxRows,
		Toolsets:       cfg.Toolsets,
		Log:            logger,
		Tasks:          tasks,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.Transport == config.TransportHTTP {
		return serveHTTP(ctx, cfg, srv, logger)
	}
	logger.Info("serving MCP over stdio", "version", buildVersion(), "read_only", cfg.ReadOnly)
	err = mcpserver.ServeStdio(ctx, srv, stdin, stdout, log.New(slogWriter{logger}, "", 0))
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// serveHTTP serves Streamable HTTP and SSE until a signal arrives.
func serveHTTP(ctx context.Context, cfg config.Config, srv *server.MCPServer, logger *slog.Logger) error {
	if err := httpserve.CheckListen(cfg.Listen, cfg.AuthToken.Reveal()); err != nil {
		return err
	}
	hs := httpserve.New(srv, httpserve.Options{
		Listen:         cfg.Listen,
		AuthToken:      cfg.AuthToken.Reveal(),
		AllowedOrigins: cfg.AllowedOrigins,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Stateless:      cfg.Stateless,
		Log:            logger,
	})
	return hs.Serve(ctx, func(addr net.Addr) {
		logger.Info("serving MCP over HTTP", "version", buildVersion(), "mcp", "http://"+addr.String()+httpserve.PathMCP,
			"sse", "http://"+addr.String()+httpserve.PathSSE, "auth", cfg.AuthToken != "", "stateless", cfg.Stateless, "read_only", cfg.ReadOnly)
	})
}

// openBackend chooses the backend as --backend says, and logs why.
func openBackend(cfg config.Config, logger *slog.Logger) (storage.Backend, error) {
	name, reason := cfg.ResolvedBackend(wranglerProject)
	logger.Info("backend chosen", "backend", name, "reason", reason)
	switch name {
	case config.BackendLocal:
		logger.Info("local data directory", "data_dir", cfg.DataDir)
		return local.New(cfg.DataDir, local.WithLogger(logger)), nil
	case config.BackendWrangler:
		b, err := wrangler.New(wranglerOptions(cfg, logger))
		if err != nil {
			return nil, err
		}
		p := b.Project()
		logger.Info("wrangler project", "config", p.ConfigPath, "env", p.Env,
			"kv", len(p.KV), "r2", len(p.R2), "d1", len(p.D1), "remote_bindings_left_out", p.Remote)
		return b, nil
	default:
		b, err := cf.New(cfConfig(cfg, logger))
		if err != nil {
			return nil, fmt.Errorf("backend cloudflare: %w", err)
		}
		return b, nil
	}
}

// wranglerProject is the wrangler config that --backend auto would serve:
// --wrangler-config's, or the working directory's, when it binds KV, R2 or
// D1; "" otherwise. A config that does not parse is left to --backend
// wrangler, which says what is wrong with it.
func wranglerProject(cfg config.Config) string {
	path := cfg.WranglerConfig
	if path == "" {
		found, err := wrangler.FindConfig(".")
		if err != nil {
			return ""
		}
		path = found
	}
	p, err := wrangler.LoadProject(path, cfg.WranglerEnv)
	if err != nil || !p.HasBindings() {
		return ""
	}
	return p.ConfigPath
}

func wranglerOptions(cfg config.Config, logger *slog.Logger) wrangler.Options {
	return wrangler.Options{ConfigPath: cfg.WranglerConfig, Env: cfg.WranglerEnv, URL: cfg.WranglerURL,
		PersistTo: cfg.PersistTo, Files: wrangler.OpenFiles(logger), Logger: logger}
}

func cfConfig(cfg config.Config, logger *slog.Logger) cf.Config {
	return cf.Config{
		APIToken:          cfg.APIToken.Reveal(),
		AccountID:         cfg.AccountID,
		R2AccessKeyID:     cfg.R2AccessKeyID,
		R2SecretAccessKey: cfg.R2SecretAccessKey.Reveal(),
		BaseURL:           cfg.BaseURL,
		R2Endpoint:        cfg.R2Endpoint,
		Jurisdiction:      cfg.R2Jurisdiction,
		Logger:            logger,
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what `mcp-cfstorage version` prints, e.g.
// "mcp-cfstorage v1.2.3 (commit 0123abcd4567, go1.26.8 linux/amd64)".
func versionLine() string {
	rev, modified := commit, false
	if bi, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = pseudoVersionRevision(buildVersion())
	}
	rev = rev[:min(len(rev), 12)]
	switch {
	case rev == "":
		rev = "unknown"
	case modified:
		rev += "+modified"
	}
	return fmt.Sprintf("mcp-cfstorage %s (commit %s, %s %s/%s)", buildVersion(), rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// pseudoVersionRevision is the commit a Go pseudo-version names
// (v0.0.0-20261202165003-0123abcd4567: its last part), as
// `go install module@commit` stamps one without VCS information; "" for
// other versions.
func pseudoVersionRevision(v string) string {
	parts := strings.Split(v, "-")
	if len(parts) < 3 {
		return ""
	}
	rev, stamp := parts[len(parts)-1], parts[len(parts)-2]
	stamp = stamp[strings.LastIndexByte(stamp, '.')+1:]
	if len(rev) != 12 || strings.Trim(rev, "0123456789abcdef") != "" || len(stamp) != 14 || strings.Trim(stamp, "0123456789") != "" {
		return ""
	}
	return rev
}

// slogWriter sends the stdio transport's log lines to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Error("stdio transport", "message", string(p))
	return len(p), nil
}
