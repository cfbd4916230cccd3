package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// sdkClient is test/tasks/client.mjs: the official TypeScript SDK's client
// with its client-side tasks, run by Node, driven line by line.
type sdkClient struct {
	t      *testing.T
	stdin  io.WriteCloser
	events chan map[string]any
	stderr *mcptest.Output
}

// tasksClientDir is where test/tasks/run.sh installed the pinned SDK. Without
// it the tests that need it skip, unless CFSTORAGE_REQUIRE_TASKS_CLIENT says
// they must run.
func tasksClientDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CFSTORAGE_TASKS_CLIENT")
	if dir == "" {
		if os.Getenv("CFSTORAGE_REQUIRE_TASKS_CLIENT") != "" {
			t.Fatal("CFSTORAGE_TASKS_CLIENT is not set")
		}
		t.Skip("SKIPPED: needs the TypeScript SDK client: bash test/tasks/run.sh")
	}
	return dir
}

func startSDKClient(t *testing.T, env []string, args ...string) *sdkClient {
	t.Helper()
	dir := tasksClientDir(t)
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "client.mjs")}, args...)...)
	cmd.Env = append(childEnv(t.TempDir()), env...)
	c := &sdkClient{t: t, events: make(chan map[string]any, 1024), stderr: &mcptest.Output{}}
	cmd.Stderr = c.stderr
	var stdout io.ReadCloser
	c.stdin, stdout = startPiped(t, cmd)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				c.events <- ev
			}
		}
		close(c.events)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("client and server stderr:\n%s", c.stderr.String())
		}
	})
	return c
}

func (c *sdkClient) send(format string, args ...any) {
	fmt.Fprintf(c.stdin, format+"\n", args...)
}

// expect reads events until one of kind arrives and returns it with the
// events read before it.
func (c *sdkClient) expect(kind string) (map[string]any, []map[string]any) {
	c.t.Helper()
	var before []map[string]any
	timeout := time.After(90 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("the client ended before %q; events: %v", kind, before)
			}
			if ev["event"] == "failed" {
				c.t.Fatalf("the client failed: %v", ev)
			}
			if ev["event"] == kind {
				return ev, before
			}
			before = append(before, ev)
		case <-timeout:
			c.t.Fatalf("no %q event in 90 s; events: %v", kind, before)
		}
	}
}

func (c *sdkClient) call(tool string, args map[string]any) {
	b, _ := json.Marshal(args)
	c.send("call %s %s", tool, b)
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	return v
}

// TestTransferTasksWithTheTypeScriptSDK drives uploads and downloads as
// tasks from the official TypeScript SDK's client (callToolStream,
// getTask, cancelTask, tasks/result underneath), over stdio and over
// Streamable HTTP, against the built binary on the cloudflare backend
// (cffake + gofakes3): one task cancelled mid-transfer (no object, no
// multipart upload left), one completed with progress and its result.
// (Issue 15, item 3.)
func TestTransferTasksWithTheTypeScriptSDK(t *testing.T) {
	tasksClientDir(t)
	for _, mode := range []string{"stdio", "http"} {
		t.Run(mode, func(t *testing.T) {
			gate := newS3Gate()
			env, s3URL, objects := gatedAccount(t, gate)
			files := t.TempDir()
			var c *sdkClient
			if mode == "stdio" {
				c = startSDKClient(t, env, "stdio", binary, "--files-root", files)
			} else {
				p := startHTTPServerEnv(t, env, "--files-root", files)
				c = startSDKClient(t, nil, "http", p.url, httpToken)
			}
			connected, _ := c.expect("connected")
			if field(connected, "capabilities", "tasks", "requests", "tools", "call") == nil {
				t.Fatalf("the SDK sees no tools/call tasks: %v", connected)
			}
			tools, _ := c.expect("tools")
			if got := fmt.Sprint(tools["tasks"]); got != "[[r2_download optional] [r2_upload optional]]" {
				t.Errorf("tools offered as tasks: %s", got)
			}
			c.call("create_r2_bucket", map[string]any{"name": "assets"})
			c.expect("end")

			// Cancelled mid-transfer.
			sparseFile(t, filepath.Join(files, "big.bin"), 65<<20)
			c.call("r2_upload", map[string]any{"bucket": "assets", "key": "slow/big.bin", "file_path": "big.bin"})
			c.expect("created")
			select {
			case <-gate.partStarted:
			case <-time.After(30 * time.Second):
				t.Fatal("the task's upload sent no part")
			}
			c.send("get")
			if got, _ := c.expect("got"); field(got, "task", "status") != "working" {
				t.Fatalf("getTask mid-transfer = %v", got)
			}
			c.send("cancel")
			if got, _ := c.expect("cancelled"); field(got, "task", "status") != "cancelled" {
				t.Fatalf("cancelTask = %v", got)
			}
			if open := openUploads(t, s3URL, "assets"); len(open) != 0 {
				t.Errorf("multipart uploads left after cancelTask: %v", open)
			}
			if _, err := objects.HeadObject("assets", "slow/big.bin"); err == nil {
				t.Error("the cancelled upload left an object")
			}
			c.expect("end")

			// Completed, with progress, its result from tasks/result.
			src := bytes.Repeat([]byte("sdk-task-bytes"), 300_000)
			if err := os.WriteFile(filepath.Join(files, "small.bin"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			c.call("r2_upload", map[string]any{"bucket": "assets", "key": "done/small.bin", "file_path": "small.bin"})
			created, _ := c.expect("created")
			result, seen := c.expect("result")
			if field(result, "result", "isError") == true || field(result, "result", "structuredContent", "size") != float64(len(src)) {
				t.Fatalf("upload task result = %v", result)
			}
			if meta := field(result, "result", "_meta", "io.modelcontextprotocol/related-task", "taskId"); meta != field(created, "task", "taskId") {
				t.Errorf("the result names task %v, want %v", meta, field(created, "task", "taskId"))
			}
			var last map[string]any
			for _, ev := range seen {
				if ev["event"] == "progress" {
					last = ev
				}
			}
			if last == nil || last["progress"] != float64(len(src)) || last["total"] != float64(len(src)) {
				t.Errorf("last progress of the task = %v, want %d of %d", last, len(src), len(src))
			}
			c.expect("end")
			if stored := storedObject(t, objects, "assets", "done/small.bin"); !bytes.Equal(stored, src) {
				t.Fatalf("stored object: %d bytes, want %d", len(stored), len(src))
			}

			c.call("r2_download", map[string]any{"bucket": "assets", "key": "done/small.bin", "save_to": "copy.bin"})
			if got, _ := c.expect("result"); field(got, "result", "isError") == true {
				t.Fatalf("download task result = %v", got)
			}
			c.expect("end")
			if got, _ := os.ReadFile(filepath.Join(files, "copy.bin")); !bytes.Equal(got, src) {
				t.Fatalf("saved file: %d bytes, want %d", len(got), len(src))
			}
			c.send("list")
			if got, _ := c.expect("listed"); len(got["tasks"].([]any)) != 3 {
				t.Errorf("listTasks = %v, want the 3 tasks of this session", got)
			}
			c.send("quit")
		})
	}
}
