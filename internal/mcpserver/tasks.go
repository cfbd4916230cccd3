package mcpserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// taskCleanupWait bounds how long tasks/cancel waits for a cancelled
// transfer to undo itself (abort its multipart upload, remove its partial
// file) before answering; taskShutdownWait bounds the same at shutdown.
const (
	taskCleanupWait  = 30 * time.Second
	taskShutdownWait = 30 * time.Second
)

// defaultTaskTTL is the TTL of a task whose client asked for none: mcp-go
// keeps such a task, result included, for as long as the process runs, so
// a long-lived HTTP server would hold every result it ever gave. The
// specification lets the receiver choose the TTL (tasks/get reports it); a
// day lets any transfer finish and its result be fetched.
const defaultTaskTTL = 24 * time.Hour

// transferTools are the tools that move a file's worth of bytes, with the
// most one call can move: a tool is offered as a task when that can exceed
// the threshold (KV values stop at 25 MiB, so kv_put and kv_get are offered
// only below the default threshold).
var transferTools = []struct {
	name string
	max  int64
}{
	{"r2_upload", storage.MaxObjectBytes},
	{"r2_download", storage.MaxObjectBytes},
	{"kv_put", storage.MaxKVValueBytes},
	{"kv_get", storage.MaxKVValueBytes},
}

// Tasks runs the tool calls a client sends as tool-call tasks (protocol
// 2025-11-25: tools/call with a `task` parameter, then tasks/get,
// tasks/result, tasks/cancel). mcp-go keeps the tasks' state and answers
// those methods; Tasks gives each task's handler a context that outlives
// the tools/call request and ends when the task is cancelled (tasks/cancel,
// its TTL, the end of its session, Shutdown), and makes tasks/cancel answer
// only once the transfer has undone itself.
//
// Why this is needed, and the one place it reaches into mcp-go's behaviour:
// mcp-go v1.2.1 (server.go, handleTaskAugmentedToolCall) runs a task's
// handler on context.WithCancel of the tools/call request's context, which
// HandleMessage cancels as soon as the CreateTaskResult is sent, so every
// task would be cancelled at once. The handler cannot learn its task id, so
// the link is made through the request: OnTaskCreated runs inside that
// tools/call, and the handler's context derives from it, so both see the same
// *server.RequestProtocolInfo, which HandleMessage allocates per message. The
// upstream fix that would remove all of this: start the task goroutine on
// context.WithCancel(context.WithoutCancel(ctx)), and put the task id in the
// handler's context.
type Tasks struct {
	threshold    int64
	log          *slog.Logger
	shutdownWait time.Duration // taskShutdownWait; shorter in tests

	mu        sync.Mutex
	byRequest map[*server.RequestProtocolInfo]string // tools/call -> its task, until the handler starts
	tasks     map[string]*runningTask
	closed    bool
	wg        sync.WaitGroup
}

// runningTask is one task between OnTaskCreated and mcp-go's recording of
// its end.
type runningTask struct {
	session   string
	cancel    context.CancelFunc // nil until the handler starts
	cancelled bool               // asked to stop; a handler not yet started does not run
	viaCancel bool               // by tasks/cancel, which waits for undone
	succeeded bool               // the transfer was done before it could be stopped
	undone    chan struct{}      // closed when the tool has returned
	settled   chan struct{}      // closed when mcp-go has recorded the task's end
}

// NewTasks returns the task runner for --task-threshold; threshold 0 turns
// tasks off (nil).
func NewTasks(threshold int64, log *slog.Logger) *Tasks {
	if threshold <= 0 {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tasks{threshold: threshold, log: log, shutdownWait: taskShutdownWait,
		byRequest: map[*server.RequestProtocolInfo]string{}, tasks: map[string]*runningTask{}}
}

// offered names the transfer tools that can move more than the threshold:
// those offered as optionally task-augmented.
func (t *Tasks) offered() []string {
	if t == nil {
		return nil
	}
	var names []string
	for _, tt := range transferTools {
		if tt.max >= t.threshold {
			names = append(names, tt.name)
		}
	}
	return names
}

// hint is the sentence of the server's instructions that tells the model
// which calls to run as tasks, naming those of the served areas.
func (t *Tasks) hint(serves func(name string) bool) string {
	var names []string
	for _, n := range t.offered() {
		if serves(n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	size := fmt.Sprintf("%d bytes", t.threshold)
	if t.threshold%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", t.threshold>>20)
	}
	return fmt.Sprintf("Run %s of more than %s as tool-call tasks when the client supports them.\n", strings.Join(names, ", "), size)
}

// serverOptions declares the tasks capability (list, cancel, tools/call) and
// installs the middleware, outermost, so that everything a tool does runs on
// the task's context.
func (t *Tasks) serverOptions() []server.ServerOption {
	hooks := &server.TaskHooks{}
	hooks.AddOnTaskCreated(t.created)
	hooks.AddOnTaskCompleted(t.settle)
	hooks.AddOnTaskFailed(t.settle)
	hooks.AddOnTaskCancelled(t.settle)
	return []server.ServerOption{
		server.WithTaskCapabilities(true, true, true),
		server.WithTaskHooks(hooks),
		server.WithToolHandlerMiddleware(t.middleware),
	}
}

// install hooks tools/call and tasks/cancel. (The tools offered are
// declared task-capable where they are registered: tools.Selection.Tasks.)
func (t *Tasks) install(hooks *server.Hooks) {
	hooks.AddBeforeCallTool(t.beforeCall)
	hooks.AddBeforeCancelTask(t.beforeCancel)
	hooks.AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) { t.endSession(s.SessionID()) })
}

// beforeCall gives a task without a TTL defaultTaskTTL, and runs a
// 2026-07-28 client's call synchronously, with progress:
// that revision moved tasks out of the core protocol into an extension
// (io.modelcontextprotocol/tasks) that mcp-go does not implement, and its
// requests carry no session that tasks/get or tasks/cancel could be checked
// against. A request that cannot be a task is processed as if it had no
// `task`, as the specification asks of a receiver without task support.
// (mcp-go passes the request to the handler by value after this hook, so the
// change holds.)
func (t *Tasks) beforeCall(ctx context.Context, _ any, req *mcp.CallToolRequest) {
	switch {
	case req.Params.Task == nil:
	case server.IsModernRequest(ctx):
		req.Params.Task = nil
	case req.Params.Task.TTL == nil:
		ttl := defaultTaskTTL.Milliseconds()
		req.Params.Task.TTL = &ttl
	}
}

// created links a new task to its tools/call (see Tasks).
func (t *Tasks) created(ctx context.Context, m server.TaskMetrics) {
	info := server.RequestProtocolInfoFromContext(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	if info != nil {
		t.byRequest[info] = m.TaskID
	}
	t.tasks[m.TaskID] = &runningTask{session: m.SessionID, cancelled: t.closed,
		undone: make(chan struct{}), settled: make(chan struct{})}
}

// settle forgets a task mcp-go has recorded as completed, failed or
// cancelled.
func (t *Tasks) settle(_ context.Context, m server.TaskMetrics) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if task := t.tasks[m.TaskID]; task != nil {
		t.stop(task)
		close(task.settled)
		delete(t.tasks, m.TaskID)
	}
}

// middleware runs a task's tool on a context of the task's own: detached
// from the tools/call request, cancelled by tasks/cancel, by the task's TTL
// (as mcp-go drops the task then), by the end of its session and by
// Shutdown. A call that is not a task passes through.
func (t *Tasks) middleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if req.Params.Task == nil {
			return next(ctx, req)
		}
		info := server.RequestProtocolInfoFromContext(ctx)
		t.mu.Lock()
		id, linked := t.byRequest[info]
		delete(t.byRequest, info)
		task := t.tasks[id]
		switch {
		case !linked:
			t.mu.Unlock()
			// Without the link, tasks/cancel could not stop this call.
			t.log.Error("task not linked to its tools/call; refused", "tool", req.Params.Name)
			return mcp.NewToolResultError("internal: the task could not be started; call the tool without a task"), nil
		case task == nil || task.cancelled || t.closed:
			// Cancelled before it started (or mcp-go has already ended it).
			t.mu.Unlock()
			return nil, fmt.Errorf("task cancelled before it started: %w", context.Canceled)
		}
		run, cancel := context.WithCancel(context.WithoutCancel(ctx))
		if ttl := req.Params.Task.TTL; ttl != nil && *ttl > 0 {
			run, cancel = context.WithTimeout(run, time.Duration(*ttl)*time.Millisecond)
		}
		defer cancel()
		task.cancel = cancel
		t.wg.Add(1)
		t.mu.Unlock()
		defer t.wg.Done()

		res, err := next(run, req)

		t.mu.Lock()
		stopped, viaCancel := run.Err(), task.viaCancel
		task.succeeded = err == nil && res != nil && !res.IsError
		succeeded := task.succeeded
		t.mu.Unlock()
		close(task.undone)
		switch {
		case succeeded:
			// Done before it could be stopped: the task completed, and a
			// tasks/cancel waiting in beforeCancel will say so.
			return res, err
		case viaCancel:
			// tasks/cancel records the cancellation once beforeCancel
			// returns; this result must not complete the task first.
			select {
			case <-task.settled:
			case <-time.After(taskCleanupWait):
			}
			return res, err
		case stopped != nil:
			// Its TTL, its session's end or Shutdown: mcp-go records a
			// handler's context error as the task's cancellation.
			return nil, fmt.Errorf("task stopped: %w", context.Cause(run))
		}
		return res, err
	}
}

// beforeCancel stops the task's transfer and waits, up to taskCleanupWait,
// until it has undone itself (multipart upload aborted, partial file
// removed), so that when tasks/cancel answers nothing of it is left. A
// transfer that was done first completes its task, and tasks/cancel then
// fails as it does for any finished task. A task of another session is left
// to mcp-go, which answers "task not found".
func (t *Tasks) beforeCancel(ctx context.Context, _ any, req *mcp.CancelTaskRequest) {
	session := ""
	if s := server.ClientSessionFromContext(ctx); s != nil {
		session = s.SessionID()
	}
	t.mu.Lock()
	task := t.tasks[req.Params.TaskId]
	if task == nil || (task.session != "" && session != "" && task.session != session) {
		t.mu.Unlock()
		return
	}
	task.viaCancel = true
	t.stop(task)
	started := task.cancel != nil
	t.mu.Unlock()
	if !started {
		return
	}
	wait := time.NewTimer(taskCleanupWait)
	defer wait.Stop()
	select {
	case <-task.undone:
	case <-ctx.Done():
		return
	case <-wait.C:
		t.log.Warn("cancelled task still undoing its transfer", "task", req.Params.TaskId)
		return
	}
	t.mu.Lock()
	succeeded := task.succeeded
	t.mu.Unlock()
	if succeeded {
		select {
		case <-task.settled:
		case <-ctx.Done():
		case <-wait.C:
		}
	}
}

// stop cancels a task's context, or marks it so that a handler not yet
// started does not run. t.mu is held.
func (t *Tasks) stop(task *runningTask) {
	task.cancelled = true
	if task.cancel != nil {
		task.cancel()
	}
}

// endSession cancels the tasks of a session that ended: nobody can fetch
// their results any more.
func (t *Tasks) endSession(id string) {
	if id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, task := range t.tasks {
		if task.session == id {
			t.stop(task)
		}
	}
}

// Shutdown cancels every running task and waits, up to taskShutdownWait,
// for their transfers to undo themselves, so that the process exits with no
// multipart upload left open and no partial file; a transfer that does not
// stop (its store unreachable) does not keep the process from exiting.
// Tasks created from now on do not run.
func (t *Tasks) Shutdown() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	t.closed = true
	for _, task := range t.tasks {
		t.stop(task)
	}
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(t.shutdownWait):
		return fmt.Errorf("tasks still undoing their transfers after %s", t.shutdownWait)
	}
}
