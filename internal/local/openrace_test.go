package local

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestConcurrentOpen opens one fresh data dir from several backends at once,
// each with its own connections, as separate processes would (SQLite's locks
// are per connection, within a process too). Every open must succeed: the
// first opens of a data dir race to switch it to WAL, which takes a lock
// upgrade SQLite does not wait for (see enableWAL). A fresh dir per round,
// many rounds, at most 15 s: before enableWAL, about one round in fifty
// failed with SQLITE_BUSY, and TestTwoProcesses about one run in three.
func TestConcurrentOpen(t *testing.T) {
	const openers = 16
	rounds := 300
	if testing.Short() {
		rounds = 30
	}
	deadline := time.Now().Add(15 * time.Second)
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		dir := t.TempDir()
		var wg sync.WaitGroup
		errs := make([]error, openers)
		start := make(chan struct{})
		for i := range openers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := New(dir)
				defer b.Close()
				<-start
				_, errs[i] = b.open(context.Background())
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, opener %d: %v", round, i, err)
			}
		}
	}
}
