package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

const (
	mpDirEnv = "LOCAL_TEST_MP_DIR"
	mpIDEnv  = "LOCAL_TEST_MP_ID"
	mpTitle  = "shared"
	mpBucket = "shared"
	mpOps    = 120
)

// TestTwoProcesses runs two processes on one fresh data dir: they race to
// create the schema, the namespace and the bucket, then write keys of their
// own and keys both write. Neither may see an error ("database is locked"
// above all), and afterwards every write is there: a process's own keys
// hold its last version, a shared key the last version of one of them.
func TestTwoProcesses(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs child processes for seconds; skipped with -short and -race")
	}
	dir := t.TempDir()
	type child struct {
		id   int
		wait func() error
		out  *childOutput
		done chan struct{}
	}
	var children []child
	for id := range 2 {
		cmd, out, done := startChild(t, "TestTwoProcessesChild", mpDirEnv+"="+dir, mpIDEnv+"="+strconv.Itoa(id))
		children = append(children, child{id, cmd.Wait, out, done})
	}
	last := make([]map[ack]uint64, len(children))
	for _, c := range children {
		<-c.done
		if err := c.wait(); err != nil || len(c.out.other) > 0 {
			t.Fatalf("child %d: %v; it printed %q", c.id, err, c.out.other)
		}
		last[c.id] = map[ack]uint64{}
		for _, a := range c.out.acks {
			k := ack{kind: a.kind, key: a.key}
			last[c.id][k] = max(last[c.id][k], a.ver)
		}
	}

	// Both wrote at once, or the test proves little.
	if a, b := children[0].out, children[1].out; !a.firstAt.Before(b.lastAt) || !b.firstAt.Before(a.lastAt) {
		t.Errorf("the children did not write at the same time: %v..%v and %v..%v", a.firstAt, a.lastAt, b.firstAt, b.lastAt)
	}

	b := New(dir)
	defer b.Close()
	ns, err := storage.Guard(b, storage.Policy{}).Namespace(context.Background(), mpTitle)
	check(t, err)
	seen := map[ack]bool{}
	for id, acks := range last {
		if len(acks) == 0 {
			t.Fatalf("child %d acknowledged nothing", id)
		}
		for k, ver := range acks {
			if seen[k] {
				continue
			}
			seen[k] = true
			var got uint64
			var err error
			if k.kind == "kv" {
				got, err = readVersionKV(t, b, ns.ID, k.key)
			} else {
				got, err = readVersionR2(t, b, mpBucket, k.key)
			}
			other := last[1-id][k] // 0 when only this child wrote k
			switch {
			case err != nil:
				t.Errorf("%s %q: %v", k.kind, k.key, err)
			case got != ver && got != other:
				t.Errorf("%s %q holds version %x; the last ones written were %x and %x", k.kind, k.key, got, ver, other)
			}
		}
	}
}

// TestTwoProcessesChild is one of the processes of TestTwoProcesses.
func TestTwoProcessesChild(t *testing.T) {
	dir := os.Getenv(mpDirEnv)
	if dir == "" {
		t.Skip("run by TestTwoProcesses")
	}
	id, _ := strconv.ParseUint(os.Getenv(mpIDEnv), 10, 32)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var out acker
	b := New(dir)
	defer b.Close()

	var ns string
	created, err := b.KV().CreateNamespace(ctx, mpTitle)
	switch {
	case err == nil:
		ns = created.ID
	case errors.Is(err, storage.ErrAlreadyExists):
		found, err := storage.Guard(b, storage.Policy{}).Namespace(ctx, mpTitle)
		if err != nil {
			out.fail("resolving the namespace: %v", err)
		}
		ns = found.ID
	default:
		out.fail("creating the namespace: %v", err)
	}
	if _, err := b.R2().CreateBucket(ctx, storage.BucketSpec{Name: mpBucket}); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		out.fail("creating the bucket: %v", err)
	}

	for i := range uint64(mpOps) {
		ver := id<<32 | (i + 1) // never 0, which stands for "not written"
		own, shared := fmt.Sprintf("p%d/%d", id, i), fmt.Sprintf("shared/%d", i%8)
		for _, key := range []string{own, shared} {
			if err := putVersionKV(ctx, b, ns, key, ver); err != nil {
				out.fail("kv %s: %v", key, err)
			}
			out.ack("kv", key, ver)
			if i%4 == 0 {
				if err := putVersionR2(ctx, b, mpBucket, key, ver); err != nil {
					out.fail("r2 %s: %v", key, err)
				}
				out.ack("r2", key, ver)
			}
		}
	}
}
