package local

// Helpers for the tests that run the backend in child processes: the test
// binary re-executes itself with -test.run naming a child test and an
// environment variable that tells the child test it is one.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// content is the value of key at version ver: size and bytes follow from
// both, so a reader can check any version it finds without having been
// told it was written.
func content(key string, ver uint64, maxSize int) []byte {
	seed := sha256.Sum256(fmt.Appendf(nil, "%s@%d", key, ver))
	size := int(binary.LittleEndian.Uint64(seed[:8]) % uint64(maxSize+1))
	buf := make([]byte, size)
	rand.NewChaCha8(seed).Read(buf)
	return buf
}

// ack is one write a child reported as acknowledged: "ACK <kind> <key> <ver>".
type ack struct {
	kind string // kv or r2
	key  string
	ver  uint64
}

// childOutput is what a child printed: its acks, and any other line
// (errors, panics, test output) for the failure message.
type childOutput struct {
	mu    sync.Mutex
	acks  []ack
	other []string
	first chan struct{} // closed at the first ack
	once  sync.Once
	// When the first and the last ack arrived.
	firstAt, lastAt time.Time
}

func (o *childOutput) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		o.mu.Lock()
		if len(f) == 4 && f[0] == "ACK" {
			ver, err := strconv.ParseUint(f[3], 10, 64)
			if err == nil {
				o.acks = append(o.acks, ack{f[1], f[2], ver})
				o.lastAt = time.Now()
				o.once.Do(func() {
					o.firstAt = o.lastAt
					close(o.first)
				})
				o.mu.Unlock()
				continue
			}
		}
		if line != "PASS" { // the test binary's own last line
			o.other = append(o.other, line)
		}
		o.mu.Unlock()
	}
}

// startChild runs the child test named run with env added. Its stdout is
// parsed into the returned output; done is closed once stdout is drained.
func startChild(t *testing.T, run string, env ...string) (cmd *exec.Cmd, out *childOutput, done chan struct{}) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	check(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	check(t, cmd.Start())
	out = &childOutput{first: make(chan struct{})}
	done = make(chan struct{})
	go func() {
		defer close(done)
		out.read(stdout)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("stderr of %s:\n%s", run, stderr.String())
		}
	})
	return cmd, out, done
}

// acker prints acks for a child, one whole line at a time.
type acker struct{ mu sync.Mutex }

func (a *acker) ack(kind, key string, ver uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(os.Stdout, "ACK %s %s %d\n", kind, key, ver)
}

func (a *acker) fail(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(os.Stdout, "ERR "+format+"\n", args...)
	os.Exit(1)
}

const (
	// Four times kvInlineMax: about three values in four are blobs, and
	// the versions of a key cross the threshold both ways.
	maxKVValue  = 4 * kvInlineMax
	maxR2Object = 1 << 20

	// A key under smallKVPrefix holds a value of up to maxSmallKV bytes,
	// always inline.
	smallKVPrefix = "small/"
	maxSmallKV    = 512
)

// maxKVSize is the largest value putVersionKV writes at key.
func maxKVSize(key string) int {
	if strings.HasPrefix(key, smallKVPrefix) {
		return maxSmallKV
	}
	return maxKVValue
}

func putVersionKV(ctx context.Context, b *Backend, ns, key string, ver uint64) error {
	data := content(key, ver, maxKVSize(key))
	return b.KV().Put(ctx, ns, storage.KVPut{Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
		Metadata: json.RawMessage(fmt.Sprintf(`{"v":%d}`, ver))})
}

func putVersionR2(ctx context.Context, b *Backend, bucket, key string, ver uint64) error {
	data := content(key, ver, maxR2Object)
	_, err := b.R2().PutObject(ctx, storage.ObjectPut{Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
		CustomMetadata: map[string]string{"v": strconv.FormatUint(ver, 10)}})
	return err
}

// readVersionKV returns the version stored at key after checking that the
// bytes are exactly that version's.
func readVersionKV(t *testing.T, b *Backend, ns, key string) (uint64, error) {
	t.Helper()
	v, err := b.KV().Get(context.Background(), ns, key)
	if err != nil {
		return 0, err
	}
	defer v.Body.Close()
	data, err := io.ReadAll(v.Body)
	check(t, err)
	var meta struct{ V uint64 }
	if err := json.Unmarshal(v.Metadata, &meta); err != nil {
		t.Fatalf("KV %q: metadata %s: %v", key, v.Metadata, err)
	}
	if !bytes.Equal(data, content(key, meta.V, maxKVSize(key))) {
		t.Errorf("KV %q: %d bytes that are not version %d", key, len(data), meta.V)
	}
	return meta.V, nil
}

// readVersionR2 is readVersionKV for objects, checking size and MD5 too.
func readVersionR2(t *testing.T, b *Backend, bucket, key string) (uint64, error) {
	t.Helper()
	data, obj, err := getObject(t, b, bucket, key, nil)
	if err != nil {
		return 0, err
	}
	ver, err := strconv.ParseUint(obj.Info.CustomMetadata["v"], 10, 64)
	if err != nil {
		t.Fatalf("R2 %q: custom metadata %v", key, obj.Info.CustomMetadata)
	}
	if int64(len(data)) != obj.Info.Size || md5hex(data) != obj.Info.ETag {
		t.Errorf("R2 %q: torn: %d bytes with MD5 %s, row says %d bytes, ETag %s", key, len(data), md5hex(data), obj.Info.Size, obj.Info.ETag)
	}
	if !bytes.Equal(data, content(key, ver, maxR2Object)) {
		t.Errorf("R2 %q: %d bytes that are not version %d", key, len(data), ver)
	}
	return ver, nil
}
