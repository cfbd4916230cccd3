package mcpserver

import "time"

// SetShutdownWait shortens how long Shutdown waits for transfers to undo
// themselves, so that a test of the bound does not take 30 s.
func (t *Tasks) SetShutdownWait(d time.Duration) { t.shutdownWait = d }
