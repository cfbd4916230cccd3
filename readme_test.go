package cfstorage_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/config"
	"github.com/mcp-cfstorage/mcp-cfstorage/tools"
)

var updateReadme = flag.Bool("update", false, "rewrite the generated parts of README.md")

const (
	tableBegin = "<!-- tools:begin (generated: go test . -run TestReadme -update) -->\n"
	tableEnd   = "<!-- tools:end -->"
	bytesBegin = "<!-- tool-bytes (generated) -->"
	bytesEnd   = "<!-- /tool-bytes -->"
)

// The README's tool table is what the server registers, and every flag and
// environment variable is documented.
func TestReadme(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	all, err := tools.All(tools.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	want := tools.MarkdownTable(all)
	start := strings.Index(readme, tableBegin)
	end := strings.Index(readme, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md lacks the %q ... %q markers", tableBegin, tableEnd)
	}
	got := readme[start+len(tableBegin) : end]
	if got != want {
		if *updateReadme {
			readme = readme[:start+len(tableBegin)] + want + readme[end:]
			if err := os.WriteFile("README.md", []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Errorf("README.md tool table is stale; run go test . -run TestReadme -update\nwant:\n%s", want)
		}
	}
	// The status states what a model reads of the tool list.
	n, err := tools.ModelBytes(all)
	if err != nil {
		t.Fatal(err)
	}
	status := fmt.Sprintf("%s%d bytes%s", bytesBegin, n, bytesEnd)
	if i, j := strings.Index(readme, bytesBegin), strings.Index(readme, bytesEnd); i < 0 || j < i {
		t.Errorf("README.md lacks the %q ... %q markers", bytesBegin, bytesEnd)
	} else if readme[i:j+len(bytesEnd)] != status {
		if *updateReadme {
			readme = readme[:i] + status + readme[j+len(bytesEnd):]
			if err := os.WriteFile("README.md", []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Errorf("README.md states a stale tool-list size; run go test . -run TestReadme -update\nwant: %s", status)
		}
	}
	for name, env := range config.Flags() {
		if !strings.Contains(readme, "--"+name) || !strings.Contains(readme, env) {
			t.Errorf("README.md does not document --%s / %s", name, env)
		}
	}
}

// mcp.json.example is a valid Claude Desktop entry whose flags exist.
func TestMCPJSONExample(t *testing.T) {
	raw, err := os.ReadFile("mcp.json.example")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MCPServers map[string]struct {
			Command string            `json:"command"`
			Args    []string          `json:"args"`
			Env     map[string]string `json:"env"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("mcp.json.example: %v", err)
	}
	if len(doc.MCPServers) == 0 {
		t.Fatal("mcp.json.example has no mcpServers entry")
	}
	flags := config.Flags()
	for name, s := range doc.MCPServers {
		if s.Command == "" {
			t.Errorf("%s: no command", name)
		}
		for _, a := range s.Args {
			if f, ok := strings.CutPrefix(a, "--"); ok {
				if _, known := flags[f]; !known {
					t.Errorf("%s: unknown flag %s", name, a)
				}
			}
		}
	}
}

// The README's layout names every directory that holds Go code, and every
// path it names exists (git ls-files), so it cannot fall behind.
func TestReadmeLayout(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "## Layout\n\n```\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no Layout block")
	}
	named := map[string]bool{}
	for line := range strings.Lines(block) {
		if line == "" || line[0] == ' ' {
			continue
		}
		p := strings.Fields(line)[0]
		named[strings.TrimSuffix(p, "/")] = true
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the layout names %s, which does not exist", p)
		}
	}
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != "." || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		if dir == "." || named[dir] {
			return nil
		}
		for parent := range named { // a vendored tree is named by its root
			if strings.HasPrefix(parent, "third_party/") && strings.HasPrefix(dir, parent+"/") {
				return nil
			}
		}
		t.Errorf("the layout does not name %s/", dir)
		named[dir] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
