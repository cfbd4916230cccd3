package main

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The image's start, as packaging/Containerfile declares it.
var (
	imageEntrypoint = []string{"/mcp-cfstorage"}
	imageCmd        = []string{"--transport", "http", "--listen", "0.0.0.0:8787"}
	imagePort       = "8787/tcp"
)

// stageImage lays out the build context of packaging/Containerfile in dir.
func stageImage(dir, root, binary, caCerts string) error {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		src, dst string
		mode     os.FileMode
	}{
		{filepath.Join(root, "packaging", "Containerfile"), "Containerfile", 0o644},
		{binary, name, 0o755},
		{caCerts, "ca-certificates.crt", 0o644},
	} {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.dst), b, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// imageConfig is the part of an OCI image config the checks read.
type imageConfig struct {
	User         string
	Entrypoint   []string
	Cmd          []string
	ExposedPorts map[string]struct{}
}

// runCheckImage reads `buildah inspect --type image` on stdin and checks the
// image's config, and that -binary (the image's, from its mounted root) is
// static: scratch has no dynamic loader.
func runCheckImage(args []string, stdin io.Reader) error {
	fs := flag.NewFlagSet("check-image", flag.ContinueOnError)
	binary := fs.String("binary", "", "the image's binary, from its mounted root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var inspect struct {
		OCIv1 struct {
			Config imageConfig `json:"config"`
		}
	}
	if err := json.NewDecoder(stdin).Decode(&inspect); err != nil {
		return fmt.Errorf("buildah inspect output: %w", err)
	}
	if err := checkImageConfig(inspect.OCIv1.Config); err != nil {
		return err
	}
	if *binary != "" {
		if err := checkStatic(*binary); err != nil {
			return err
		}
	}
	fmt.Printf("image: user %s, entrypoint %v, cmd %v, port %s; static binary\n", inspect.OCIv1.Config.User, imageEntrypoint, imageCmd, imagePort)
	return nil
}

func checkImageConfig(c imageConfig) error {
	var errs []error
	uid, _, _ := strings.Cut(c.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		errs = append(errs, fmt.Errorf("user %q: want a non-root numeric uid", c.User))
	}
	if !slices.Equal(c.Entrypoint, imageEntrypoint) {
		errs = append(errs, fmt.Errorf("entrypoint %q, want %q", c.Entrypoint, imageEntrypoint))
	}
	if !slices.Equal(c.Cmd, imageCmd) {
		errs = append(errs, fmt.Errorf("cmd %q, want %q", c.Cmd, imageCmd))
	}
	if _, ok := c.ExposedPorts[imagePort]; !ok || len(c.ExposedPorts) != 1 {
		errs = append(errs, fmt.Errorf("exposed ports %v, want only %s", c.ExposedPorts, imagePort))
	}
	return errors.Join(errs...)
}

// checkStatic fails for an ELF binary that needs a dynamic loader.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: the image has no loader", path)
		}
	}
	return nil
}
