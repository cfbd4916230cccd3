package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"sync"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ServeStdio serves srv over stdin and stdout until stdin ends or ctx is
// done, as mcp-go's StdioServer does, but writes the answers to tools/list
// itself (listAnswer): mcp-go encodes each tool twice over (Tool.MarshalJSON
// re-encodes the raw schemas into a map, then encoding/json re-compacts its
// output), which was half of the server's own start-up work. The request is
// still handled by srv.HandleMessage, so hooks, filters, pagination and the
// protocol's result metadata stay mcp-go's; only the bytes differ in who
// writes them, not in what they are.
func ServeStdio(ctx context.Context, srv *server.MCPServer, stdin io.Reader, stdout io.Writer, errLog *log.Logger) error {
	out := &lockedWriter{w: stdout}
	in := &listDiverter{in: bufio.NewReaderSize(stdin, divertBufferSize), srv: srv, out: out, errLog: errLog}
	stdio := server.NewStdioServer(srv)
	stdio.SetErrorLogger(errLog)
	stdio.SetContextFunc(func(ctx context.Context) context.Context {
		in.ctx.Store(&ctx) // the session's context, as mcp-go hands it to every request
		return ctx
	})
	ctx, cancelRequests := context.WithCancel(ctx)
	err := stdio.Listen(ctx, in, out)
	cancelRequests() // as Listen ends its own requests once the input ends, and waits for them
	in.answering.Wait()
	return err
}

// divertBufferSize bounds the lines listDiverter looks at whole: a longer
// line (a tools/call with a large inline value) is passed on as it comes.
const divertBufferSize = 64 << 10

// lockedWriter makes each Write whole on the way out: mcp-go writes every
// message with one Write, and listDiverter's answers must not land inside
// one of them.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// listDiverter is the stdin mcp-go reads: every line but a tools/list
// request passes through unchanged; a tools/list request is handled by the
// server and answered through listAnswer. It hands mcp-go one line per Read
// at most, so a request is diverted only once mcp-go has taken every line
// before it, and serves it off the read loop, as mcp-go serves requests:
// a filter or hook that asks the client something must not stall the
// reading of its answer.
type listDiverter struct {
	in     *bufio.Reader
	srv    *server.MCPServer
	out    io.Writer
	errLog *log.Logger
	ctx    atomic.Pointer[context.Context]

	answering sync.WaitGroup // the requests being answered

	pending  []byte // the rest of the current line, for mcp-go
	midLine  bool   // pending ends inside a line longer than the buffer
	finalErr error  // the input's error, returned once pending is drained
}

func (d *listDiverter) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		if d.finalErr != nil {
			return 0, d.finalErr
		}
		line, err := d.in.ReadSlice('\n')
		switch {
		case err == nil && !d.midLine && d.divert(line):
			continue
		case err == bufio.ErrBufferFull:
			d.midLine = true
		case err != nil:
			d.finalErr = err
		default:
			d.midLine = false
		}
		d.pending = line // valid until the next ReadSlice, after it is drained
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

// divert answers line when it is a tools/list request, and reports whether
// it did.
func (d *listDiverter) divert(line []byte) bool {
	if !bytes.Contains(line, []byte(`tools/list`)) {
		return false
	}
	var msg struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	ctx := d.ctx.Load()
	if ctx == nil || json.Unmarshal(line, &msg) != nil || msg.Method != string(mcp.MethodToolsList) ||
		len(msg.ID) == 0 || bytes.Equal(msg.ID, []byte("null")) || msg.Result != nil || msg.Error != nil {
		return false
	}
	message := bytes.Clone(bytes.TrimSpace(line)) // line is the reader's buffer
	d.answering.Go(func() {
		answer, err := listAnswer(d.handle(*ctx, message))
		if err == nil {
			_, err = d.out.Write(append(answer, '\n'))
		}
		if err != nil {
			d.errLog.Printf("Error writing response: %v", err)
		}
	})
	return true
}

// handle is mcp-go's: HandleMessage, with a panic answered as an internal
// error.
func (d *listDiverter) handle(ctx context.Context, message []byte) (response mcp.JSONRPCMessage) {
	defer func() {
		if r := recover(); r != nil {
			d.errLog.Printf("panic recovered in stdio message handler: %v", r)
			var base struct {
				ID any `json:"id"`
			}
			_ = json.Unmarshal(message, &base)
			response = mcp.JSONRPCError{JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId(base.ID),
				Error: mcp.NewJSONRPCErrorDetails(mcp.INTERNAL_ERROR, fmt.Sprintf("internal panic: %v", r), nil)}
		}
	}()
	return d.srv.HandleMessage(ctx, message)
}

// listAnswer encodes msg exactly as json.Marshal does. An answer to
// tools/list is written without encoding/json's passes over each tool
// (appendTool); everything else, and a tool appendTool does not know, is
// left to json.Marshal.
func listAnswer(msg mcp.JSONRPCMessage) ([]byte, error) {
	resp, ok := msg.(mcp.JSONRPCResponse)
	if !ok {
		return json.Marshal(msg)
	}
	list, ok := resp.Result.(mcp.ListToolsResult)
	if !ok || len(list.Tools) == 0 {
		return json.Marshal(msg)
	}
	tools := list.Tools
	list.Tools = []mcp.Tool{}
	resp.Result = list
	head, err := json.Marshal(resp)
	// "tools" is the last field of the result, the result the last of the
	// response: the envelope ends with the empty list, where the tools go.
	if err != nil || !bytes.HasSuffix(head, []byte(`"tools":[]}}`)) {
		return json.Marshal(msg)
	}
	size := len(head) + len("\n") // one allocation: a 30 KiB answer grown by append is copied over and over
	for _, t := range tools {
		size += len(`{"annotations":{},"description":"","inputSchema":,"name":"","outputSchema":},`) + 200 + // 200: the annotations, escapes
			len(t.Description) + len(t.RawInputSchema) + len(t.Name) + len(t.RawOutputSchema) + len(t.Title)
	}
	buf := append(make([]byte, 0, size), head[:len(head)-len(`]}}`)]...)
	for i, t := range tools {
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, err = appendTool(buf, t); err != nil {
			return nil, err
		}
	}
	return append(buf, `]}}`...), nil
}

// appendTool appends t as json.Marshal encodes it (mcp.Tool.MarshalJSON,
// then compacted): the keys of its map in order, the raw schemas as they
// are. That is exact because the raw schemas are json.Marshal's own output
// (tools.generatedOr: generated or derived by it), which compacting leaves
// as it is; TestServeStdioAnswersAsMCPGo holds every tool to it. A tool
// with anything more (icons, _meta, a structured schema) is left to
// json.Marshal.
func appendTool(buf []byte, t mcp.Tool) ([]byte, error) {
	if t.Meta != nil || t.Icons != nil || t.DeferLoading ||
		len(t.RawInputSchema) == 0 || t.InputSchema.Type != "" || len(t.RawOutputSchema) == 0 || t.OutputSchema.Type != "" {
		b, err := json.Marshal(t)
		return append(buf, b...), err
	}
	annotations, err := json.Marshal(t.Annotations)
	if err != nil {
		return nil, err
	}
	buf = append(buf, `{"annotations":`...)
	buf = append(buf, annotations...)
	if t.Description != "" {
		buf = append(buf, `,"description":`...)
		if buf, err = appendString(buf, t.Description); err != nil {
			return nil, err
		}
	}
	if t.Execution != nil { // the tools offered as tasks
		execution, err := json.Marshal(t.Execution)
		if err != nil {
			return nil, err
		}
		buf = append(buf, `,"execution":`...)
		buf = append(buf, execution...)
	}
	buf = append(buf, `,"inputSchema":`...)
	buf = append(buf, t.RawInputSchema...)
	buf = append(buf, `,"name":`...)
	if buf, err = appendString(buf, t.Name); err != nil {
		return nil, err
	}
	buf = append(buf, `,"outputSchema":`...)
	buf = append(buf, t.RawOutputSchema...)
	if t.Title != "" {
		buf = append(buf, `,"title":`...)
		if buf, err = appendString(buf, t.Title); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

// appendString appends s as a JSON string, as json.Marshal writes it.
func appendString(buf []byte, s string) ([]byte, error) {
	b, err := json.Marshal(s)
	return append(buf, b...), err
}
