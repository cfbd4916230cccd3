package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// pseudoVersion is HEAD's Go pseudo-version, v0.0.0-<time>-<hash12>.
func pseudoVersion(r release) string {
	return module.PseudoVersion("v0", "", r.time, r.commit[:12])
}

// runModProxy writes a file:// module proxy (GOPROXY=file://DIR) that serves
// this module at HEAD's pseudo-version, and prints that version: with it,
// `go install module/cmd/mcp-cfstorage@version` runs as it would from the
// public proxy, without publishing anything.
func runModProxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("modproxy", flag.ContinueOnError)
	out := fs.String("out", "", "the proxy's directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("want -out DIR")
	}
	r, err := headRelease(ctx, ".", "")
	if err != nil {
		return err
	}
	if err := writeModProxy(ctx, r, *out); err != nil {
		return err
	}
	fmt.Println(r.version)
	return nil
}

// writeModProxy lays out the GOPROXY protocol's files for r: @v/list, and
// the version's .info, .mod and .zip. The zip holds the files git tracks at
// r.commit, as the public proxy's would.
func writeModProxy(ctx context.Context, r release, dir string) error {
	esc, err := module.EscapePath(modulePath)
	if err != nil {
		return err
	}
	v := filepath.Join(dir, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(v, 0o755); err != nil {
		return err
	}
	gomod, err := exec.CommandContext(ctx, "git", "-C", r.root, "show", r.commit+":go.mod").Output()
	if err != nil {
		return fmt.Errorf("git show go.mod: %w", err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{r.version, r.time})
	if err != nil {
		return err
	}
	for file, data := range map[string][]byte{"list": []byte(r.version + "\n"), r.version + ".info": info, r.version + ".mod": gomod} {
		if err := os.WriteFile(filepath.Join(v, file), data, 0o644); err != nil {
			return err
		}
	}
	files, err := gitFiles(ctx, r)
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(v, r.version+".zip"))
	if err != nil {
		return err
	}
	err = modzip.Create(f, module.Version{Path: modulePath, Version: r.version}, files)
	return errors.Join(err, f.Close())
}

// gitFiles are the files git tracks at r.commit, read from `git archive` as
// modzip.CreateFromVCS reads them; that function itself refuses a git
// worktree (it wants .git to be a directory).
func gitFiles(ctx context.Context, r release) ([]modzip.File, error) {
	cmd := exec.CommandContext(ctx, "git", "-c", "core.autocrlf=input", "-c", "core.eol=lf", "archive", "--format=zip", r.commit)
	cmd.Dir = r.root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git archive: %w: %s", err, stderr.String())
	}
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		return nil, err
	}
	var files []modzip.File
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, "/") {
			files = append(files, archived{zf})
		}
	}
	return files, nil
}

// archived is a file of a zip as modzip.Create takes it.
type archived struct{ f *zip.File }

func (a archived) Path() string                 { return a.f.Name }
func (a archived) Lstat() (os.FileInfo, error)  { return a.f.FileInfo(), nil }
func (a archived) Open() (io.ReadCloser, error) { return a.f.Open() }
