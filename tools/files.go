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

// openUpload opens a file named by a file_path argument, confined to the
// allowed directories. The *os.File is an io.ReaderAt, so backends may
// upload it in parallel parts.
func (d Deps) openUpload(ctx context.Context, path string) (*os.File, int64, error) {
	f, err := d.Roots(ctx).Open(path)
	if err != nil {
		return nil, 0, fileError("file_path", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fileError("file_path", err)
	}
	return f, st.Size(), nil
}

// saveTo streams r into the file named by a save_to argument, atomically:
// the destination holds either its old content or all of the new. An
// existing file is replaced only with overwrite; the refusal is checked
// before the download and again, race free, when the file is put in place.
func (d Deps) saveTo(ctx context.Context, path string, overwrite bool, r io.Reader) (string, int64, error) {
	af, err := d.Roots(ctx).Create(path, overwrite)
	if err != nil {
		return "", 0, saveToError(path, err)
	}
	defer af.Abort()
	n, err := io.Copy(af, contextReader{ctx, r})
	if err != nil {
		return "", n, fmt.Errorf("save_to: writing %s: %w", af.Path(), err)
	}
	if err := af.Commit(); err != nil {
		if errors.Is(err, fsroot.ErrExists) {
			return "", n, saveToError(path, err)
		}
		return "", n, fmt.Errorf("save_to: %w", err)
	}
	return af.Path(), n, nil
}

// checkOverwrite refuses overwrite without save_to: it would do nothing,
// so the caller has likely misplaced an argument.
func checkOverwrite(saveTo string, overwrite bool) error {
	if overwrite && saveTo == "" {
		return storage.Errorf(storage.CodeInvalidArgument, "overwrite: applies only to save_to, which is not given")
	}
	return nil
}

// saveToError is fileError for save_to, with the refusal to replace a file
// naming the argument that allows it.
func saveToError(path string, err error) error {
	if errors.Is(err, fsroot.ErrExists) {
		return storage.Errorf(storage.CodeAlreadyExists, "save_to: %q exists; pass overwrite: true to replace it", path)
	}
	return fileError("save_to", err)
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
