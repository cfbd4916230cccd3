package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// fileError maps a confinement failure to permission_denied, keeping the
// message that says how to allow the path.
func fileError(field string, err error) error {
	if errors.Is(err, fsroot.ErrNoRoots) || errors.Is(err, fsroot.ErrOutside) {
		return storage.Errorf(storage.CodePermissionDenied, "%s: %w", field, err)
	}
	if errors.Is(err, os.ErrNotExist) {
		return storage.Errorf(storage.CodeNotFound, "%s: %w", field, err)
	}
	return storage.Errorf(storage.CodeInvalidArgument, "%s: %w", field, err)
}

// openUpload opens a file named by a file_path argument after confining it.
// The *os.File is an io.ReaderAt, so backends may upload it in parallel parts.
func (d Deps) openUpload(ctx context.Context, path string) (*os.File, int64, error) {
	resolved, err := d.Roots(ctx).ReadPath(path)
	if err != nil {
		return nil, 0, fileError("file_path", err)
	}
	f, err := os.Open(resolved)
	if err != nil {
		return nil, 0, fileError("file_path", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fileError("file_path", err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, storage.Errorf(storage.CodeInvalidArgument, "file_path: %q is not a regular file", path)
	}
	return f, st.Size(), nil
}

// saveTo streams r into the file named by a save_to argument, atomically:
// the destination holds either its old content or all of the new.
func (d Deps) saveTo(ctx context.Context, path string, r io.Reader) (string, int64, error) {
	resolved, err := d.Roots(ctx).WritePath(path)
	if err != nil {
		return "", 0, fileError("save_to", err)
	}
	af, err := fsroot.OpenAtomic(resolved)
	if err != nil {
		return "", 0, fileError("save_to", err)
	}
	defer af.Abort()
	n, err := io.Copy(af, contextReader{ctx, r})
	if err != nil {
		return "", n, fmt.Errorf("save_to: writing %s: %w", resolved, err)
	}
	if err := af.Commit(); err != nil {
		return "", n, fmt.Errorf("save_to: %w", err)
	}
	return resolved, n, nil
}

// contextReader stops a copy when the request is cancelled.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
