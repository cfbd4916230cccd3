package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/config"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler"
)

// check verifies what the configured backend needs and prints what works
// and what to fix. It exits 0 when everything works, 1 otherwise.
func check(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "mcp-cfstorage check: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	name, reason := cfg.ResolvedBackend(wranglerProject)
	fmt.Fprintf(stdout, "backend: %s (%s)\n", name, reason)
	var findings []cf.Finding
	switch name {
	case config.BackendLocal:
		findings = checkLocal(ctx, cfg, logger)
	case config.BackendWrangler:
		findings = checkWrangler(ctx, cfg, logger)
	default:
		b, err := cf.New(cfConfig(cfg, logger))
		if err != nil {
			findings = []cf.Finding{{Name: "configuration", Detail: err.Error(),
				Fix: "set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID when the token sees several accounts)"}}
			break
		}
		defer b.Close()
		findings = b.Check(ctx, storage.Unnamed(cfg.Toolsets)...)
	}
	failed, skipped := 0, 0
	for _, f := range findings {
		mark := "ok  "
		switch {
		case f.Skipped:
			mark, skipped = "skip", skipped+1
		case !f.OK:
			mark, failed = "FAIL", failed+1
		}
		fmt.Fprintf(stdout, "%s %-18s %s\n", mark, f.Name, f.Detail)
		if !f.OK && f.Fix != "" {
			fmt.Fprintf(stdout, "     %-18s fix: %s\n", "", f.Fix)
		}
	}
	for _, a := range storage.Unnamed(cfg.Toolsets) {
		fmt.Fprintf(stdout, "skip %-18s not served: left out by --toolsets\n", a.Title())
	}
	passed := len(findings) - failed - skipped
	notChecked := ""
	if skipped > 0 {
		notChecked = fmt.Sprintf(", %d not checked", skipped)
	}
	switch {
	case failed > 0:
		fmt.Fprintf(stdout, "%d of %d checks failed%s\n", failed, failed+passed, notChecked)
		return 1
	case skipped > 0:
		fmt.Fprintf(stdout, "%d checks passed%s\n", passed, notChecked)
	case passed == 1:
		fmt.Fprintln(stdout, "the check passed")
	default:
		fmt.Fprintf(stdout, "all %d checks passed\n", passed)
	}
	return 0
}

// checkLocal opens the data directory and reads from it.
func checkLocal(ctx context.Context, cfg config.Config, logger *slog.Logger) []cf.Finding {
	b := local.New(cfg.DataDir, local.WithLogger(logger))
	defer b.Close()
	store := storage.Guard(b, storage.Policy{ReadOnly: true})
	f := cf.Finding{Name: "data directory", OK: true, Detail: cfg.DataDir + " opens and answers"}
	if _, err := store.KV().ListNamespaces(ctx, storage.ListOptions{Limit: 1}); err != nil {
		f.OK, f.Detail = false, storage.Describe(err)
		f.Fix = "make --data-dir (CFSTORAGE_DATA_DIR) a directory this user can create and write"
	}
	return []cf.Finding{f}
}

// checkWrangler reads the project's config and says which path dev's state
// is reached by.
func checkWrangler(ctx context.Context, cfg config.Config, logger *slog.Logger) []cf.Finding {
	b, err := wrangler.New(wranglerOptions(cfg, logger))
	if err != nil {
		return []cf.Finding{{Name: "wrangler config", Detail: err.Error(),
			Fix: "run in the Worker project's directory or pass --wrangler-config"}}
	}
	defer b.Close()
	d, _ := b.Describe(ctx)
	w := d.Wrangler
	out := []cf.Finding{{Name: "wrangler config", OK: true, Detail: fmt.Sprintf("%s: %s", w.Config, strings.Join(w.Bindings, ", "))}}
	if w.Path == "explorer" || w.Path == "files" {
		return append(out, cf.Finding{Name: "wrangler dev", OK: true, Detail: "reached through " + w.Path + " (" + w.URL + ")"})
	}
	return append(out, cf.Finding{Name: "wrangler dev", Detail: w.Path, Fix: "start wrangler dev in " + filepath.Dir(w.Config)})
}
