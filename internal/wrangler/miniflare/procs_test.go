//go:build unix

package miniflare

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The tests here run a child process: the test binary again, with
// -test.run naming TestChild and what to do in the environment.
const (
	childRoleEnv = "MINIFLARE_TEST_CHILD"
	childDirEnv  = "MINIFLARE_TEST_DIR"
	childArgEnv  = "MINIFLARE_TEST_ARG"
)

func child(t *testing.T, role, dir, arg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childDirEnv+"="+dir, childArgEnv+"="+arg)
	return cmd
}

// TestChild is the child process of the tests below.
func TestChild(t *testing.T) {
	role := os.Getenv(childRoleEnv)
	if role == "" {
		t.Skip("run by TestWritesRefusedWhileAnotherProcessHoldsTheState and TestCrashAtEachStep")
	}
	dir, arg := os.Getenv(childDirEnv), os.Getenv(childArgEnv)
	switch role {
	case "hold":
		// Hold the SQLite file arg open in WAL mode, as workerd holds its
		// files while it runs, until killed.
		db, err := sql.Open("sqlite", arg)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.Exec("PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS _cf_ALARM (actor_id TEXT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		fmt.Println("HOLDING")
		time.Sleep(time.Minute)
	case "crash":
		// Overwrite "k" (KV and R2) with "new", and die at step arg.
		s := openStore(t, dir)
		s.step = func(name string) {
			if name == arg {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
		ctx := context.Background()
		s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "k", Body: strings.NewReader("new"), Size: 3})
		s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "k", Body: strings.NewReader("new"), Size: 3})
		fmt.Println("NOT KILLED")
	}
}

// A write is refused while another process holds the state: workerd's
// metadata.sqlite (any Durable Object class's), or the namespace's own file
// (the exclusive lock of the write's connection).
func TestWritesRefusedWhileAnotherProcessHoldsTheState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	if err := s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1}); err != nil {
		t.Fatal(err)
	}
	hold := func(t *testing.T, path string) {
		cmd := child(t, "hold", dir, path)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if sc := bufio.NewScanner(out); !sc.Scan() || sc.Text() != "HOLDING" {
			t.Fatalf("the child did not hold %s: %q", path, sc.Text())
		}
	}
	put := func() error {
		return s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "k", Body: strings.NewReader("w"), Size: 1})
	}

	t.Run("workerd's metadata.sqlite", func(t *testing.T) {
		// The cache's: a Worker with only a KV binding still has it.
		meta := filepath.Join(dir, "v3", "cache", "miniflare-CacheObject", "metadata.sqlite")
		os.MkdirAll(filepath.Dir(meta), 0o755)
		if _, running := s.Running(); running {
			t.Fatal("Running before anything holds the state")
		}
		hold(t, meta)
		if holder, running := s.Running(); !running || !strings.Contains(holder, meta) {
			t.Fatalf("Running = %q, %v", holder, running)
		}
		mustCode(t, put(), storage.CodeConflict, "wrangler dev is running", meta, "at http://127.0.0.1:8787/cdn-cgi/explorer/api did not answer")
		// Reads go on.
		if _, got := kvGet(t, s, fixtureKV.ID, "k"); string(got) != "v" {
			t.Fatalf("k = %q", got)
		}
	})
	t.Run("the namespace's own file", func(t *testing.T) {
		hold(t, s.objectFile(areaKV, fixtureKV.ID))
		mustCode(t, put(), storage.CodeConflict, "another process has the file open", "stop wrangler dev")
		if _, got := kvGet(t, s, fixtureKV.ID, "k"); string(got) != "v" {
			t.Fatalf("k = %q after a refused write", got)
		}
	})
	// Once the holders are gone, the write goes through.
	if err := put(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashAtEachStep kills a process in the middle of overwriting a KV
// value and an object, at each durable step of the write, and checks that
// what is left is the old value or the new one, whole, with every row's
// blob on disk; that the files pass SQLite's integrity check; and that
// the next write, and the sweep of temp files, work.
func TestCrashAtEachStep(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		step string
		want string // what "k" holds after the crash
	}{
		{"temp file synced", "old"},
		{"blobs written", "old"},
		{"rows written", "old"},
		{"committed", "new"},
	} {
		t.Run(c.step, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			if err := s.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "k", Body: strings.NewReader("old"), Size: 3}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "k", Body: strings.NewReader("old"), Size: 3}); err != nil {
				t.Fatal(err)
			}
			out, err := child(t, "crash", dir, c.step).CombinedOutput()
			if bytes.Contains(out, []byte("NOT KILLED")) || err == nil {
				t.Fatalf("the child was not killed at %q: %v\n%s", c.step, err, out)
			}

			if c.step == "temp file synced" {
				entries, _ := os.ReadDir(s.blobDir(areaKV, fixtureKV.ID))
				if len(entries) != 2 || !strings.HasPrefix(entries[0].Name(), tmpPrefix) {
					t.Fatalf("after a crash before the rename: %v, want the old blob and a temp file", entries)
				}
			}
			// The KV write died first: the object was never touched.
			if _, got := kvGet(t, s, fixtureKV.ID, "k"); string(got) != c.want {
				t.Errorf("KV k = %q, want %q", got, c.want)
			}
			o, err := s.R2().GetObject(ctx, "fixture-bucket", "k", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, o.Body); string(got) != "old" {
				t.Errorf("object k = %q, want the untouched old", got)
			}
			for _, path := range []string{s.objectFile(areaKV, fixtureKV.ID), s.objectFile(areaR2, "fixture-bucket")} {
				c, err := open(ctx, path, false)
				if err != nil {
					t.Fatal(err)
				}
				var ok string
				c.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok)
				c.Close()
				if ok != "ok" {
					t.Errorf("%s: integrity_check = %q", path, ok)
				}
			}

			// The next write works; an hour on, it sweeps the temp file a
			// crash before the rename left, and nothing else.
			later, err := Open(dir, fixture, Options{Now: func() time.Time { return time.Now().Add(2 * orphanAge) }})
			if err != nil {
				t.Fatal(err)
			}
			if err := later.KV().Put(ctx, fixtureKV.ID, storage.KVPut{Key: "k2", Body: strings.NewReader("x"), Size: 1}); err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(s.blobDir(areaKV, fixtureKV.ID))
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tmpPrefix) {
					t.Errorf("a temp file was not swept: %s", e.Name())
				}
			}
			if _, got := kvGet(t, s, fixtureKV.ID, "k"); string(got) != c.want {
				t.Errorf("KV k = %q after the next write, want %q", got, c.want)
			}
		})
	}
}
