package miniflare

import (
	"runtime"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The platform rule lives in the build-tagged lock files; this pins which a
// platform gets: only Unix can see workerd's lock, so only Unix may write.
func TestCanTellRunningRule(t *testing.T) {
	nonUnix := map[string]bool{"windows": true, "plan9": true, "js": true, "wasip1": true}
	if want := !nonUnix[runtime.GOOS]; canTellRunning != want {
		t.Fatalf("canTellRunning = %v on %s, want %v", canTellRunning, runtime.GOOS, want)
	}
}

// Where the lock cannot be seen, every write is refused as unsupported,
// naming the way out; where it can, the rule lets Running decide.
func TestWriteRefusalWhereDevCannotBeSeen(t *testing.T) {
	if err := writeRefusal(true, "linux"); err != nil {
		t.Fatalf("writeRefusal(true) = %v, want nil", err)
	}
	err := writeRefusal(false, "windows")
	if got := storage.CodeOf(err); got != storage.CodeUnsupported {
		t.Fatalf("writeRefusal(false) code = %q (%v), want unsupported", got, err)
	}
	for _, want := range []string{"windows", "cannot tell whether wrangler dev", "run wrangler dev", "--wrangler-url", "Local Explorer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
}
