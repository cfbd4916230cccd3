package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/config"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// gate holds uploads under slow-up/ and downloads under slow-down/ mid-way:
// after the first MiB a body read waits until the transfer's context ends.
// An upload under stuck-up/ waits for release instead, deaf to its context,
// as a transfer to an unreachable store can.
type gate struct {
	started chan struct{}
	once    sync.Once
	release chan struct{}
}

type gatedBackend struct {
	storage.Backend
	g *gate
}

func (b gatedBackend) R2() storage.R2 { return gatedR2{b.Backend.R2(), b.g} }

func (b gatedBackend) KV() storage.KV { return gatedKV{b.Backend.KV(), b.g} }

type gatedKV struct {
	storage.KV
	g *gate
}

func (k gatedKV) Put(ctx context.Context, ns string, p storage.KVPut) error {
	if strings.HasPrefix(p.Key, "slow-up/") {
		p.Body = &stallingReader{ctx: ctx, r: p.Body, left: 1 << 20, g: k.g}
	}
	return k.KV.Put(ctx, ns, p)
}

type gatedR2 struct {
	storage.R2
	g *gate
}

func (r gatedR2) PutObject(ctx context.Context, p storage.ObjectPut) (storage.ObjectInfo, error) {
	if strings.HasPrefix(p.Key, "late-up/") {
		// Stored before the cancellation can reach it: the object is in
		// place, then the call waits for the cancellation and succeeds.
		info, err := r.R2.PutObject(context.WithoutCancel(ctx), p)
		r.g.once.Do(func() { close(r.g.started) })
		<-ctx.Done()
		return info, err
	}
	if strings.HasPrefix(p.Key, "slow-up/") {
		p.Body = &stallingReader{ctx: ctx, r: p.Body, left: 1 << 20, g: r.g}
	}
	if strings.HasPrefix(p.Key, "stuck-up/") {
		r.g.once.Do(func() { close(r.g.started) })
		<-r.g.release
	}
	return r.R2.PutObject(ctx, p)
}

func (r gatedR2) GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error) {
	obj, err := r.R2.GetObject(ctx, bucket, key, rng)
	if err == nil && strings.HasPrefix(key, "slow-down/") {
		obj.Body = struct {
			io.Reader
			io.Closer
		}{&stallingReader{ctx: ctx, r: obj.Body, left: 1 << 20, g: r.g}, obj.Body}
	}
	return obj, err
}

type stallingReader struct {
	ctx  context.Context
	r    io.Reader
	left int
	g    *gate
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		s.g.once.Do(func() { close(s.g.started) })
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	n, err := s.r.Read(p[:min(len(p), s.left)])
	s.left -= n
	return n, err
}

// taskServer is the server the binary builds, with tasks, on the embedded
// store behind a gate, and a raw client session in the same process.
type taskServer struct {
	t       *testing.T
	srv     *server.MCPServer
	tasks   *mcpserver.Tasks
	backend storage.Backend
	data    string
	files   string
	gate    *gate
	tr      *transport.InProcessTransport
	id      int
}

func newTaskServer(t *testing.T, threshold int64) *taskServer {
	t.Helper()
	ts := &taskServer{t: t, data: t.TempDir(), files: t.TempDir(), gate: &gate{started: make(chan struct{}), release: make(chan struct{})}}
	ts.backend = local.New(ts.data)
	t.Cleanup(func() { ts.backend.Close() })
	roots, err := fsroot.New(ts.files)
	if err != nil {
		t.Fatal(err)
	}
	ts.tasks = mcpserver.NewTasks(threshold, nil)
	ts.srv, err = mcpserver.New(mcpserver.Options{Version: "test", Roots: roots, Tasks: ts.tasks,
		Store: storage.Guard(gatedBackend{ts.backend, ts.gate}, storage.Policy{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.tasks.Shutdown() })
	ts.tr = transport.NewInProcessTransport(ts.srv)
	if err := ts.tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.tr.Close() })
	ts.call("initialize", map[string]any{"protocolVersion": mcp.ProtocolVersion20251125, "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "raw", "version": "1"}}, nil)
	return ts
}

// request sends one JSON-RPC request and returns its result or error.
func (ts *taskServer) request(method string, params any) (json.RawMessage, *transport.JSONRPCResponse) {
	ts.t.Helper()
	ts.id++
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := ts.tr.SendRequest(ctx, transport.JSONRPCRequest{JSONRPC: "2.0", ID: mcp.NewRequestId(int64(ts.id)), Method: method, Params: params})
	if err != nil {
		ts.t.Fatalf("%s: %v", method, err)
	}
	return res.Result, res
}

func (ts *taskServer) call(method string, params any, out any) {
	ts.t.Helper()
	raw, res := ts.request(method, params)
	if res.Error != nil {
		ts.t.Fatalf("%s: error %d %s", method, res.Error.Code, res.Error.Message)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			ts.t.Fatalf("%s: %v in %s", method, err, raw)
		}
	}
}

type task struct {
	TaskID, Status, StatusMessage string
}

func (ts *taskServer) startTask(tool string, args map[string]any) task {
	ts.t.Helper()
	var created struct{ Task *task }
	ts.call("tools/call", map[string]any{"name": tool, "arguments": args, "task": map[string]any{}}, &created)
	if created.Task == nil || created.Task.Status != "working" {
		ts.t.Fatalf("%s as a task: %+v", tool, created)
	}
	return *created.Task
}

func (ts *taskServer) status(id string) task {
	ts.t.Helper()
	var got task
	ts.call("tasks/get", map[string]any{"taskId": id}, &got)
	return got
}

func (ts *taskServer) waitStarted() {
	ts.t.Helper()
	select {
	case <-ts.gate.started:
	case <-time.After(30 * time.Second):
		ts.t.Fatal("the task's transfer never started")
	}
}

// files lists every regular file under dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// blobFiles lists the embedded store's object files and temporary files.
func (ts *taskServer) blobFiles() []string {
	var out []string
	for _, f := range filesUnder(ts.t, ts.data) {
		if strings.HasPrefix(f, "blobs") || strings.HasPrefix(f, "tmp") {
			out = append(out, f)
		}
	}
	return out
}

func (ts *taskServer) exists(bucket, key string) bool {
	ts.t.Helper()
	_, err := ts.backend.R2().HeadObject(context.Background(), bucket, key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		ts.t.Fatal(err)
	}
	return err == nil
}

func (ts *taskServer) writeFile(name string, size int) []byte {
	ts.t.Helper()
	b := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	if err := os.WriteFile(filepath.Join(ts.files, name), b, 0o644); err != nil {
		ts.t.Fatal(err)
	}
	return b
}

// TestTaskCancelOnLocalBackend: on the embedded store, a task's upload or
// download cancelled mid-transfer leaves no object, no blob, no temporary
// file and no partial save_to file once tasks/cancel has answered.
// (Issue 15, item 2: cancellation removes partial files.)
func TestTaskCancelOnLocalBackend(t *testing.T) {
	t.Run("upload", func(t *testing.T) {
		ts := newTaskServer(t, config.DefaultTaskThreshold)
		ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
		ts.writeFile("up.bin", 4<<20)
		tk := ts.startTask("r2_upload", map[string]any{"bucket": "bkt", "key": "slow-up/up.bin", "file_path": "up.bin"})
		ts.waitStarted()
		if got := ts.status(tk.TaskID); got.Status != "working" {
			t.Fatalf("tasks/get mid-transfer = %+v", got)
		}
		var cancelled task
		ts.call("tasks/cancel", map[string]any{"taskId": tk.TaskID}, &cancelled)
		if cancelled.Status != "cancelled" {
			t.Fatalf("tasks/cancel = %+v", cancelled)
		}
		if ts.exists("bkt", "slow-up/up.bin") {
			t.Error("the cancelled upload left an object")
		}
		if left := ts.blobFiles(); len(left) != 0 {
			t.Errorf("the cancelled upload left files in the store: %v", left)
		}
	})
	t.Run("download", func(t *testing.T) {
		ts := newTaskServer(t, config.DefaultTaskThreshold)
		ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
		ts.writeFile("src.bin", 4<<20)
		ts.call("tools/call", map[string]any{"name": "r2_upload", "arguments": map[string]any{"bucket": "bkt", "key": "slow-down/dl.bin", "file_path": "src.bin"}}, nil)
		before := filesUnder(t, ts.files)
		tk := ts.startTask("r2_download", map[string]any{"bucket": "bkt", "key": "slow-down/dl.bin", "save_to": "dl.bin"})
		ts.waitStarted()
		var cancelled task
		ts.call("tasks/cancel", map[string]any{"taskId": tk.TaskID}, &cancelled)
		if cancelled.Status != "cancelled" {
			t.Fatalf("tasks/cancel = %+v", cancelled)
		}
		if after := filesUnder(t, ts.files); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("files after the cancelled download = %v, want %v", after, before)
		}
	})
}

// TestKVTaskCancel: below KV's 25 MiB, kv_put from a file runs as a task
// too, and a cancelled one leaves no key, blob or temporary file.
func TestKVTaskCancel(t *testing.T) {
	ts := newTaskServer(t, 1<<20)
	ts.call("tools/call", map[string]any{"name": "create_kv_namespace", "arguments": map[string]any{"title": "ns"}}, nil)
	ts.writeFile("v.bin", 4<<20)
	tk := ts.startTask("kv_put", map[string]any{"namespace": "ns", "key": "slow-up/v", "file_path": "v.bin"})
	ts.waitStarted()
	var cancelled task
	ts.call("tasks/cancel", map[string]any{"taskId": tk.TaskID}, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Fatalf("tasks/cancel = %+v", cancelled)
	}
	var got struct{ StructuredContent map[string]any }
	ts.call("tools/call", map[string]any{"name": "kv_get", "arguments": map[string]any{"namespace": "ns", "key": "slow-up/v"}}, &got)
	if got.StructuredContent["found"] != false {
		t.Errorf("kv_get after the cancelled kv_put = %v", got.StructuredContent)
	}
	if left := ts.blobFiles(); len(left) != 0 {
		t.Errorf("the cancelled kv_put left files in the store: %v", left)
	}
}

// TestTaskEndsWithItsReaders: a running task is cancelled and undone when
// the server shuts down and when its session ends, and a task of another
// session can be neither read nor cancelled.
func TestTaskEndsWithItsReaders(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		ts := newTaskServer(t, config.DefaultTaskThreshold)
		ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
		ts.writeFile("up.bin", 4<<20)
		tk := ts.startTask("r2_upload", map[string]any{"bucket": "bkt", "key": "slow-up/up.bin", "file_path": "up.bin"})
		ts.waitStarted()
		if err := ts.tasks.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if ts.exists("bkt", "slow-up/up.bin") || len(ts.blobFiles()) != 0 {
			t.Errorf("after Shutdown: object %v, store files %v", ts.exists("bkt", "slow-up/up.bin"), ts.blobFiles())
		}
		if got := ts.status(tk.TaskID); got.Status != "cancelled" {
			t.Errorf("task after Shutdown = %+v", got)
		}
		// A task created after Shutdown does not run.
		ts.writeFile("late.bin", 1<<10)
		late := ts.startTask("r2_upload", map[string]any{"bucket": "bkt", "key": "late.bin", "file_path": "late.bin"})
		deadline := time.Now().Add(30 * time.Second)
		for ts.status(late.TaskID).Status == "working" && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := ts.status(late.TaskID); got.Status != "cancelled" || ts.exists("bkt", "late.bin") {
			t.Errorf("task after Shutdown = %+v, object written: %v", got, ts.exists("bkt", "late.bin"))
		}
	})
	t.Run("session end and other sessions", func(t *testing.T) {
		ts := newTaskServer(t, config.DefaultTaskThreshold)
		ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
		ts.writeFile("up.bin", 4<<20)
		tk := ts.startTask("r2_upload", map[string]any{"bucket": "bkt", "key": "slow-up/up.bin", "file_path": "up.bin"})
		ts.waitStarted()

		other := transport.NewInProcessTransport(ts.srv)
		if err := other.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		for _, method := range []string{"tasks/get", "tasks/cancel"} {
			res, err := other.SendRequest(context.Background(), transport.JSONRPCRequest{JSONRPC: "2.0", ID: mcp.NewRequestId(int64(1)),
				Method: method, Params: map[string]any{"taskId": tk.TaskID}})
			if err != nil || res.Error == nil {
				t.Errorf("%s from another session: %v %+v, want an error", method, err, res)
			}
		}
		if got := ts.status(tk.TaskID); got.Status != "working" {
			t.Fatalf("after another session's tasks/cancel: %+v, want working", got)
		}

		ts.tr.Close() // the session ends
		deadline := time.Now().Add(30 * time.Second)
		for !transferGone(ts) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !transferGone(ts) {
			t.Errorf("after the session ended: the transfer still runs: store files %v", ts.blobFiles())
		}
	})
}

// TestTaskShutdownBounded: a transfer that does not stop when its task is
// cancelled (its store unreachable) does not keep Shutdown, and so the
// process, from ending: Shutdown gives up after its wait and says so.
func TestTaskShutdownBounded(t *testing.T) {
	ts := newTaskServer(t, config.DefaultTaskThreshold)
	ts.tasks.SetShutdownWait(50 * time.Millisecond)
	ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
	ts.writeFile("up.bin", 1<<10)
	tk := ts.startTask("r2_upload", map[string]any{"bucket": "bkt", "key": "stuck-up/up.bin", "file_path": "up.bin"})
	ts.waitStarted()
	done := make(chan error, 1)
	go func() { done <- ts.tasks.Shutdown() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "still undoing") {
			t.Errorf("Shutdown with a transfer that does not stop = %v, want an error saying so", err)
		}
	case <-time.After(30 * time.Second): // a hang, not a timing: the wait is 50 ms
		t.Fatal("Shutdown waits for a transfer that does not stop")
	}
	// Let the transfer go, and wait for its task to end before the store closes.
	close(ts.gate.release)
	deadline := time.Now().Add(30 * time.Second)
	for ts.status(tk.TaskID).Status == "working" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// transferGone reports whether the gated upload has stopped and left
// nothing: no object, no blob, no temporary file.
func transferGone(ts *taskServer) bool {
	return len(ts.blobFiles()) == 0 && !ts.exists("bkt", "slow-up/up.bin")
}

// TestTaskCancelTooLate: a transfer that was done when tasks/cancel came
// completes its task, and tasks/cancel fails as for any finished task:
// "cancelled" never stands for an object that was stored.
func TestTaskCancelTooLate(t *testing.T) {
	ts := newTaskServer(t, config.DefaultTaskThreshold)
	ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
	ts.writeFile("up.bin", 1<<20)
	tk := ts.startTask("r2_upload", map[string]any{"bucket": "bkt", "key": "late-up/up.bin", "file_path": "up.bin"})
	ts.waitStarted()
	raw, res := ts.request("tasks/cancel", map[string]any{"taskId": tk.TaskID})
	if res.Error == nil || !strings.Contains(res.Error.Message, "completed") {
		t.Fatalf("tasks/cancel of a task whose upload was done = %s %+v, want an error naming its completion", raw, res.Error)
	}
	if got := ts.status(tk.TaskID); got.Status != "completed" || !ts.exists("bkt", "late-up/up.bin") {
		t.Fatalf("task %+v, object stored %v; want completed and stored", got, ts.exists("bkt", "late-up/up.bin"))
	}
	var result struct {
		IsError           bool
		StructuredContent map[string]any
	}
	ts.call("tasks/result", map[string]any{"taskId": tk.TaskID}, &result)
	if result.IsError || result.StructuredContent["size"] != float64(1<<20) {
		t.Fatalf("tasks/result = %+v", result)
	}
}

// TestTaskTTL: a task whose TTL runs out is stopped and undone, as mcp-go
// forgets it then and nobody could read its result.
func TestTaskTTL(t *testing.T) {
	ts := newTaskServer(t, config.DefaultTaskThreshold)
	ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
	ts.writeFile("up.bin", 4<<20)
	var created struct{ Task *task }
	ts.call("tools/call", map[string]any{"name": "r2_upload", "task": map[string]any{"ttl": 300},
		"arguments": map[string]any{"bucket": "bkt", "key": "slow-up/up.bin", "file_path": "up.bin"}}, &created)
	ts.waitStarted()
	deadline := time.Now().Add(30 * time.Second)
	for !transferGone(ts) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !transferGone(ts) {
		t.Fatalf("the transfer still runs after its task's TTL: store files %v", ts.blobFiles())
	}
}

// TestTaskDefaultTTL: a task the client gave no TTL gets a day (defaultTaskTTL),
// so that mcp-go does not keep it, and its result, for the life of the
// process; tasks/get says so. One with a TTL keeps it.
func TestTaskDefaultTTL(t *testing.T) {
	ts := newTaskServer(t, config.DefaultTaskThreshold)
	ts.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "bkt"}}, nil)
	ts.writeFile("up.bin", 1<<10)
	for _, tc := range []struct {
		task map[string]any
		want int64
	}{
		{map[string]any{}, (24 * time.Hour).Milliseconds()}, // defaultTaskTTL
		{map[string]any{"ttl": 600_000}, 600_000},
	} {
		var created struct {
			Task struct {
				TaskID string
				TTL    *int64
			}
		}
		ts.call("tools/call", map[string]any{"name": "r2_upload", "task": tc.task,
			"arguments": map[string]any{"bucket": "bkt", "key": "up.bin", "file_path": "up.bin"}}, &created)
		var got struct{ TTL *int64 }
		ts.call("tasks/get", map[string]any{"taskId": created.Task.TaskID}, &got)
		if created.Task.TTL == nil || *created.Task.TTL != tc.want || got.TTL == nil || *got.TTL != tc.want {
			t.Errorf("task %v: ttl %v at creation, %v in tasks/get; want %d", tc.task, created.Task.TTL, got.TTL, tc.want)
		}
	}
}

// TestTaskDeclarations: the threshold decides which transfer tools are
// offered as tasks, and 0 offers none.
func TestTaskDeclarations(t *testing.T) {
	for _, tc := range []struct {
		threshold int64
		tasks     []string
		hint      string
	}{
		{config.DefaultTaskThreshold, []string{"r2_download", "r2_upload"}, "Run r2_upload, r2_download of more than 64 MiB as tool-call tasks"},
		{1 << 20, []string{"kv_get", "kv_put", "r2_download", "r2_upload"}, "Run r2_upload, r2_download, kv_put, kv_get of more than 1 MiB as tool-call tasks"},
		{1000, []string{"kv_get", "kv_put", "r2_download", "r2_upload"}, "of more than 1000 bytes as tool-call tasks"},
		{0, nil, ""},
	} {
		ts := newTaskServer(t, tc.threshold)
		var init struct {
			Capabilities map[string]any
			Instructions string
		}
		ts.call("initialize", map[string]any{"protocolVersion": mcp.ProtocolVersion20251125, "capabilities": map[string]any{},
			"clientInfo": map[string]any{"name": "raw", "version": "1"}}, &init)
		var list struct{ Tools []mcp.Tool }
		ts.call("tools/list", map[string]any{}, &list)
		var got []string
		for _, tool := range list.Tools {
			if tool.Execution != nil && tool.Execution.TaskSupport == mcp.TaskSupportOptional {
				got = append(got, tool.Name)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.tasks, ",") {
			t.Errorf("threshold %d: tools offered as tasks %v, want %v", tc.threshold, got, tc.tasks)
		}
		if (init.Capabilities["tasks"] != nil) != (tc.threshold > 0) {
			t.Errorf("threshold %d: tasks capability %v", tc.threshold, init.Capabilities["tasks"])
		}
		if hint := strings.Contains(init.Instructions, "as tool-call tasks"); hint != (tc.threshold > 0) || !strings.Contains(init.Instructions, tc.hint) {
			t.Errorf("threshold %d: instructions %q, want %q", tc.threshold, init.Instructions, tc.hint)
		}
	}
}
