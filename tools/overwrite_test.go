package tools_test

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// save_to never replaces an existing file unless overwrite is true (DESIGN
// §3): without it the call is already_exists, naming save_to and how to
// replace, and the file keeps its content; with it the file is replaced. A
// new file needs no overwrite, and overwrite without save_to is refused.
func TestSaveToOverwrite(t *testing.T) {
	t.Parallel()
	e := newPathEnv(t, setup{})
	// One session for both tools: e fails t itself, so no subtests.
	for tool, args := range writers {
		with := func(path string, extra map[string]any) map[string]any {
			a := args(path)
			maps.Copy(a, extra)
			return a
		}
		mine := filepath.Join(e.root, tool+"-mine.txt")
		writeFile(t, mine, "the user's own file")

		msg := e.Fail(tool, with(filepath.Base(mine), nil), "already_exists")
		for _, want := range []string{"save_to", filepath.Base(mine), "overwrite: true"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: refusal %q does not name %q", tool, msg, want)
			}
		}
		msg = e.Fail(tool, with(filepath.Base(mine), map[string]any{"overwrite": false}), "already_exists")
		if got, _ := os.ReadFile(mine); string(got) != "the user's own file" {
			t.Fatalf("%s: a refused save_to changed the file to %q", tool, got)
		}
		if entries, _ := os.ReadDir(e.root); len(entries) != 1 {
			t.Errorf("%s: a refused save_to left files behind: %v (%s)", tool, entries, msg)
		}

		e.OK(tool, with(filepath.Base(mine), map[string]any{"overwrite": true}))
		if got, _ := os.ReadFile(mine); string(got) != "original" {
			t.Errorf("%s: overwrite: true left %q, want the stored %q", tool, got, "original")
		}

		fresh := tool + "-new.txt"
		e.OK(tool, with(fresh, nil))
		if got, _ := os.ReadFile(filepath.Join(e.root, fresh)); string(got) != "original" {
			t.Errorf("%s: save_to a new file wrote %q", tool, got)
		}

		a := with("", map[string]any{"overwrite": true})
		delete(a, "save_to")
		if msg := e.Fail(tool, a, "invalid_argument"); !strings.Contains(msg, "overwrite") || !strings.Contains(msg, "save_to") {
			t.Errorf("%s: overwrite without save_to: %q should name both", tool, msg)
		}
		os.Remove(mine)
		os.Remove(filepath.Join(e.root, fresh))
	}
}
