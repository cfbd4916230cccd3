package cf

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// TestRESTTimeoutBoundsWaitsNotReading reads a value whose answer comes
// at once but whose body takes twice the timeout to arrive, without ever
// pausing long: it is read whole, as a large value on a slow link must be.
// A body that stops arriving fails, after the timeout, as unavailable
// (issue 10, item 11).
func TestRESTTimeoutBoundsWaitsNotReading(t *testing.T) {
	const timeout = 500 * time.Millisecond
	f := newFakeCloudflare(t)
	b := f.backend(t, func(c *Config) { c.AccountID, c.Timeout = cffake.DefaultAccountID, timeout })
	ns := mustNamespace(t, b, "slow")
	value := testData(40<<10, 31)
	mustPutValue(t, b, ns, storage.KVPut{Key: "big", Body: bytes.NewReader(value), Size: int64(len(value))})
	values := "/accounts/" + cffake.DefaultAccountID + "/storage/kv/namespaces/" + ns + "/values/"

	// 20 chunks, 50 ms apart: a second in all, twice the timeout.
	f.api.Slow(1, cffake.Pace{Method: "GET", PathPrefix: values, Chunk: 2 << 10, Every: 50 * time.Millisecond})
	start := time.Now()
	got, _ := readValue(t, b, ns, "big")
	if !bytes.Equal(got, value) {
		t.Fatalf("read %d bytes, not the value", len(got))
	}
	if took := time.Since(start); took < 2*timeout {
		t.Fatalf("the value came in %s: it was not paced, and the test proves nothing", took)
	}

	// Half of it, then nothing.
	f.api.Slow(1, cffake.Pace{Method: "GET", PathPrefix: values, Chunk: 2 << 10, StallAfter: 20 << 10})
	v, err := b.KV().Get(t.Context(), ns, "big")
	if err != nil {
		t.Fatalf("Get: %v (the answer's headers came at once)", err)
	}
	defer v.Body.Close()
	n, err := io.Copy(io.Discard, v.Body)
	wantCode(t, err, storage.CodeUnavailable, "stopped", timeout.String())
	if n != 20<<10 {
		t.Errorf("read %d bytes before the stall, want %d", n, 20<<10)
	}
}
