package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// manifest is an MCP Bundle's manifest.json (manifest_version 0.3, the
// version mcpb 2.1.2 validates with its full schema).
type manifest struct {
	ManifestVersion string                `json:"manifest_version"`
	Name            string                `json:"name"`
	DisplayName     string                `json:"display_name"`
	Version         string                `json:"version"`
	Description     string                `json:"description"`
	LongDescription string                `json:"long_description"`
	Author          author                `json:"author"`
	Repository      repository            `json:"repository"`
	Homepage        string                `json:"homepage"`
	Documentation   string                `json:"documentation"`
	Icon            string                `json:"icon"`
	Server          bundleServer          `json:"server"`
	Tools           []bundleTool          `json:"tools"`
	Keywords        []string              `json:"keywords"`
	Compatibility   compatibility         `json:"compatibility"`
	UserConfig      map[string]userConfig `json:"user_config"`
}

type author struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

type repository struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type bundleServer struct {
	Type       string        `json:"type"`
	EntryPoint string        `json:"entry_point"`
	MCPConfig  serverCommand `json:"mcp_config"`
}

// serverCommand is how a client starts the server: the manifest's
// mcp_config, and what a client resolves it to.
type serverCommand struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env,omitempty"`
}

type bundleTool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type compatibility struct {
	Platforms []string `json:"platforms"`
}

type userConfig struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Required    bool   `json:"required"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Default     any    `json:"default"`
}

// bundleEnv maps the bundle's settings to the server's environment
// variables. Every setting has a default, so none is left as a literal
// "${user_config...}" when the user fills in nothing; the server treats an
// empty variable as unset (no token: the embedded backend).
func bundleEnv() map[string]string {
	return map[string]string{
		"CLOUDFLARE_API_TOKEN":  "${user_config.api_token}",
		"CLOUDFLARE_ACCOUNT_ID": "${user_config.account_id}",
		"CFSTORAGE_FILES_ROOT":  "${user_config.files_root}",
		"CFSTORAGE_READ_ONLY":   "${user_config.read_only}",
	}
}

func bundleUserConfig() map[string]userConfig {
	return map[string]userConfig{
		"api_token": {Type: "string", Title: "Cloudflare API token", Sensitive: true, Default: "",
			Description: "A Cloudflare API token with Workers KV Storage, Workers R2 Storage and D1 permissions (Edit, or Read for read-only). Leave empty to try the server on a local store on this computer."},
		"account_id": {Type: "string", Title: "Cloudflare account ID", Default: "",
			Description: "The account to work on. Optional when the token sees exactly one account."},
		"files_root": {Type: "directory", Title: "Files directory", Default: "",
			Description: "The directory whose files the assistant may upload from and download to. Without one, file arguments are refused."},
		"read_only": {Type: "boolean", Title: "Read-only", Default: false,
			Description: "Offer only the tools that read, and refuse every write."},
	}
}

// bundleManifest is the manifest of r's bundle for t, listing tools.
func bundleManifest(r release, t target, tools []bundleTool) manifest {
	entry := "server/" + t.exe()
	return manifest{
		ManifestVersion: "0.3",
		Name:            name,
		DisplayName:     "Cloudflare Storage (KV, R2, D1)",
		Version:         r.semver(),
		Description:     "Workers KV, R2 and D1 of your Cloudflare account as tools, or a local store with Cloudflare's semantics.",
		LongDescription: "mcp-cfstorage gives the assistant Cloudflare's storage primitives: KV namespaces, R2 buckets and objects, D1 databases. " +
			"With a Cloudflare API token it works on your account; without one, on an embedded local store, so you can try it at once. " +
			"Uploads and downloads use only the files directory you choose.",
		Author:        author{Name: "mcp-cfstorage maintainers", URL: repoURL},
		Repository:    repository{Type: "git", URL: repoURL},
		Homepage:      repoURL,
		Documentation: repoURL + "#readme",
		Icon:          "icon.png",
		Server: bundleServer{Type: "binary", EntryPoint: entry, MCPConfig: serverCommand{
			Command: "${__dirname}/" + entry, Args: []string{}, Env: bundleEnv(),
		}},
		Tools:         tools,
		Keywords:      []string{"cloudflare", "kv", "r2", "d1", "storage", "s3"},
		Compatibility: compatibility{Platforms: []string{t.mcpbPlatform()}},
		UserConfig:    bundleUserConfig(),
	}
}

// stageBundle lays out a bundle's directory for `mcpb pack`.
func stageBundle(dir string, m manifest, binary string, icon []byte) error {
	if err := os.MkdirAll(filepath.Join(dir, "server"), 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, m.Icon), icon, 0o644); err != nil {
		return err
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, m.Server.EntryPoint), bin, 0o755)
}

// listTools starts the server as sc says, with an environment of its own
// (HOME, and sc.Env) rather than this process's, and lists its tools over
// stdio with mcp-go's client.
func listTools(ctx context.Context, sc serverCommand, home string) ([]bundleTool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	for _, k := range slices.Sorted(maps.Keys(sc.Env)) {
		env = append(env, k+"="+sc.Env[k])
	}
	c, err := client.NewStdioMCPClientWithOptions(sc.Command, nil, sc.Args, transport.WithCommandFunc(
		func(ctx context.Context, command string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = env
			return cmd, nil
		}))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "mcp-cfstorage-release", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	var tools []bundleTool
	req := mcp.ListToolsRequest{}
	for {
		list, err := c.ListTools(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("tools/list: %w", err)
		}
		for _, t := range list.Tools {
			tools = append(tools, bundleTool{Name: t.Name, Description: t.Description})
		}
		if list.NextCursor == "" {
			return tools, nil
		}
		req.Params.Cursor = list.NextCursor
	}
}

// runCheckBundle starts the server of an unpacked bundle the way the client
// resolved its mcp_config (-config: command, args, env, as mcpb's
// getMcpConfigForManifest gives them) and checks that it serves exactly the
// tools its manifest lists.
func runCheckBundle(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check-bundle", flag.ContinueOnError)
	dir := fs.String("dir", "", "the unpacked bundle")
	config := fs.String("config", "", "the resolved mcp_config (JSON)")
	home := fs.String("home", os.TempDir(), "HOME of the server")
	readOnly := fs.Bool("read-only", false, "the config sets read-only: expect fewer tools than the manifest lists, all of them listed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var m manifest
	if err := readJSON(filepath.Join(*dir, "manifest.json"), &m); err != nil {
		return err
	}
	var sc serverCommand
	if err := readJSON(*config, &sc); err != nil {
		return err
	}
	got, err := listTools(ctx, sc, *home)
	if err != nil {
		return fmt.Errorf("start %s: %w", sc.Command, err)
	}
	if *readOnly {
		if err := fewerTools(m.Tools, got); err != nil {
			return err
		}
		fmt.Printf("bundle %s %s, read-only: %s serves %d of the %d tools its manifest lists\n", m.Name, m.Version, sc.Command, len(got), len(m.Tools))
		return nil
	}
	if err := sameTools(m.Tools, got); err != nil {
		return err
	}
	fmt.Printf("bundle %s %s: %s serves the %d tools its manifest lists\n", m.Name, m.Version, sc.Command, len(got))
	return nil
}

// fewerTools checks a read-only server's tools: some, not all, of the
// manifest's, each as the manifest describes it.
func fewerTools(manifest, served []bundleTool) error {
	if len(served) == 0 || len(served) >= len(manifest) {
		return fmt.Errorf("read-only: %d tools served of the %d listed, want fewer but some", len(served), len(manifest))
	}
	for _, t := range served {
		if !slices.Contains(manifest, t) {
			return fmt.Errorf("read-only: %s is served but not listed as such", t.Name)
		}
	}
	return nil
}

// sameTools says how the tools a server lists differ from a manifest's.
func sameTools(manifest, served []bundleTool) error {
	if len(manifest) == 0 {
		return fmt.Errorf("the manifest lists no tools")
	}
	want := map[string]string{}
	for _, t := range manifest {
		want[t.Name] = t.Description
	}
	got := map[string]string{}
	for _, t := range served {
		got[t.Name] = t.Description
	}
	var diffs []string
	for _, n := range slices.Sorted(maps.Keys(want)) {
		d, ok := got[n]
		switch {
		case !ok:
			diffs = append(diffs, "listed, not served: "+n)
		case d != want[n]:
			diffs = append(diffs, "description differs: "+n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[n]; !ok {
			diffs = append(diffs, "served, not listed: "+n)
		}
	}
	if diffs != nil {
		return fmt.Errorf("the server's tools and the manifest's differ: %v", diffs)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
