package tools_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// File arguments (file_path, save_to) stay inside the files root: "..",
// absolute paths and symlinks that lead out are permission_denied, other
// unusable paths get the code that says why, and a refused call writes no
// file anywhere and stores nothing.

// pathEnv is the file system around one test server: base holds the files
// root, the data dir and out, a directory outside the root.
type pathEnv struct {
	*harness
	base string
	out  string
}

// A pathCase prepares files, then makes one call that must fail.
type pathCase struct {
	name string
	prep func(t *testing.T, e pathEnv) // may create files and links
	tool string
	args func(e pathEnv) map[string]any
	code string
	want []string
}

// resetFiles empties the root, puts secret.txt and existing.txt alone in
// out, and removes whatever else a case left in base.
func (fx *fixture) resetFiles(t *testing.T) {
	t.Helper()
	for dir, keep := range map[string][]string{fx.base: {"root", "data", "out"}, fx.root: nil, fx.out: nil} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range entries {
			if !slices.Contains(keep, d.Name()) {
				if err := os.RemoveAll(filepath.Join(dir, d.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	writeFile(t, filepath.Join(fx.out, "secret.txt"), "secret outside the root")
	writeFile(t, filepath.Join(fx.out, "existing.txt"), "must not be overwritten")
}

func newPathEnv(t *testing.T, s setup) pathEnv {
	t.Helper()
	fx := newFixture(t, t, s)
	fx.resetFiles(t)
	return pathEnv{harness: fx.session(t), base: fx.base, out: fx.out}
}

// files describes every file, directory and link in base, the data dir
// aside.
func (e pathEnv) files(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(e.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == e.dataDir {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(e.base, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link to " + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			out[rel] = "file " + hex.EncodeToString(sum[:8])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runPathCases runs the cases in order on shared fixtures (see fixture),
// with the files around the root reset before each.
func runPathCases(t *testing.T, s setup, cases []pathCase) {
	t.Helper()
	var fx *fixture
	for _, c := range cases {
		t.Run(c.name, func(st *testing.T) {
			clean := false
			defer func() {
				if !clean {
					fx = nil
				}
			}()
			if fx == nil {
				fx = newFixture(t, st, s)
			}
			fx.resetFiles(st)
			e := pathEnv{harness: fx.session(st), base: fx.base, out: fx.out}
			if c.prep != nil {
				c.prep(st, e)
			}
			files := e.files(st)
			args := c.args(e)
			msg := e.Fail(c.tool, args, c.code)
			checkMessage(st, msg, c.want...)
			if strings.Contains(msg, e.out) && !strings.Contains(fmt.Sprint(args), e.out) {
				st.Errorf("the error reveals where a path leads outside the root: %s", msg)
			}
			if after := e.files(st); !maps.Equal(after, files) {
				st.Errorf("the refused call changed files:\nbefore %v\nafter  %v", sortedPairs(files), sortedPairs(after))
				return
			}
			if after := e.state(st); after != fx.state {
				st.Errorf("the refused call changed the stored data\nbefore: %s\nafter: %s", fx.state, after)
				return
			}
			clean = true
		})
	}
}

func sortedPairs(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+": "+m[k])
	}
	return out
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		if errors.Is(err, fs.ErrExist) {
			t.Fatal(err)
		}
		t.Skipf("cannot make symbolic links here: %v", err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readers and writers are the tools that take file_path and save_to; every
// case runs against each of them.
var (
	readers = map[string]func(path string) map[string]any{
		"kv_put":    func(p string) map[string]any { return kv(map[string]any{"key": "from-file", "file_path": p}) },
		"r2_upload": func(p string) map[string]any { return r2(map[string]any{"key": "from-file", "file_path": p}) },
	}
	writers = map[string]func(path string) map[string]any{
		"kv_get":      func(p string) map[string]any { return kv(map[string]any{"key": "keep", "save_to": p}) },
		"r2_download": func(p string) map[string]any { return r2(map[string]any{"key": "keep.txt", "save_to": p}) },
	}
)

// pathRule is one way a path can be wrong, checked on every reader or
// writer tool.
type pathRule struct {
	name string
	prep func(t *testing.T, e pathEnv)
	path func(e pathEnv) string
	code string
	want []string
}

func expand(tools map[string]func(string) map[string]any, rules []pathRule) []pathCase {
	var cases []pathCase
	for _, tool := range slices.Sorted(maps.Keys(tools)) {
		for _, r := range rules {
			cases = append(cases, pathCase{
				name: tool + " " + r.name, prep: r.prep, tool: tool, code: r.code, want: r.want,
				args: func(e pathEnv) map[string]any { return tools[tool](r.path(e)) },
			})
		}
	}
	return cases
}

func TestFilePathConfined(t *testing.T) {
	t.Parallel()
	outside := []string{"file_path", "outside the allowed directories"}
	runPathCases(t, setup{}, expand(readers, []pathRule{
		{name: "relative path climbing out", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) {
				writeFile(t, filepath.Join(filepath.Dir(e.root), "x"), "next to the root")
			},
			path: func(pathEnv) string { return "../x" }},
		{name: "relative path climbing out to a missing file", code: denied, want: outside,
			path: func(pathEnv) string { return "../../no/such/file" }},
		{name: "relative path through a subdirectory and out", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) { mkdir(t, filepath.Join(e.root, "sub")) },
			path: func(e pathEnv) string { return "sub/../../" + filepath.Base(e.out) + "/secret.txt" }},
		{name: "absolute /etc/hostname", code: denied, want: outside,
			path: func(pathEnv) string { return "/etc/hostname" }},
		{name: "absolute path outside", code: denied, want: outside,
			path: func(e pathEnv) string { return filepath.Join(e.out, "secret.txt") }},
		{name: "absolute path that starts like the root", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) { writeFile(t, e.root+"-sibling", "a sibling, not inside") },
			path: func(e pathEnv) string { return e.root + "-sibling" }},
		{name: "symlink to a file outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) {
				symlink(t, filepath.Join(e.out, "secret.txt"), filepath.Join(e.root, "link.txt"))
			},
			path: func(pathEnv) string { return "link.txt" }},
		{name: "relative symlink to a file outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) {
				symlink(t, filepath.Join("..", filepath.Base(e.out), "secret.txt"), filepath.Join(e.root, "link.txt"))
			},
			path: func(pathEnv) string { return "link.txt" }},
		{name: "dangling symlink to outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) {
				symlink(t, filepath.Join(e.out, "missing.txt"), filepath.Join(e.root, "link.txt"))
			},
			path: func(pathEnv) string { return "link.txt" }},
		{name: "symlinked directory leading outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) { symlink(t, e.out, filepath.Join(e.root, "linkdir")) },
			path: func(pathEnv) string { return "linkdir/secret.txt" }},
		{name: "symlinked directory, absolute path", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) { symlink(t, e.out, filepath.Join(e.root, "linkdir")) },
			path: func(e pathEnv) string { return filepath.Join(e.root, "linkdir", "secret.txt") }},
		{name: "symlink loop", code: invalid, want: []string{"file_path", "loop1", "links"},
			prep: func(t *testing.T, e pathEnv) {
				symlink(t, "loop2", filepath.Join(e.root, "loop1"))
				symlink(t, "loop1", filepath.Join(e.root, "loop2"))
			},
			path: func(pathEnv) string { return "loop1" }},
		{name: "a directory", code: invalid, want: []string{"file_path", "directory"},
			prep: func(t *testing.T, e pathEnv) { mkdir(t, filepath.Join(e.root, "sub")) },
			path: func(pathEnv) string { return "sub" }},
		{name: "the root itself", code: invalid, want: []string{"file_path", "directory"},
			path: func(pathEnv) string { return "." }},
		{name: "a missing file", code: notFound, want: []string{"file_path", "no-such-file.txt", "no such file"},
			path: func(pathEnv) string { return "no-such-file.txt" }},
		{name: "a NUL byte", code: invalid, want: []string{"file_path", "NUL"},
			path: func(pathEnv) string { return "a\x00b" }},
	}))
}

func TestSaveToConfined(t *testing.T) {
	t.Parallel()
	outside := []string{"save_to", "outside the allowed directories"}
	runPathCases(t, setup{}, expand(writers, []pathRule{
		{name: "relative path climbing out", code: denied, want: outside,
			path: func(pathEnv) string { return "../escape.txt" }},
		{name: "relative path climbing out over an existing file", code: denied, want: outside,
			path: func(e pathEnv) string { return "../" + filepath.Base(e.out) + "/existing.txt" }},
		{name: "absolute path outside", code: denied, want: outside,
			path: func(e pathEnv) string { return filepath.Join(e.out, "new.txt") }},
		{name: "absolute path over a file outside", code: denied, want: outside,
			path: func(e pathEnv) string { return filepath.Join(e.out, "existing.txt") }},
		{name: "symlink to an existing file outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) {
				symlink(t, filepath.Join(e.out, "existing.txt"), filepath.Join(e.root, "link.txt"))
			},
			path: func(pathEnv) string { return "link.txt" }},
		{name: "dangling symlink to a new file outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) {
				symlink(t, filepath.Join(e.out, "new.txt"), filepath.Join(e.root, "link.txt"))
			},
			path: func(pathEnv) string { return "link.txt" }},
		{name: "symlinked directory leading outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) { symlink(t, e.out, filepath.Join(e.root, "linkdir")) },
			path: func(pathEnv) string { return "linkdir/new.txt" }},
		{name: "symlinked directory over an existing file outside", code: denied, want: outside,
			prep: func(t *testing.T, e pathEnv) { symlink(t, e.out, filepath.Join(e.root, "linkdir")) },
			path: func(pathEnv) string { return "linkdir/existing.txt" }},
		{name: "a directory", code: invalid, want: []string{"save_to", "directory"},
			prep: func(t *testing.T, e pathEnv) { mkdir(t, filepath.Join(e.root, "sub")) },
			path: func(pathEnv) string { return "sub" }},
		{name: "a symlink to a directory inside", code: invalid, want: []string{"save_to", "directory"},
			prep: func(t *testing.T, e pathEnv) {
				mkdir(t, filepath.Join(e.root, "sub"))
				symlink(t, "sub", filepath.Join(e.root, "subdir-link"))
			},
			path: func(pathEnv) string { return "subdir-link" }},
		{name: "the root itself", code: invalid, want: []string{"save_to", "root"},
			path: func(pathEnv) string { return "." }},
		{name: "a path ending in a separator", code: invalid, want: []string{"save_to", "separator"},
			path: func(pathEnv) string { return "newdir/" }},
		{name: "a parent that does not exist", code: notFound, want: []string{"save_to", "directory", "no such file"},
			path: func(pathEnv) string { return "no/such/dir/out.txt" }},
		{name: "a parent that is a file", code: invalid, want: []string{"save_to", "not a directory"},
			prep: func(t *testing.T, e pathEnv) { writeFile(t, filepath.Join(e.root, "plain.txt"), "a file") },
			path: func(pathEnv) string { return "plain.txt/out.txt" }},
		{name: "a NUL byte", code: invalid, want: []string{"save_to", "NUL"},
			path: func(pathEnv) string { return "a\x00b" }},
	}))
}

// With no --files-root and no client roots, file arguments are refused with
// a message that says how to allow them.
func TestNoRootsRefusesFiles(t *testing.T) {
	t.Parallel()
	howTo := []string{"--files-root", "disabled"}
	var cases []pathCase
	for _, rules := range []struct {
		tools map[string]func(string) map[string]any
		field string
	}{{readers, "file_path"}, {writers, "save_to"}} {
		for _, tool := range slices.Sorted(maps.Keys(rules.tools)) {
			for _, p := range []func(e pathEnv) string{
				func(e pathEnv) string { return filepath.Join(e.out, "secret.txt") },
				func(pathEnv) string { return "relative.txt" },
			} {
				cases = append(cases, pathCase{
					name: fmt.Sprintf("%s %d", tool, len(cases)), tool: tool, code: denied,
					args: func(e pathEnv) map[string]any { return rules.tools[tool](p(e)) },
					want: append([]string{rules.field}, howTo...),
				})
			}
		}
	}
	runPathCases(t, setup{noRoots: true}, cases)

	h := newPathEnv(t, setup{noRoots: true})
	if roots := h.OK("whoami", nil)["files_roots"].([]any); len(roots) != 0 {
		t.Errorf("whoami reports files roots %v on a server without any", roots)
	}
}

// The confinement is not a blanket refusal: paths inside the root work,
// including through symlinks that stay inside, and ".." that stays inside.
func TestPathsInsideTheRoot(t *testing.T) {
	t.Parallel()
	e := newPathEnv(t, setup{})
	mkdir(t, filepath.Join(e.root, "real"))
	writeFile(t, filepath.Join(e.root, "real", "in.txt"), "inside the root")
	symlink(t, "real", filepath.Join(e.root, "inner-link"))
	symlink(t, filepath.Join(e.root, "real", "in.txt"), filepath.Join(e.root, "file-link"))

	for _, p := range []string{"real/in.txt", "inner-link/in.txt", "file-link", "real/../real/in.txt", filepath.Join(e.root, "real", "in.txt")} {
		e.OK("kv_put", kv(map[string]any{"key": "k", "file_path": p}))
		if _, got := e.Read("kv_get", kv(map[string]any{"key": "k"})); got != "inside the root" {
			t.Errorf("file_path %q stored %v", p, got)
		}
		e.OK("r2_upload", r2(map[string]any{"key": "k", "file_path": p}))
		if _, got := e.Read("r2_download", r2(map[string]any{"key": "k"})); got != "inside the root" {
			t.Errorf("file_path %q uploaded %v", p, got)
		}
	}
	realRoot, err := filepath.EvalSymlinks(e.root)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"real/out1.txt", "inner-link/out2.txt", "real/../real/out3.txt", filepath.Join(e.root, "real", "out4.txt"), "file-link"} {
		// file-link names an existing file: replacing it needs overwrite.
		res := e.OK("kv_get", kv(map[string]any{"key": "keep", "save_to": p, "overwrite": p == "file-link"}))
		name := fmt.Sprintf("out%d.txt", i+1)
		if p == "file-link" {
			name = "in.txt" // written through the link, which stays inside
		}
		want := filepath.Join(realRoot, "real", name)
		if res["saved_to"] != want {
			t.Errorf("save_to %q: saved_to = %v, want %s", p, res["saved_to"], want)
		}
		if data, err := os.ReadFile(want); err != nil || string(data) != "original" {
			t.Errorf("save_to %q: %s holds %q (err %v)", p, want, data, err)
		}
	}
	if link, err := os.Readlink(filepath.Join(e.root, "file-link")); err != nil || link != filepath.Join(e.root, "real", "in.txt") {
		t.Errorf("saving through a symlink replaced the link itself: %q, %v", link, err)
	}
	if e.files(t)[filepath.Join("out", "existing.txt")] == "" {
		t.Error("the outside file is gone")
	}
}
