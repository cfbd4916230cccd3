package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is one platform a release serves.
type target struct{ goos, goarch string }

// targets are the platforms of a release: Claude Desktop's (macOS,
// Windows) and servers' (Linux), each on both architectures.
var targets = []target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

func (t target) String() string { return t.goos + "_" + t.goarch }

// exe is the binary's file name on t.
func (t target) exe() string {
	if t.goos == "windows" {
		return name + ".exe"
	}
	return name
}

// mcpbPlatform is t.goos as MCP Bundles (Node's process.platform) name it.
func (t target) mcpbPlatform() string {
	if t.goos == "windows" {
		return "win32"
	}
	return t.goos
}

// release says what is being released.
type release struct {
	root    string    // repository root
	version string    // "v1.2.3" or a pseudo-version
	commit  string    // full hash of HEAD
	time    time.Time // HEAD's commit time: every archived file's mtime
}

// semver is the version without its "v", as manifests and server.json want it.
func (r release) semver() string { return strings.TrimPrefix(r.version, "v") }

func (r release) artefact(t target, ext string) string {
	return fmt.Sprintf("%s_%s_%s%s", name, r.semver(), t, ext)
}

func runBuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	version := fs.String("version", "", "version to stamp, v1.2.3 (default: HEAD's pseudo-version)")
	out := fs.String("out", "dist", "output directory (emptied first)")
	mcpb := fs.String("mcpb", "test/dist/node_modules/.bin/mcpb", "the mcpb CLI (npm ci in test/dist installs it)")
	caCerts := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image")
	only := fs.String("targets", "", "comma-separated subset of targets, e.g. linux_amd64 (default: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := headRelease(ctx, ".", *version)
	if err != nil {
		return err
	}
	ts := targets
	if *only != "" {
		ts = nil
		for _, t := range targets {
			if slices.Contains(strings.Split(*only, ","), t.String()) {
				ts = append(ts, t)
			}
		}
		if len(ts) == 0 {
			return fmt.Errorf("-targets %q: none of %v", *only, targets)
		}
	}
	if _, err := os.Stat(*mcpb); err != nil {
		return fmt.Errorf("-mcpb: %w (run npm ci in test/dist)", err)
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	return r.build(ctx, ts, *out, *mcpb, *caCerts)
}

// build writes every artefact of r for ts into out.
func (r release) build(ctx context.Context, ts []target, out, mcpb, caCerts string) error {
	bin := filepath.Join(out, "bin")
	var published []string // what the checksums file covers
	binaries := map[target]string{}
	for _, t := range ts {
		path := filepath.Join(bin, t.String(), t.exe())
		start := time.Now()
		if err := r.buildBinary(ctx, t, path); err != nil {
			return err
		}
		binaries[t] = path
		archive := r.artefact(t, ".tar.gz")
		if t.goos == "windows" {
			archive = r.artefact(t, ".zip")
		}
		files := []archiveFile{{name: t.exe(), path: path, mode: 0o755}, {name: "README.md", path: filepath.Join(r.root, "README.md"), mode: 0o644}}
		if err := writeArchive(filepath.Join(out, archive), files, r.time); err != nil {
			return err
		}
		published = append(published, archive)
		fmt.Fprintf(os.Stderr, "built %s (%s)\n", archive, time.Since(start).Round(time.Millisecond))
	}

	// The bundles list the tools the binary itself serves.
	host, err := r.hostBinary(ctx, binaries, filepath.Join(bin, "host", name))
	if err != nil {
		return err
	}
	tools, err := listTools(ctx, serverCommand{Command: host, Env: map[string]string{"CFSTORAGE_BACKEND": "local"}}, os.TempDir())
	if err != nil {
		return fmt.Errorf("list the tools of %s: %w", host, err)
	}
	icon, err := os.ReadFile(filepath.Join(r.root, "packaging", "icon.png"))
	if err != nil {
		return err
	}
	bundleSums := map[target]string{}
	for _, t := range ts {
		dir := filepath.Join(out, "bundle", t.String())
		if err := stageBundle(dir, bundleManifest(r, t, tools), binaries[t], icon); err != nil {
			return err
		}
		file := r.artefact(t, ".mcpb")
		if err := runCmd(ctx, "", mcpb, "validate", filepath.Join(dir, "manifest.json")); err != nil {
			return err
		}
		if err := runCmd(ctx, "", mcpb, "pack", dir, filepath.Join(out, file)); err != nil {
			return err
		}
		if bundleSums[t], err = sha256File(filepath.Join(out, file)); err != nil {
			return err
		}
		published = append(published, file)
	}

	sj, err := serverJSON(r, bundleSums)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "server.json"), sj, 0o644); err != nil {
		return err
	}
	for _, t := range ts {
		if t.goos == "linux" {
			if err := stageImage(filepath.Join(out, "image", t.String()), r.root, binaries[t], caCerts); err != nil {
				return err
			}
		}
	}
	return writeChecksums(out, fmt.Sprintf("%s_%s_checksums.txt", name, r.semver()), published)
}

// buildBinary builds the static, path-free, stamped binary for t.
func (r release) buildBinary(ctx context.Context, t target, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", r.version, r.commit),
		"-o", out, "./cmd/mcp-cfstorage")
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", t, err)
	}
	return nil
}

// hostBinary is a binary of r that runs here: the release's own when this
// platform is among the targets, else one built for it.
func (r release) hostBinary(ctx context.Context, built map[target]string, fallback string) (string, error) {
	host := target{runtime.GOOS, runtime.GOARCH}
	if b, ok := built[host]; ok {
		return b, nil
	}
	return fallback, r.buildBinary(ctx, host, fallback)
}

// headRelease describes HEAD of the repository at root; an empty version
// becomes HEAD's pseudo-version.
func headRelease(ctx context.Context, root, version string) (release, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return release{}, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return release{}, fmt.Errorf("run from the repository root: %w", err)
	}
	out, err := exec.CommandContext(ctx, "git", "-C", root, "show", "-s", "--format=%H %ct", "HEAD").Output()
	if err != nil {
		return release{}, fmt.Errorf("git show HEAD: %w", err)
	}
	hash, secs, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	unix, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || len(hash) != 40 {
		return release{}, fmt.Errorf("git show HEAD: unexpected %q", out)
	}
	r := release{root: root, version: version, commit: hash, time: time.Unix(unix, 0).UTC()}
	if r.version == "" {
		r.version = pseudoVersion(r)
	}
	if !strings.HasPrefix(r.version, "v") {
		return release{}, fmt.Errorf("-version %q: want a v-prefixed semantic version, e.g. v1.2.3", r.version)
	}
	return r, nil
}

// archiveFile is one file of a release archive.
type archiveFile struct {
	name string // name inside the archive
	path string // where it is now
	mode int64
}

// writeArchive writes files into a .tar.gz or .zip (by path's extension),
// every entry dated mtime so that the same commit gives the same bytes.
func writeArchive(path string, files []archiveFile, mtime time.Time) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if strings.HasSuffix(path, ".zip") {
		zw := zip.NewWriter(f)
		for _, af := range files {
			h := &zip.FileHeader{Name: af.name, Method: zip.Deflate, Modified: mtime}
			h.SetMode(os.FileMode(af.mode))
			w, err := zw.CreateHeader(h)
			if err != nil {
				return err
			}
			if err := copyFile(w, af.path); err != nil {
				return err
			}
		}
		return zw.Close()
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, af := range files {
		st, err := os.Stat(af.path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: af.name, Mode: af.mode, Size: st.Size(), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if err := copyFile(tw, af.path); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func sha256File(path string) (string, error) {
	h := sha256.New()
	if err := copyFile(h, path); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeChecksums writes dir/file in sha256sum's format ("<hex>  <name>"),
// so that `sha256sum -c` checks the downloads.
func writeChecksums(dir, file string, names []string) error {
	var b strings.Builder
	for _, n := range slices.Sorted(slices.Values(names)) {
		sum, err := sha256File(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	return os.WriteFile(filepath.Join(dir, file), []byte(b.String()), 0o644)
}

func runCmd(ctx context.Context, dir, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", prog, strings.Join(args, " "), err)
	}
	return nil
}
