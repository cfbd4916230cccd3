package local

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// dbErr gives a database error of operation op its storage code: a
// cancelled request stays a context error, a lock held too long by another
// process or a full or failing disk is unavailable (trying later may work),
// anything else is internal.
func dbErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("local: %s: %w", op, ctx.Err())
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return storage.Errorf(storage.CodeUnavailable,
				"local: %s: the data dir is busy: another process held its write lock for over %s: %w", op, busyTimeout, err)
		case sqlite3.SQLITE_FULL:
			return storage.Errorf(storage.CodeUnavailable, "local: %s: the disk is full: %w", op, err)
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return storage.Errorf(storage.CodeUnavailable, "local: %s: %w", op, err)
		}
	}
	return storage.Errorf(storage.CodeInternal, "local: %s: %w", op, err)
}

// isBusy reports whether err is SQLite's SQLITE_BUSY or one of its
// extended codes: a lock another connection holds.
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// fsErr is dbErr for the blob files.
func fsErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("local: %s: %w", op, ctx.Err())
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return storage.Errorf(storage.CodeUnavailable, "local: %s: the disk is full: %w", op, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return storage.Errorf(storage.CodeUnavailable, "local: %s: %w", op, err)
	}
	return storage.Errorf(storage.CodeInternal, "local: %s: %w", op, err)
}
