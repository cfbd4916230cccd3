package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// rawClient speaks JSON-RPC to the built server over its stdin and stdout,
// line by line, as an MCP client does, or through mcp-go's Streamable HTTP
// or SSE client transport. mcp-go's own client cannot decode a CreateTaskResult (it
// expects a tool result's content), so the task tests send the protocol's
// messages themselves.
type rawClient struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *mcptest.Output
	exited chan struct{}
	http   transport.HTTPConnection // Streamable HTTP or SSE, instead of stdin and stdout
	url    string                   // the Streamable HTTP endpoint, with http

	mu      sync.Mutex
	nextID  int
	pending map[int]chan rpcReply
	notes   []map[string]any // notifications' params, with "method"
}

type rpcReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// startRaw starts the binary with env and args and initializes a session.
func startRaw(t testing.TB, env []string, args ...string) (*rawClient, map[string]any) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(childEnv(t.TempDir()), env...)
	c := &rawClient{t: t, cmd: cmd, stderr: &mcptest.Output{}, exited: make(chan struct{}), pending: map[int]chan rpcReply{}}
	cmd.Stderr = c.stderr
	var stdout io.ReadCloser
	c.stdin, stdout = startPiped(t, cmd)
	go c.read(stdout)
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-c.exited:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("server stderr:\n%s", c.stderr.String())
		}
	})
	return c, c.initialize()
}

// startRawHTTP connects to p over Streamable HTTP without a standalone GET
// stream: notifications sent after a request has ended (a task's progress)
// arrive on the streams of the session's next requests. (The TypeScript
// SDK's test has the GET stream.)
func startRawHTTP(t testing.TB, p *httpProc) (*rawClient, map[string]any) {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(p.url,
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + httpToken}))
	if err != nil {
		t.Fatal(err)
	}
	return startRawOver(t, tr, p.url)
}

// startRawSSE connects to p over the legacy SSE transport (/sse, /message):
// everything the server sends arrives on the one /sse stream.
func startRawSSE(t testing.TB, p *httpProc) (*rawClient, map[string]any) {
	t.Helper()
	tr, err := transport.NewSSE(strings.TrimSuffix(p.url, "/mcp")+"/sse",
		transport.WithHeaders(map[string]string{"Authorization": "Bearer " + httpToken}))
	if err != nil {
		t.Fatal(err)
	}
	return startRawOver(t, tr, p.url)
}

// startRawOver starts tr and initializes a session over it.
func startRawOver(t testing.TB, tr transport.HTTPConnection, url string) (*rawClient, map[string]any) {
	t.Helper()
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, http: tr, url: url}
	tr.SetNotificationHandler(func(n mcp.JSONRPCNotification) {
		params := map[string]any{}
		for k, v := range n.Params.AdditionalFields {
			params[k] = v
		}
		params["method"] = n.Method
		c.mu.Lock()
		c.notes = append(c.notes, params)
		c.mu.Unlock()
	})
	t.Cleanup(func() { tr.Close() })
	return c, c.initialize()
}

// initialize opens a session on protocol 2025-11-25, the revision with
// tool-call tasks.
func (c *rawClient) initialize() map[string]any {
	var init map[string]any
	c.call("initialize", map[string]any{"protocolVersion": mcp.ProtocolVersion20251125,
		"capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "raw", "version": "1"}}, &init)
	if c.http != nil {
		c.http.SetProtocolVersion(mcp.ProtocolVersion20251125)
		c.http.SendNotification(context.Background(), mcp.JSONRPCNotification{JSONRPC: "2.0",
			Notification: mcp.Notification{Method: "notifications/initialized"}})
		return init
	}
	c.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	return init
}

func (c *rawClient) read(stdout io.Reader) {
	defer func() { c.cmd.Wait(); close(c.exited) }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var msg struct {
			ID     *int            `json:"id"`
			Method string          `json:"method"`
			Params map[string]any  `json:"params"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			continue
		}
		switch {
		case msg.Method != "" && msg.ID != nil: // a request of the server's: not supported here
			c.send(map[string]any{"jsonrpc": "2.0", "id": *msg.ID, "error": map[string]any{"code": -32601, "message": "not supported"}})
		case msg.Method != "":
			c.mu.Lock()
			p := msg.Params
			if p == nil {
				p = map[string]any{}
			}
			p["method"] = msg.Method
			c.notes = append(c.notes, p)
			c.mu.Unlock()
		case msg.ID != nil:
			var r rpcReply
			json.Unmarshal(sc.Bytes(), &r)
			c.mu.Lock()
			ch := c.pending[*msg.ID]
			delete(c.pending, *msg.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		}
	}
}

func (c *rawClient) send(msg any) {
	b, _ := json.Marshal(msg)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stdin.Write(append(b, '\n'))
}

// request sends a request and returns its reply.
func (c *rawClient) request(method string, params any) rpcReply {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	if c.http != nil {
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := c.http.SendRequest(ctx, transport.JSONRPCRequest{JSONRPC: "2.0", ID: mcp.NewRequestId(int64(id)), Method: method, Params: params})
		if err != nil {
			c.t.Fatalf("%s: %v", method, err)
		}
		r := rpcReply{Result: res.Result}
		if res.Error != nil {
			r.Error = &struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}{res.Error.Code, res.Error.Message}
		}
		return r
	}
	ch := make(chan rpcReply, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	c.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	select {
	case r := <-ch:
		return r
	case <-time.After(60 * time.Second):
		c.t.Fatalf("%s: no reply in 60 s", method)
		return rpcReply{}
	}
}

// call sends a request that must succeed and decodes its result into out.
func (c *rawClient) call(method string, params any, out any) {
	c.t.Helper()
	r := c.request(method, params)
	if r.Error != nil {
		c.t.Fatalf("%s: error %d %s", method, r.Error.Code, r.Error.Message)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			c.t.Fatalf("%s: %v in %s", method, err, r.Result)
		}
	}
}

// notesFor returns the notifications of a method received so far.
func (c *rawClient) notesFor(method string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, n := range c.notes {
		if n["method"] == method {
			out = append(out, n)
		}
	}
	return out
}

type taskInfo struct {
	TaskID        string `json:"taskId"`
	Status        string `json:"status"`
	StatusMessage string `json:"statusMessage"`
}

// startTask calls a tool as a task, with a progress token, and returns the
// task it created.
func (c *rawClient) startTask(tool string, args map[string]any, progress string) taskInfo {
	c.t.Helper()
	var created struct {
		Task    *taskInfo `json:"task"`
		Content []any     `json:"content"`
	}
	c.call("tools/call", map[string]any{"name": tool, "arguments": args, "task": map[string]any{},
		"_meta": map[string]any{"progressToken": progress}}, &created)
	if created.Task == nil || created.Task.TaskID == "" || created.Task.Status != "working" {
		c.t.Fatalf("%s as a task: no working task in the reply: %+v", tool, created)
	}
	return *created.Task
}

func (c *rawClient) taskStatus(id string) taskInfo {
	c.t.Helper()
	var got taskInfo
	c.call("tasks/get", map[string]any{"taskId": id}, &got)
	return got
}

// waitTask polls tasks/get until the task leaves "working".
func (c *rawClient) waitTask(id string) taskInfo {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := c.taskStatus(id)
		if got.Status != "working" || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// s3Gate holds transfers of keys under slow/ in the fake R2 mid-way, until
// the server gives up on them: an upload part is never answered, a download
// stops after its first MiB. An abort of a multipart upload takes a moment
// and is lost if the server goes away meanwhile, as over a real network: a
// process that exits without waiting for its aborts leaves uploads open.
type s3Gate struct {
	partStarted, getStarted chan struct{}
	onceP, onceG            sync.Once
}

// abortLatency is how long the gate holds an abort.
const abortLatency = 300 * time.Millisecond

func newS3Gate() *s3Gate {
	return &s3Gate{partStarted: make(chan struct{}), getStarted: make(chan struct{})}
}

func (g *s3Gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/slow/") {
			h.ServeHTTP(w, r)
			return
		}
		switch {
		case r.Method == http.MethodPut && r.URL.Query().Has("partNumber"):
			g.onceP.Do(func() { close(g.partStarted) })
			// Read the part, so that net/http notices the client leaving.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		case r.Method == http.MethodDelete && r.URL.Query().Has("uploadId"):
			select {
			case <-r.Context().Done():
				return
			case <-time.After(abortLatency):
			}
		case r.Method == http.MethodGet:
			h.ServeHTTP(&stallingWriter{ResponseWriter: w, r: r, g: g, left: 1 << 20}, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// stallingWriter passes the first left bytes of a body, then waits for the
// client to go away.
type stallingWriter struct {
	http.ResponseWriter
	r    *http.Request
	g    *s3Gate
	left int
}

func (s *stallingWriter) Write(p []byte) (int, error) {
	if len(p) <= s.left {
		s.left -= len(p)
		return s.ResponseWriter.Write(p)
	}
	n, _ := s.ResponseWriter.Write(p[:s.left])
	s.left = 0
	s.ResponseWriter.(http.Flusher).Flush()
	s.g.onceG.Do(func() { close(s.g.getStarted) })
	<-s.r.Context().Done()
	return n, s.r.Context().Err()
}

// gatedAccount is fakeAccount with the fake R2 behind g.
// storedObject is the content of an object in the S3 server's store.
func storedObject(t *testing.T, objects *s3mem.Backend, bucket, key string) []byte {
	t.Helper()
	obj, err := objects.GetObject(bucket, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Contents.Close()
	stored, err := io.ReadAll(obj.Contents)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

func gatedAccount(t *testing.T, g *s3Gate) (env []string, s3URL string, objects *s3mem.Backend) {
	t.Helper()
	objects = s3mem.New()
	s3 := httptest.NewServer(g.wrap(gofakes3.New(objects).Server()))
	t.Cleanup(s3.Close)
	api := cffake.Start(t, cffake.WithBucketHooks(cffake.BucketHooks{
		Created: func(b cffake.BucketRef) error { return objects.CreateBucket(b.Name) },
		Deleted: func(b cffake.BucketRef) error { return objects.DeleteBucket(b.Name) },
	}))
	return []string{"CLOUDFLARE_API_TOKEN=" + cffake.DefaultToken, "CLOUDFLARE_BASE_URL=" + api.BaseURL(), "R2_ENDPOINT=" + s3.URL},
		s3.URL, objects
}

// openUploads lists the bucket's multipart uploads in progress, through the
// S3 API (gofakes3 checks no signature).
func openUploads(t *testing.T, s3URL, bucket string) []string {
	t.Helper()
	res, err := http.Get(s3URL + "/" + bucket + "?uploads")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Uploads []struct {
			Key string `xml:"Key"`
		} `xml:"Upload"`
	}
	body, _ := io.ReadAll(res.Body)
	if err := xml.Unmarshal(body, &out); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("list multipart uploads: %d %v\n%s", res.StatusCode, err, body)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, u.Key)
	}
	return keys
}

func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// sparseFile makes a file of size bytes of zeros without writing them.
func sparseFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

func toolDecl(t *testing.T, c *rawClient, name string) map[string]any {
	t.Helper()
	var list struct {
		Tools []map[string]any `json:"tools"`
	}
	c.call("tools/list", map[string]any{}, &list)
	for _, tool := range list.Tools {
		if tool["name"] == name {
			return tool
		}
	}
	return nil
}

// TestTransferTasks runs uploads and downloads as tool-call tasks through
// the built binary, over stdio, Streamable HTTP and legacy SSE, on the cloudflare
// backend (cffake + gofakes3):
// a task runs past its tools/call, reports progress and shows "working"
// in tasks/get; tasks/cancel mid-transfer answers "cancelled" only once
// nothing is left (no multipart upload open, no object, no partial or
// temporary file); completed tasks' results come from tasks/result, with
// the object and the file in place. (Issue 15, items 2 and 3.)
func TestTransferTasks(t *testing.T) {
	for _, mode := range []string{"stdio", "http", "sse"} {
		t.Run(mode, func(t *testing.T) { transferTasks(t, mode) })
	}
}

func transferTasks(t *testing.T, mode string) {
	gate := newS3Gate()
	env, s3URL, objects := gatedAccount(t, gate)
	files := t.TempDir()
	var c *rawClient
	var init map[string]any
	switch mode {
	case "stdio":
		c, init = startRaw(t, env, "--files-root", files)
	case "http":
		c, init = startRawHTTP(t, startHTTPServerEnv(t, env, "--files-root", files))
	case "sse":
		c, init = startRawSSE(t, startHTTPServerEnv(t, env, "--files-root", files))
	}

	caps, _ := init["capabilities"].(map[string]any)
	if tasks, _ := caps["tasks"].(map[string]any); tasks["cancel"] == nil || tasks["requests"] == nil {
		t.Fatalf("initialize: no tasks capability with cancel and tools/call: %v", caps)
	}
	if d := toolDecl(t, c, "r2_upload"); fmt.Sprint(d["execution"]) != "map[taskSupport:optional]" {
		t.Fatalf("r2_upload execution = %v, want taskSupport optional", d["execution"])
	}
	if d := toolDecl(t, c, "kv_put"); d["execution"] != nil {
		t.Errorf("kv_put (values <= 25 MiB, under the 64 MiB threshold) execution = %v, want none", d["execution"])
	}
	c.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "assets"}}, nil)

	t.Run("upload cancelled mid-transfer", func(t *testing.T) {
		c.t = t
		sparseFile(t, filepath.Join(files, "big.bin"), 65<<20) // above the 64 MiB multipart threshold
		task := c.startTask("r2_upload", map[string]any{"bucket": "assets", "key": "slow/big.bin", "file_path": "big.bin"}, "up-1")
		select {
		case <-gate.partStarted:
		case <-time.After(30 * time.Second):
			t.Fatal("the task's upload sent no part: the task did not run past its tools/call")
		}
		if got := c.taskStatus(task.TaskID); got.Status != "working" {
			t.Fatalf("tasks/get mid-transfer = %+v, want working", got)
		}
		if open := openUploads(t, s3URL, "assets"); !slices.Equal(open, []string{"slow/big.bin"}) {
			t.Fatalf("open multipart uploads mid-transfer = %v", open)
		}
		var cancelled taskInfo
		c.call("tasks/cancel", map[string]any{"taskId": task.TaskID}, &cancelled)
		if cancelled.Status != "cancelled" {
			t.Fatalf("tasks/cancel = %+v", cancelled)
		}
		// As tasks/cancel answers, the upload is undone.
		if open := openUploads(t, s3URL, "assets"); len(open) != 0 {
			t.Errorf("multipart uploads left after tasks/cancel: %v", open)
		}
		if _, err := objects.HeadObject("assets", "slow/big.bin"); err == nil {
			t.Error("the cancelled upload left an object")
		}
		if got := c.taskStatus(task.TaskID); got.Status != "cancelled" {
			t.Errorf("tasks/get after cancel = %+v", got)
		}
		var progressed bool
		for _, n := range c.notesFor("notifications/progress") {
			progressed = progressed || n["progressToken"] == "up-1"
		}
		if !progressed {
			t.Error("no progress notification for the task's progress token")
		}
	})

	t.Run("download cancelled mid-transfer", func(t *testing.T) {
		c.t = t
		src := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
		if err := os.WriteFile(filepath.Join(files, "dl.bin"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		c.call("tools/call", map[string]any{"name": "r2_upload", "arguments": map[string]any{"bucket": "assets", "key": "slow/dl.bin", "file_path": "dl.bin"}}, nil)
		before := filesIn(t, files)
		task := c.startTask("r2_download", map[string]any{"bucket": "assets", "key": "slow/dl.bin", "save_to": "dl-copy.bin"}, "down-1")
		select {
		case <-gate.getStarted:
		case <-time.After(30 * time.Second):
			t.Fatal("the task's download never started")
		}
		if got := c.taskStatus(task.TaskID); got.Status != "working" {
			t.Fatalf("tasks/get mid-transfer = %+v, want working", got)
		}
		var cancelled taskInfo
		c.call("tasks/cancel", map[string]any{"taskId": task.TaskID}, &cancelled)
		if cancelled.Status != "cancelled" {
			t.Fatalf("tasks/cancel = %+v", cancelled)
		}
		if after := filesIn(t, files); !slices.Equal(after, before) {
			t.Errorf("files after the cancelled download = %v, want %v (no partial or temporary file)", after, before)
		}
	})

	t.Run("upload and download completed", func(t *testing.T) {
		c.t = t
		src := bytes.Repeat([]byte("task-bytes!"), 200_000)
		if err := os.WriteFile(filepath.Join(files, "small.bin"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		up := c.startTask("r2_upload", map[string]any{"bucket": "assets", "key": "done/small.bin", "file_path": "small.bin"}, "up-2")
		if got := c.waitTask(up.TaskID); got.Status != "completed" {
			t.Fatalf("upload task = %+v", got)
		}
		var res struct {
			IsError    bool           `json:"isError"`
			Structured map[string]any `json:"structuredContent"`
			Meta       map[string]any `json:"_meta"`
		}
		c.call("tasks/result", map[string]any{"taskId": up.TaskID}, &res)
		if res.IsError || res.Structured["size"] != float64(len(src)) || res.Structured["key"] != "done/small.bin" {
			t.Fatalf("tasks/result of the upload = %+v", res)
		}
		if stored := storedObject(t, objects, "assets", "done/small.bin"); !bytes.Equal(stored, src) {
			t.Fatalf("stored object: %d bytes, want the file's %d", len(stored), len(src))
		}

		down := c.startTask("r2_download", map[string]any{"bucket": "assets", "key": "done/small.bin", "save_to": "small-copy.bin"}, "down-2")
		if got := c.waitTask(down.TaskID); got.Status != "completed" {
			t.Fatalf("download task = %+v", got)
		}
		c.call("tasks/result", map[string]any{"taskId": down.TaskID}, &res)
		if res.IsError || res.Structured["saved_to"] == nil {
			t.Fatalf("tasks/result of the download = %+v", res)
		}
		if got, _ := os.ReadFile(filepath.Join(files, "small-copy.bin")); !bytes.Equal(got, src) {
			t.Fatalf("saved file: %d bytes, want %d", len(got), len(src))
		}
	})

	if mode == "sse" {
		return // 2026-07-28 has no SSE transport, and mcp-go refuses its requests there
	}
	t.Run("2026-07-28 call runs synchronously", func(t *testing.T) {
		args := map[string]any{"bucket": "assets", "key": "done/modern.txt", "content": "hi"}
		params := map[string]any{"name": "r2_upload", "task": map[string]any{}, "arguments": args,
			"_meta": map[string]any{mcp.MetaKeyProtocolVersion: mcp.LATEST_PROTOCOL_VERSION, mcp.MetaKeyClientCapabilities: map[string]any{}}}
		var res struct {
			Task       any            `json:"task"`
			Structured map[string]any `json:"structuredContent"`
		}
		if mode == "stdio" {
			c.t = t
			c.call("tools/call", params, &res)
		} else {
			// Without a session, as 2026-07-28 requests go.
			body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
			reply := postJSON(t, c.url, map[string]string{"Mcp-Protocol-Version": mcp.LATEST_PROTOCOL_VERSION,
				"Mcp-Method": "tools/call", "Mcp-Name": "r2_upload"}, string(body))
			b, _ := json.Marshal(reply["result"])
			json.Unmarshal(b, &res)
		}
		if res.Task != nil || res.Structured["size"] != float64(2) {
			t.Fatalf("a 2026-07-28 task-augmented call = %+v, want the tool's result", res)
		}
	})
}

// postJSON posts one JSON-RPC message to a Streamable HTTP endpoint with the
// bearer token and headers, and returns the answer (plain JSON or one SSE
// event).
func postJSON(t *testing.T, url string, headers map[string]string, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+httpToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if i := bytes.Index(raw, []byte("data: ")); i >= 0 { // an SSE answer
		raw = bytes.TrimSpace(raw[i+len("data: "):])
	}
	var msg map[string]any
	if err := json.Unmarshal(raw, &msg); err != nil {
		t.Fatalf("%d %s: %v", res.StatusCode, raw, err)
	}
	return msg
}

// TestTaskUndoneAtExit: a stdio client that goes away (stdin closed) while a
// task uploads leaves no multipart upload open: the process exits 0 once the
// task has undone itself.
func TestTaskUndoneAtExit(t *testing.T) {
	gate := newS3Gate()
	env, s3URL, objects := gatedAccount(t, gate)
	files := t.TempDir()
	c, _ := startRaw(t, env, "--files-root", files)
	c.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "assets"}}, nil)
	sparseFile(t, filepath.Join(files, "big.bin"), 65<<20)
	c.startTask("r2_upload", map[string]any{"bucket": "assets", "key": "slow/big.bin", "file_path": "big.bin"}, "up")
	select {
	case <-gate.partStarted:
	case <-time.After(30 * time.Second):
		t.Fatal("the task's upload sent no part")
	}
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(40 * time.Second):
		t.Fatal("the server did not exit after stdin closed")
	}
	if code := c.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if open := openUploads(t, s3URL, "assets"); len(open) != 0 {
		t.Errorf("multipart uploads left open at exit: %v", open)
	}
	if _, err := objects.HeadObject("assets", "slow/big.bin"); err == nil {
		t.Error("the interrupted upload left an object")
	}
}

// TestNoTasksWhenStateless: --stateless HTTP has no sessions to own tasks,
// so it offers none (another client could list and cancel them), and a
// task-augmented call still gets its result.
func TestNoTasksWhenStateless(t *testing.T) {
	p := startHTTPServer(t, "--backend", "local", "--data-dir", t.TempDir(), "--stateless")
	post := func(body string) map[string]any {
		return postJSON(t, p.url, map[string]string{"Mcp-Protocol-Version": mcp.ProtocolVersion20251125}, body)
	}
	init := post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	caps := init["result"].(map[string]any)["capabilities"].(map[string]any)
	if caps["tasks"] != nil {
		t.Fatalf("--stateless offers tasks: %v", caps["tasks"])
	}
	list := post(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`)
	for _, tool := range list["result"].(map[string]any)["tools"].([]any) {
		if decl := tool.(map[string]any); decl["execution"] != nil {
			t.Errorf("--stateless: %v declares %v", decl["name"], decl["execution"])
		}
	}
}

// TestTaskEndsWithHTTPSession: a client that ends its session while a task
// uploads (Streamable HTTP: DELETE; SSE: closing its /sse stream) leaves no
// multipart upload open and no object: nobody could read the task's result
// any more.
func TestTaskEndsWithHTTPSession(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB, *httpProc) (*rawClient, map[string]any)
		end   func(*testing.T, *httpProc, *rawClient)
	}{
		{"streamable DELETE", startRawHTTP, func(t *testing.T, p *httpProc, c *rawClient) {
			req, _ := http.NewRequest(http.MethodDelete, p.url, nil)
			req.Header.Set("Authorization", "Bearer "+httpToken)
			req.Header.Set("Mcp-Session-Id", c.http.GetSessionId())
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("DELETE of the session: %d", res.StatusCode)
			}
		}},
		{"sse stream closed", startRawSSE, func(t *testing.T, _ *httpProc, c *rawClient) {
			if err := c.http.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := newS3Gate()
			env, s3URL, objects := gatedAccount(t, gate)
			files := t.TempDir()
			p := startHTTPServerEnv(t, env, "--files-root", files)
			c, _ := tc.start(t, p)
			c.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "assets"}}, nil)
			sparseFile(t, filepath.Join(files, "big.bin"), 65<<20)
			c.startTask("r2_upload", map[string]any{"bucket": "assets", "key": "slow/big.bin", "file_path": "big.bin"}, "up")
			select {
			case <-gate.partStarted:
			case <-time.After(30 * time.Second):
				t.Fatal("the task's upload sent no part")
			}
			tc.end(t, p, c)
			deadline := time.Now().Add(30 * time.Second)
			for len(openUploads(t, s3URL, "assets")) != 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if open := openUploads(t, s3URL, "assets"); len(open) != 0 {
				t.Errorf("multipart uploads left open after the session ended: %v", open)
			}
			if _, err := objects.HeadObject("assets", "slow/big.bin"); err == nil {
				t.Error("the upload of an ended session left an object")
			}
		})
	}
}

// TestTasksBelongToTheirHTTPSession: over HTTP, where the Streamable HTTP
// and SSE sessions of every client share one server, a task of one session
// can be neither listed, read, fetched nor cancelled from another, whichever
// transport either uses.
func TestTasksBelongToTheirHTTPSession(t *testing.T) {
	transports := map[string]func(testing.TB, *httpProc) (*rawClient, map[string]any){"sse": startRawSSE, "streamable": startRawHTTP}
	for ownerName, startOwner := range transports {
		t.Run("owner "+ownerName, func(t *testing.T) {
			gate := newS3Gate()
			env, s3URL, _ := gatedAccount(t, gate)
			files := t.TempDir()
			p := startHTTPServerEnv(t, env, "--files-root", files)
			owner, _ := startOwner(t, p)
			owner.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "assets"}}, nil)
			sparseFile(t, filepath.Join(files, "big.bin"), 65<<20)
			task := owner.startTask("r2_upload", map[string]any{"bucket": "assets", "key": "slow/big.bin", "file_path": "big.bin"}, "up")
			select {
			case <-gate.partStarted:
			case <-time.After(30 * time.Second):
				t.Fatal("the task's upload sent no part")
			}
			for name, start := range transports {
				other, _ := start(t, p)
				for _, method := range []string{"tasks/get", "tasks/result", "tasks/cancel"} {
					if r := other.request(method, map[string]any{"taskId": task.TaskID}); r.Error == nil {
						t.Errorf("%s from another %s session: %s, want an error", method, name, r.Result)
					}
				}
				var list struct {
					Tasks []taskInfo `json:"tasks"`
				}
				other.call("tasks/list", map[string]any{}, &list)
				if len(list.Tasks) != 0 {
					t.Errorf("tasks/list from another %s session = %+v, want none", name, list.Tasks)
				}
			}
			if got := owner.taskStatus(task.TaskID); got.Status != "working" {
				t.Errorf("the task after other sessions' calls = %+v, want working", got)
			}
			if open := openUploads(t, s3URL, "assets"); !slices.Equal(open, []string{"slow/big.bin"}) {
				t.Errorf("open multipart uploads after other sessions' calls = %v, want the task's", open)
			}
		})
	}
}

// TestTaskUndoneAtSignal: SIGTERM or SIGINT while a task uploads and another
// downloads to a file, over stdio, and over HTTP with the upload in a
// Streamable HTTP session and the download in an SSE one: the process exits
// 0, as README says of a signal, and only once both tasks have undone
// themselves: no multipart upload open, no object, no partial or temporary
// save_to file.
func TestTaskUndoneAtSignal(t *testing.T) {
	for _, mode := range []string{"stdio", "http"} {
		for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
			t.Run(mode+" "+sig.String(), func(t *testing.T) { taskUndoneAtSignal(t, mode, sig) })
		}
	}
}

func taskUndoneAtSignal(t *testing.T, mode string, sig os.Signal) {
	gate := newS3Gate()
	env, s3URL, objects := gatedAccount(t, gate)
	files := t.TempDir()
	var up, down *rawClient
	var cmd *exec.Cmd
	exited := make(chan struct{})
	if mode == "stdio" {
		up, _ = startRaw(t, env, "--files-root", files)
		down, cmd, exited = up, up.cmd, up.exited
	} else {
		p := startHTTPServerEnv(t, env, "--files-root", files)
		up, _ = startRawHTTP(t, p)
		down, _ = startRawSSE(t, p)
		cmd = p.cmd
		go func() { cmd.Wait(); close(exited) }()
	}
	up.call("tools/call", map[string]any{"name": "create_r2_bucket", "arguments": map[string]any{"name": "assets"}}, nil)
	if err := os.WriteFile(filepath.Join(files, "dl.bin"), bytes.Repeat([]byte("0123456789abcdef"), 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	up.call("tools/call", map[string]any{"name": "r2_upload", "arguments": map[string]any{"bucket": "assets", "key": "slow/dl.bin", "file_path": "dl.bin"}}, nil)
	sparseFile(t, filepath.Join(files, "big.bin"), 65<<20) // above the 64 MiB multipart threshold
	before := filesIn(t, files)

	up.startTask("r2_upload", map[string]any{"bucket": "assets", "key": "slow/big.bin", "file_path": "big.bin"}, "up")
	down.startTask("r2_download", map[string]any{"bucket": "assets", "key": "slow/dl.bin", "save_to": "dl-copy.bin"}, "down")
	for name, started := range map[string]chan struct{}{"upload": gate.partStarted, "download": gate.getStarted} {
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatalf("the task's %s never started", name)
		}
	}
	if open := openUploads(t, s3URL, "assets"); !slices.Equal(open, []string{"slow/big.bin"}) {
		t.Fatalf("open multipart uploads before the signal = %v", open)
	}

	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second): // a hang, not a timing: shutdown waits at most 10 s + 30 s
		cmd.Process.Kill()
		<-exited
		t.Fatalf("the server did not exit after %v", sig)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after %v = %d, want 0", sig, code)
	}
	if open := openUploads(t, s3URL, "assets"); len(open) != 0 {
		t.Errorf("multipart uploads left open at exit: %v", open)
	}
	if _, err := objects.HeadObject("assets", "slow/big.bin"); err == nil {
		t.Error("the interrupted upload left an object")
	}
	if after := filesIn(t, files); !slices.Equal(after, before) {
		t.Errorf("files after exit = %v, want %v (no partial or temporary save_to file)", after, before)
	}
}
