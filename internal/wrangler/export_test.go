package wrangler

import "time"

// SetNow replaces the backend's clock, for tests of the probe's reuse.
func SetNow(b *Backend, now func() time.Time) { b.now = now }
