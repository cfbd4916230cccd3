package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// serverSchema is the MCP registry's server.json schema this file follows;
// test/dist/run.sh validates against the copy in the registry's Go module.
const serverSchema = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"

type server struct {
	Schema      string        `json:"$schema"`
	Name        string        `json:"name"`
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Version     string        `json:"version"`
	WebsiteURL  string        `json:"websiteUrl"`
	Repository  serverRepo    `json:"repository"`
	Packages    []packageInfo `json:"packages"`
}

type serverRepo struct {
	URL    string `json:"url"`
	Source string `json:"source"`
}

type packageInfo struct {
	RegistryType         string       `json:"registryType"`
	Identifier           string       `json:"identifier"`
	Version              string       `json:"version,omitempty"`
	FileSHA256           string       `json:"fileSha256,omitempty"`
	Transport            pkgTransport `json:"transport"`
	EnvironmentVariables []input      `json:"environmentVariables,omitempty"`
}

type pkgTransport struct {
	Type    string  `json:"type"`
	URL     string  `json:"url,omitempty"`
	Headers []input `json:"headers,omitempty"`
}

type input struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	IsRequired  bool   `json:"isRequired,omitempty"`
	IsSecret    bool   `json:"isSecret,omitempty"`
	Default     string `json:"default,omitempty"`
}

// serverJSON describes r for the MCP registry: a bundle per platform built
// (bundleSums: each .mcpb's SHA-256, which the registry checks against the
// download) and the HTTP image.
func serverJSON(r release, bundleSums map[target]string) ([]byte, error) {
	s := server{
		Schema:      serverSchema,
		Name:        registryName,
		Title:       "Cloudflare Storage (KV, R2, D1)",
		Description: "Cloudflare Workers KV, R2 and D1 as tools; a local store with their semantics without a token.",
		Version:     r.semver(),
		WebsiteURL:  repoURL,
		Repository:  serverRepo{URL: repoURL, Source: "github"},
	}
	for _, t := range targets {
		sum, ok := bundleSums[t]
		if !ok {
			continue
		}
		s.Packages = append(s.Packages, packageInfo{
			RegistryType: "mcpb",
			Identifier:   fmt.Sprintf("%s/releases/download/%s/%s", repoURL, r.version, r.artefact(t, ".mcpb")),
			Version:      r.semver(),
			FileSHA256:   sum,
			Transport:    pkgTransport{Type: "stdio"},
		})
	}
	s.Packages = append(s.Packages, packageInfo{
		RegistryType: "oci",
		Identifier:   imageRepo + ":" + r.semver(),
		Transport: pkgTransport{Type: "streamable-http", URL: "http://localhost:8787/mcp", Headers: []input{{
			Name: "Authorization", Description: "Bearer followed by the container's CFSTORAGE_AUTH_TOKEN",
			IsRequired: true, IsSecret: true,
		}}},
		EnvironmentVariables: []input{
			{Name: "CFSTORAGE_AUTH_TOKEN", Description: "Bearer token every HTTP request must carry (the image listens on all addresses and refuses to start without it)", IsRequired: true, IsSecret: true},
			{Name: "CLOUDFLARE_API_TOKEN", Description: "Cloudflare API token (Workers KV Storage, Workers R2 Storage, D1); without it the embedded local store in /data", IsSecret: true},
			{Name: "CLOUDFLARE_ACCOUNT_ID", Description: "Cloudflare account ID; optional when the token sees exactly one account"},
			{Name: "CFSTORAGE_READ_ONLY", Description: "true to offer only the tools that read", Default: "false"},
		},
	})
	js, err := json.MarshalIndent(s, "", "  ")
	return append(js, '\n'), err
}

// runCheckServerJSON validates a server.json against the registry's schema
// (a local copy, loaded under its published URL) and checks its version
// and every bundle's version against -version.
func runCheckServerJSON(args []string) error {
	fs := flag.NewFlagSet("check-server-json", flag.ContinueOnError)
	schema := fs.String("schema", "", "the registry's server.schema.json (2025-12-11)")
	version := fs.String("version", "", "the version the binary prints")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *schema == "" {
		return fmt.Errorf("want -schema FILE [-version V] server.json")
	}
	doc, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if err := validateServerJSON(*schema, doc); err != nil {
		return err
	}
	var s server
	if err := json.Unmarshal(doc, &s); err != nil {
		return err
	}
	want := []string{"mcpb", "oci"}
	var got []string
	for _, p := range s.Packages {
		if !slices.Contains(got, p.RegistryType) {
			got = append(got, p.RegistryType)
		}
		if p.RegistryType == "mcpb" && p.Version != s.Version {
			return fmt.Errorf("package %s: version %q, server %q", p.Identifier, p.Version, s.Version)
		}
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("package types %v, want %v", got, want)
	}
	if *version != "" && "v"+s.Version != *version {
		return fmt.Errorf("server.json version %q is not the binary's %q", s.Version, *version)
	}
	fmt.Printf("server.json: valid against %s; version %s; %d packages\n", s.Schema, s.Version, len(s.Packages))
	return nil
}

func validateServerJSON(schemaFile string, doc []byte) error {
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		return err
	}
	sch, err := validator.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", schemaFile, err)
	}
	c := validator.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(serverSchema, sch); err != nil {
		return err
	}
	compiled, err := c.Compile(serverSchema)
	if err != nil {
		return fmt.Errorf("compile %s: %w", schemaFile, err)
	}
	v, err := validator.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	var s struct {
		Schema string `json:"$schema"`
	}
	if err := json.Unmarshal(doc, &s); err != nil || s.Schema != serverSchema {
		return fmt.Errorf("$schema %q, want %q", s.Schema, serverSchema)
	}
	if err := compiled.Validate(v); err != nil {
		return fmt.Errorf("server.json does not follow %s: %w", serverSchema, err)
	}
	return nil
}
