//go:build !linux

package miniflare

// syncFS is not offered here: syncBlobs fsyncs each blob.
func syncFS(string) (bool, error) { return false, nil }
