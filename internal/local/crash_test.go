package local

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Environment of a crash child: the data dir, the namespace id, the round.
const (
	crashDirEnv   = "LOCAL_TEST_CRASH_DIR"
	crashNSEnv    = "LOCAL_TEST_CRASH_NS"
	crashRoundEnv = "LOCAL_TEST_CRASH_ROUND"
	crashBucket   = "crash"
	crashRounds   = 5
)

// TestCrash kills a writing process with SIGKILL at random moments and
// checks, after each kill, that every write it acknowledged is there with
// its exact bytes (or a later version of the key), and that no value or
// object is torn. Most KV values are over kvInlineMax, so blobs. At the end,
// the orphans the kills left are swept, and the blobs of live values kept.
func TestCrash(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("kills child processes for seconds; skipped with -short and -race")
	}
	dir, ns := crashDir(t)

	last, total, _ := crashLoop(t, "TestCrashChild", dir, ns)
	if t.Failed() {
		return
	}

	// An hour on, opening the store sweeps what the kills left: every blob
	// left belongs to a row and no temp file is left.
	before := len(blobFiles(t, dir)) + len(tmpFiles(t, dir))
	b := New(dir, WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	defer b.Close()
	st := openedStore(t, b)
	<-st.sweepDone
	var objects, values int
	check(t, st.db.QueryRow("SELECT count(*) FROM r2_objects").Scan(&objects))
	check(t, st.db.QueryRow("SELECT count(*) FROM kv_values WHERE blob_id IS NOT NULL").Scan(&values))
	rows := objects + values
	if values == 0 {
		t.Error("no KV value is a blob: the test proves nothing about them")
	}
	if blobs := blobFiles(t, dir); len(blobs) != rows {
		t.Errorf("after the sweep: %d blob files for %d objects and %d KV values", len(blobs), objects, values)
	}
	// And the sweep took none that a row names.
	verifyCrash(t, dir, ns, last)
	if tmp := tmpFiles(t, dir); len(tmp) != 0 {
		t.Errorf("after the sweep: temp files %q", tmp)
	}
	t.Logf("%d acknowledged writes in %d rounds, %d objects, %d KV blobs, %d files swept", total, crashRounds, objects, values, before-rows)
}

// crashLoop runs crashRounds rounds of the child test child on dir, killing
// it at a random moment in each, and verifies after each kill that every
// write it acknowledged is there. It returns the last acknowledged version
// of each key, the number of writes acknowledged, and the "commit" lines
// the child printed (the sizes of its group commits).
func crashLoop(t *testing.T, child, dir, ns string) (last map[ack]uint64, total int, commits []uint64) {
	t.Helper()
	last = map[ack]uint64{} // {kind, key} -> the last acknowledged version
	for round := 1; round <= crashRounds; round++ {
		cmd, out, done := startChild(t, child,
			crashDirEnv+"="+dir, crashNSEnv+"="+ns, crashRoundEnv+"="+strconv.Itoa(round))
		select {
		case <-out.first:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: the child acknowledged nothing; it printed %q", round, out.other)
		}
		time.Sleep(time.Duration(50+rand.IntN(700)) * time.Millisecond)
		check(t, cmd.Process.Kill()) // SIGKILL: no deferred function runs
		cmd.Wait()
		<-done // every ack written before the kill has been read

		if len(out.other) > 0 {
			t.Fatalf("round %d: the child printed %q", round, out.other)
		}
		n := 0
		for _, a := range out.acks {
			if a.kind == "commit" {
				commits = append(commits, a.ver)
				continue
			}
			k := ack{kind: a.kind, key: a.key}
			last[k] = max(last[k], a.ver)
			n++
		}
		total += n
		verifyCrash(t, dir, ns, last)
		t.Logf("round %d: %d acknowledged writes verified", round, n)
	}
	return last, total, commits
}

func verifyCrash(t *testing.T, dir, ns string, last map[ack]uint64) {
	t.Helper()
	b := New(dir)
	defer b.Close()
	for k, ver := range last {
		var got uint64
		var err error
		if k.kind == "kv" {
			got, err = readVersionKV(t, b, ns, k.key)
		} else {
			got, err = readVersionR2(t, b, crashBucket, k.key)
		}
		if err != nil {
			t.Errorf("%s %q: acknowledged version %d is lost: %v", k.kind, k.key, ver, err)
		} else if got < ver {
			t.Errorf("%s %q: version %d found, but %d was acknowledged", k.kind, k.key, got, ver)
		}
	}
	// Every KV value, acknowledged or not, is whole.
	kvOpts := storage.ListOptions{Limit: storage.MaxKVListLimit}
	for {
		page, err := b.KV().List(context.Background(), ns, kvOpts)
		check(t, err)
		for _, k := range page.Keys {
			if _, err := readVersionKV(t, b, ns, k.Name); err != nil {
				t.Errorf("listed KV key %q: %v", k.Name, err)
			}
		}
		if page.Cursor == "" {
			break
		}
		kvOpts.Cursor = page.Cursor
	}
	// Every object, acknowledged or not, is whole.
	opts := storage.ObjectListOptions{Limit: storage.MaxObjectList}
	for {
		page, err := b.R2().ListObjects(context.Background(), crashBucket, opts)
		check(t, err)
		for _, o := range page.Objects {
			if _, err := readVersionR2(t, b, crashBucket, o.Key); err != nil {
				t.Errorf("listed object %q: %v", o.Key, err)
			}
		}
		if page.Cursor == "" {
			break
		}
		opts.Cursor = page.Cursor
	}
}

// TestCrashGroupCommit is TestCrash for writes that share commits: 32
// writers of small KV values (inline, so a write is little more than its
// commit) and 4 of objects, all at once, so that most transactions carry
// several writes. Every write acknowledged before a kill must be there:
// a writer is answered only once the commit that carried its write is
// durable. The child reports the size of its groups, to show they formed.
func TestCrashGroupCommit(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("kills child processes for seconds; skipped with -short and -race")
	}
	dir, ns := crashDir(t)

	_, total, commits := crashLoop(t, "TestCrashGroupChild", dir, ns)
	biggest := uint64(0)
	for _, n := range commits {
		biggest = max(biggest, n)
	}
	if biggest < 2 {
		t.Errorf("no commit carried more than one write (group sizes %v): the test proves nothing", commits)
	}
	t.Logf("%d acknowledged writes in %d rounds; largest group commit: %d writes", total, crashRounds, biggest)
}

// TestCrashGroupChild is the process TestCrashGroupCommit kills. Besides
// its acks it prints "ACK commit group <n>" for each group commit larger
// than any before it.
func TestCrashGroupChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashGroupCommit")
	}
	ns := os.Getenv(crashNSEnv)
	round, _ := strconv.ParseUint(os.Getenv(crashRoundEnv), 10, 32)
	b := New(dir)
	ctx := context.Background()
	var out acker
	st, err := b.open(ctx)
	if err != nil {
		out.fail("opening: %v", err)
	}
	var biggest atomic.Int64
	st.committed = func(n int) {
		if n > 1 && int64(n) > biggest.Load() {
			biggest.Store(int64(n)) // one leader at a time: no race
			out.ack("commit", "group", uint64(n))
		}
	}

	writer := func(kind, prefix string, w int, put func(key string, ver uint64) error) {
		rng := rand.New(rand.NewPCG(round, uint64(w)))
		for seq := uint64(1); ; seq++ {
			key := fmt.Sprintf("%s%s/%d/%d", prefix, kind, w, rng.IntN(16))
			ver := round<<32 | seq
			if err := put(key, ver); err != nil {
				out.fail("%s %s %d: %v", kind, key, ver, err)
			}
			out.ack(kind, key, ver)
		}
	}
	for w := range 32 {
		go writer("kv", smallKVPrefix, w, func(key string, ver uint64) error { return putVersionKV(ctx, b, ns, key, ver) })
	}
	for w := range 4 {
		go writer("r2", "", w, func(key string, ver uint64) error { return putVersionR2(ctx, b, crashBucket, key, ver) })
	}
	time.Sleep(30 * time.Second) // killed long before
	out.fail("not killed")
}

// TestCrashChild is the process TestCrash kills: writers of KV values and
// objects, each key owned by one writer so its versions only grow, printing
// a line for every acknowledged write until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	ns := os.Getenv(crashNSEnv)
	round, _ := strconv.ParseUint(os.Getenv(crashRoundEnv), 10, 32)
	b := New(dir)
	ctx := context.Background()
	var out acker

	writer := func(kind string, w int, put func(key string, ver uint64) error) {
		rng := rand.New(rand.NewPCG(round, uint64(w)))
		for seq := uint64(1); ; seq++ {
			key := fmt.Sprintf("%s/%d/%d", kind, w, rng.IntN(16))
			ver := round<<32 | seq
			if err := put(key, ver); err != nil {
				out.fail("%s %s %d: %v", kind, key, ver, err)
			}
			out.ack(kind, key, ver)
		}
	}
	for w := range 3 {
		go writer("kv", w, func(key string, ver uint64) error { return putVersionKV(ctx, b, ns, key, ver) })
		go writer("r2", w, func(key string, ver uint64) error { return putVersionR2(ctx, b, crashBucket, key, ver) })
	}
	time.Sleep(30 * time.Second) // killed long before
	out.fail("not killed")
}

// crashDir makes the data dir the crash tests' children write to: one
// namespace and one bucket, closed before any child opens it.
func crashDir(t *testing.T) (dir, ns string) {
	dir = t.TempDir()
	b := New(dir)
	ns = mkNamespace(t, b, "crash")
	mkBucket(t, b, crashBucket)
	check(t, b.Close())
	return dir, ns
}
