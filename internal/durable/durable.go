// Package durable holds the one rule for making directory entries survive a
// crash: after a file is created, renamed or linked into a directory, the
// directory itself is fsynced. The local backend's blob store and fsroot's
// atomic downloads both rely on it. StartWriteback, a hint that lets a long
// write reach the disk before its fsync, lives here too.
package durable

import (
	"errors"
	"os"
)

// SyncDir makes the entries of dir (a rename, a link, a new file) durable.
// Where directories cannot be synced (see dirSync) it does nothing.
func SyncDir(dir string) error {
	if !dirSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return syncClose(d)
}

// SyncDirIn is SyncDir for the directory name inside root, so a caller
// confined to root never opens a path outside it.
func SyncDirIn(root *os.Root, name string) error {
	if !dirSync {
		return nil
	}
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	return syncClose(d)
}

func syncClose(d *os.File) error {
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}
