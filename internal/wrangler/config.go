// Package wrangler is the backend over a Worker project's `wrangler dev`
// state: its KV namespaces, R2 buckets and D1 databases are the bindings of
// the project's wrangler config, read through the Local Explorer API while
// dev runs, and from the persisted Miniflare files when it does not.
package wrangler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/tailscale/hujson"
)

// ConfigNames are the file names of a wrangler config, in the order wrangler
// 4 looks for them (findWranglerConfig: json, jsonc, toml).
var ConfigNames = []string{"wrangler.json", "wrangler.jsonc", "wrangler.toml"}

// DefaultDevPort is the port of `wrangler dev` when the config names none.
const DefaultDevPort = 8787

// Project is what the backend needs from a wrangler config: the bindings in
// force for one environment, and where dev listens.
type Project struct {
	// ConfigPath is the absolute path of the config file.
	ConfigPath string
	// Name is the Worker's name (top level "name"); may be empty.
	Name string
	// Env is the environment whose bindings these are; "" for the top level.
	Env string
	// DevIP and DevPort are "dev.ip" and "dev.port" of the config; empty and
	// 0 when unset.
	DevIP   string
	DevPort int

	KV []KVBinding
	R2 []R2Binding
	D1 []D1Binding
	// Remote names the bindings marked "remote": true, which dev sends to
	// Cloudflare rather than keep locally, so this backend leaves them out.
	Remote []string
}

// KVBinding is one entry of kv_namespaces.
type KVBinding struct {
	Binding   string `json:"binding" toml:"binding"`
	ID        string `json:"id" toml:"id"`
	PreviewID string `json:"preview_id" toml:"preview_id"`
	Remote    bool   `json:"remote" toml:"remote"`
}

// DevID is the namespace id `wrangler dev` keeps the binding's data under.
func (b KVBinding) DevID() string { return firstOf(b.PreviewID, b.ID, b.Binding) }

// R2Binding is one entry of r2_buckets.
type R2Binding struct {
	Binding           string `json:"binding" toml:"binding"`
	BucketName        string `json:"bucket_name" toml:"bucket_name"`
	PreviewBucketName string `json:"preview_bucket_name" toml:"preview_bucket_name"`
	Jurisdiction      string `json:"jurisdiction" toml:"jurisdiction"`
	Remote            bool   `json:"remote" toml:"remote"`
}

// DevName is the bucket name `wrangler dev` keeps the binding's objects under.
func (b R2Binding) DevName() string { return firstOf(b.PreviewBucketName, b.BucketName, b.Binding) }

// D1Binding is one entry of d1_databases.
type D1Binding struct {
	Binding           string `json:"binding" toml:"binding"`
	DatabaseName      string `json:"database_name" toml:"database_name"`
	DatabaseID        string `json:"database_id" toml:"database_id"`
	PreviewDatabaseID string `json:"preview_database_id" toml:"preview_database_id"`
	Remote            bool   `json:"remote" toml:"remote"`
}

// DevID is the database id `wrangler dev` keeps the binding's database under.
func (b D1Binding) DevID() string { return firstOf(b.PreviewDatabaseID, b.DatabaseID, b.Binding) }

// rawEnv is the part of a wrangler config (top level or one env block) that
// the backend reads. Bindings are "non-inheritable keys" in wrangler: an env
// block has only the bindings it lists itself, never the top level's
// (wrangler's config-schema.json: "This field is not automatically inherited
// from the top level environment, and so must be specified in every named
// environment").
type rawEnv struct {
	KV []KVBinding `json:"kv_namespaces" toml:"kv_namespaces"`
	R2 []R2Binding `json:"r2_buckets" toml:"r2_buckets"`
	D1 []D1Binding `json:"d1_databases" toml:"d1_databases"`
}

type rawConfig struct {
	rawEnv
	Name string `json:"name" toml:"name"`
	Dev  struct {
		IP   string `json:"ip" toml:"ip"`
		Port int    `json:"port" toml:"port"`
	} `json:"dev" toml:"dev"`
	Env map[string]rawEnv `json:"env" toml:"env"`
}

// FindConfig returns the wrangler config in dir, as wrangler would pick it,
// or an error wrapping fs.ErrNotExist when dir holds none.
func FindConfig(dir string) (string, error) {
	for _, name := range ConfigNames {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no wrangler config (%s) in %s: %w", strings.Join(ConfigNames, ", "), dir, fs.ErrNotExist)
}

// LoadProject reads the wrangler config at path and returns the bindings of
// environment env ("" for the top level). Every error names the file and
// what to change.
func LoadProject(path, env string) (*Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("wrangler config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("wrangler config %s does not exist: pass the project's wrangler.jsonc, wrangler.json or wrangler.toml with --wrangler-config: %w", abs, err)
		}
		return nil, fmt.Errorf("wrangler config %s: %w", abs, err)
	}
	raw, err := parseConfig(abs, data)
	if err != nil {
		return nil, err
	}
	p := &Project{ConfigPath: abs, Name: raw.Name, Env: env, DevIP: raw.Dev.IP, DevPort: raw.Dev.Port}
	bindings := raw.rawEnv
	where := "" // the config path of the bindings, for errors
	if env != "" {
		e, ok := raw.Env[env]
		switch {
		case ok:
			bindings, where = e, "env."+env+"."
		case len(raw.Env) > 0:
			// As wrangler: an unknown env is an error when the config
			// defines environments, and the top level otherwise.
			names := slices.Sorted(maps.Keys(raw.Env))
			return nil, fmt.Errorf("wrangler config %s has no environment %q (it has %s): pass one of those with --wrangler-env, or add an [env.%s] section", abs, env, strings.Join(names, ", "), env)
		}
	}
	if err := p.setBindings(bindings, where); err != nil {
		return nil, fmt.Errorf("wrangler config %s: %w", abs, err)
	}
	if p.DevPort < 0 || p.DevPort > 65535 {
		return nil, fmt.Errorf("wrangler config %s: dev.port %d is not a TCP port (1..65535)", abs, p.DevPort)
	}
	return p, nil
}

// parseConfig decodes a config by its extension: TOML, or JSON with comments
// and trailing commas (wrangler parses .json files as JSONC too).
func parseConfig(path string, data []byte) (*rawConfig, error) {
	var raw rawConfig
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
			return nil, fmt.Errorf("wrangler config %s is not valid TOML: %w; fix the file (wrangler dev would refuse it too)", path, err)
		}
	case ".json", ".jsonc":
		std, err := hujson.Standardize(data)
		if err != nil {
			return nil, fmt.Errorf("wrangler config %s is not valid JSON: %w; fix the file (wrangler dev would refuse it too)", path, err)
		}
		if err := json.Unmarshal(std, &raw); err != nil {
			return nil, fmt.Errorf("wrangler config %s: %w; fix the file (wrangler dev would refuse it too)", path, err)
		}
	default:
		return nil, fmt.Errorf("wrangler config %s: the name must end in .jsonc, .json or .toml, as wrangler's do", path)
	}
	return &raw, nil
}

// setBindings keeps the local bindings of e, checking each has a name and
// that no two share one.
func (p *Project) setBindings(e rawEnv, where string) error {
	seen := map[string]string{}
	check := func(kind string, i int, binding, example string) error {
		field := fmt.Sprintf("%s%s[%d]", where, kind, i)
		if binding == "" {
			return fmt.Errorf(`%s has no "binding": add the name the Worker reads it by, e.g. "binding": %q`, field, example)
		}
		if prev, dup := seen[binding]; dup {
			return fmt.Errorf("%s: binding %q is also %s; each binding needs its own name", field, binding, prev)
		}
		seen[binding] = field
		return nil
	}
	for i, b := range e.KV {
		if err := check("kv_namespaces", i, b.Binding, "MY_KV"); err != nil {
			return err
		}
		if b.Remote {
			p.Remote = append(p.Remote, b.Binding)
			continue
		}
		p.KV = append(p.KV, b)
	}
	for i, b := range e.R2 {
		if err := check("r2_buckets", i, b.Binding, "MY_BUCKET"); err != nil {
			return err
		}
		if b.Remote {
			p.Remote = append(p.Remote, b.Binding)
			continue
		}
		p.R2 = append(p.R2, b)
	}
	for i, b := range e.D1 {
		if err := check("d1_databases", i, b.Binding, "DB"); err != nil {
			return err
		}
		if b.Remote {
			p.Remote = append(p.Remote, b.Binding)
			continue
		}
		p.D1 = append(p.D1, b)
	}
	return nil
}

// HasBindings reports whether the project binds any local KV, R2 or D1.
func (p *Project) HasBindings() bool { return len(p.KV)+len(p.R2)+len(p.D1) > 0 }

// DevURL is where `wrangler dev` listens for this project by default:
// dev.ip (loopback when unset or a wildcard) and dev.port (8787 when unset).
func (p *Project) DevURL() string {
	host := p.DevIP
	switch host {
	case "", "localhost", "*", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	port := p.DevPort
	if port == 0 {
		port = DefaultDevPort
	}
	return fmt.Sprintf("http://%s:%d", host, port)
}

// DefaultPersistDir is where `wrangler dev` keeps its state when not told
// otherwise: .wrangler/state beside the config.
func (p *Project) DefaultPersistDir() string {
	return filepath.Join(filepath.Dir(p.ConfigPath), ".wrangler", "state")
}

// KVNamespace finds the KV binding that ref names: its dev id, its id, its
// preview id or its binding name.
func (p *Project) KVNamespace(ref string) (KVBinding, bool) {
	for _, b := range p.KV {
		if ref != "" && (ref == b.DevID() || ref == b.ID || ref == b.PreviewID || ref == b.Binding) {
			return b, true
		}
	}
	return KVBinding{}, false
}

// R2Bucket finds the R2 binding that ref names: its dev bucket name, its
// bucket name, its preview bucket name or its binding name.
func (p *Project) R2Bucket(ref string) (R2Binding, bool) {
	for _, b := range p.R2 {
		if ref != "" && (ref == b.DevName() || ref == b.BucketName || ref == b.PreviewBucketName || ref == b.Binding) {
			return b, true
		}
	}
	return R2Binding{}, false
}

// D1Database finds the D1 binding that ref names: its dev id, its database
// id, its preview id, its database name or its binding name.
func (p *Project) D1Database(ref string) (D1Binding, bool) {
	for _, b := range p.D1 {
		if ref != "" && (ref == b.DevID() || ref == b.DatabaseID || ref == b.PreviewDatabaseID || ref == b.DatabaseName || ref == b.Binding) {
			return b, true
		}
	}
	return D1Binding{}, false
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
