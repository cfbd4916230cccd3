package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	validator "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Hint is an annotation value that must be chosen: mcp-go's defaults
// (destructive, not read-only) are wrong for most tools, so an unset hint is
// a declaration error rather than a silent default.
type Hint uint8

const (
	unset Hint = iota
	Yes
	No
)

func (h Hint) ptr() *bool {
	if h == unset {
		return nil
	}
	v := h == Yes
	return &v
}

// Hints are the four MCP tool annotations.
type Hints struct {
	ReadOnly    Hint
	Destructive Hint
	Idempotent  Hint
	OpenWorld   Hint
}

// Spec declares one tool: a typed handler plus what a model reads about it.
// Input and output schemas are derived from In and Out.
type Spec[In, Out any] struct {
	Name        string
	Title       string
	Description string
	Hints       Hints
	// KeepReadOnly offers a tool that may write under --read-only too,
	// because the Store refuses its writes there (d1_query: only statements
	// that cannot write are run). Its readOnlyHint stays false.
	KeepReadOnly bool
	Handle       func(ctx context.Context, in In) (Out, error)
}

// Tool is a declared tool, ready to be registered.
type Tool struct {
	Toolset string
	Def     mcp.Tool
	Handler server.ToolHandlerFunc
	// KeepReadOnly: see Spec.KeepReadOnly.
	KeepReadOnly bool

	// derive derives the input and output schemas from the Go types, which
	// the generated ones must equal.
	derive func() (in, out []byte, err error)
}

// ReadOnly reports whether the tool changes nothing; --read-only keeps only
// these.
func (t Tool) ReadOnly() bool {
	ro := t.Def.Annotations.ReadOnlyHint
	return ro != nil && *ro
}

// Contenter is implemented by results that render themselves as MCP content
// (a value as text, an image block) instead of the default JSON text.
// summary is the result's JSON, made once for all its uses.
type Contenter interface {
	MCPContent(summary []byte) []mcp.Content
}

// define turns a Spec into a Tool. Errors are declaration mistakes.
func define[In, Out any](toolset string, s Spec[In, Out], log *slog.Logger) (Tool, error) {
	if s.Name == "" || s.Description == "" || s.Handle == nil {
		return Tool{}, fmt.Errorf("tool %q: name, description and handler are required", s.Name)
	}
	h := s.Hints
	if h.ReadOnly == unset || h.Destructive == unset || h.Idempotent == unset || h.OpenWorld == unset {
		return Tool{}, fmt.Errorf("tool %q: all four annotation hints must be set", s.Name)
	}
	derive := deriveSchemas[In, Out]
	rawIn, rawOut, err := generatedOr(s.Name, derive)
	if err != nil {
		return Tool{}, fmt.Errorf("tool %q: %w", s.Name, err)
	}
	def := mcp.NewTool(s.Name,
		mcp.WithDescription(s.Description),
		mcp.WithRawInputSchema(published(rawIn)),
		mcp.WithRawOutputSchema(rawOut),
		mcp.WithToolAnnotation(mcp.ToolAnnotation{
			Title:           s.Title,
			ReadOnlyHint:    h.ReadOnly.ptr(),
			DestructiveHint: h.Destructive.ptr(),
			IdempotentHint:  h.Idempotent.ptr(),
			OpenWorldHint:   h.OpenWorld.ptr(),
		}),
	)
	def.InputSchema = mcp.ToolInputSchema{} // NewTool's default would clash with the raw schema
	c := &call[In, Out]{name: s.Name, rawIn: rawIn, out: lazySchema{name: s.Name + ".out", raw: rawOut},
		handle: s.Handle, log: log}
	return Tool{Toolset: toolset, Def: def, Handler: c.serve, KeepReadOnly: s.KeepReadOnly, derive: derive}, nil
}

// lazySchema is a schema compiled on first use: start-up stays cheap.
type lazySchema struct {
	name string
	raw  []byte // JSON

	once     sync.Once
	compiled *validator.Schema
	err      error
}

func (l *lazySchema) get() (*validator.Schema, error) {
	l.once.Do(func() { l.compiled, l.err = compile(l.name, l.raw) })
	return l.compiled, l.err
}

// published is the input schema as tools/list sends it: the one the
// arguments are checked against, less its "additionalProperties": false.
// That keyword is a twentieth of what a model reads of the tool list, and
// says nothing a model acts on, while the check still refuses an unknown
// argument by name (argerrors.go) and lists the ones the tool takes.
// The generated schemas are compact encoding/json output, in which a
// quote inside a string is always escaped: the bytes below occur only as
// the keyword.
func published(rawIn []byte) []byte {
	return bytes.ReplaceAll(rawIn, []byte(`,"additionalProperties":false`), nil)
}

// call is the run-time side of one tool.
type call[In, Out any] struct {
	name   string
	rawIn  []byte // the input schema, JSON
	out    lazySchema
	handle func(context.Context, In) (Out, error)
	log    *slog.Logger

	// nextCheck is when checkOutput next checks a result (Unix ns): see
	// checkEvery.
	nextCheck atomic.Int64

	// Prepared on first use: start-up stays cheap.
	once sync.Once
	in   *validator.Schema
	fast *fastCheck       // nil when the schema is not of its shape
	lift map[string][]int // see liftable
	err  error
}

func (c *call[In, Out]) prepare() error {
	c.once.Do(func() {
		if c.in, c.err = compile(c.name, c.rawIn); c.err == nil {
			c.fast = newFastCheck(c.rawIn, reflect.TypeFor[In]())
			c.lift, c.err = liftable(reflect.TypeFor[In](), c.rawIn)
		}
	})
	return c.err
}

func (c *call[In, Out]) serve(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, _ error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("tool panicked", "tool", c.name, "panic", p, "stack", string(debug.Stack()))
			res = errorResult(storage.Errorf(storage.CodeInternal, "%s failed unexpectedly; the server logged the details", c.name))
		}
		if c.log.Enabled(ctx, slog.LevelDebug) { // spares every call the boxing of its arguments
			c.log.Debug("tool call", "tool", c.name, "error", res.IsError, "duration", time.Since(start))
		}
	}()

	in, err := c.bind(req)
	if err != nil {
		return errorResult(err), nil
	}
	ctx = withProgress(ctx, req)
	out, err := c.handle(ctx, in)
	if err != nil {
		if storage.CodeOf(err) == storage.CodeInternal {
			c.log.Error("tool failed", "tool", c.name, "error", err)
		}
		return errorResult(err), nil
	}
	res, text, err := successResult(out)
	if err != nil {
		c.log.Error("tool result cannot be encoded", "tool", c.name, "error", err)
		return errorResult(fmt.Errorf("encode result: %w", err)), nil
	}
	if now := start.UnixNano(); now >= c.nextCheck.Load() {
		c.nextCheck.Store(now + int64(checkEvery))
		c.checkOutput(text)
	}
	return res, nil
}

// checkEvery spaces the production checks of one tool's results: parsing
// and validating a result costs about as much as a small read from the
// embedded store, and a mismatch is a bug of the server that the tests'
// client (internal/mcptest) catches on every result. A tool called less
// often than this has every result checked; a busy one, one a second.
const checkEvery = time.Second

// checkOutput checks a result against the tool's output schema. A mismatch
// is the server's bug, found after the handler did its work (a write
// committed): it is logged and the result sent anyway, since failing the
// call would make a client that retries repeat the write. The tests'
// client (internal/mcptest) fails on a mismatch instead.
func (c *call[In, Out]) checkOutput(text []byte) {
	var doc any
	sch, err := c.out.get()
	if err == nil {
		if doc, err = validator.UnmarshalJSON(bytes.NewReader(text)); err == nil {
			err = sch.Validate(doc)
		}
	}
	if err != nil {
		_, violation := describeViolation(err, c.out.raw, doc)
		c.log.Error("tool result does not match its output schema; sent anyway", "tool", c.name, "violation", violation)
	}
}

// bind checks the arguments against the input schema and decodes them.
func (c *call[In, Out]) bind(req mcp.CallToolRequest) (In, error) {
	var in In
	if err := c.prepare(); err != nil {
		return in, fmt.Errorf("tool %s: compile input schema: %w", c.name, err)
	}
	if raw := req.Params.RawArguments; c.fast != nil && len(raw) > 0 {
		parsed, _ := req.Params.Arguments.(map[string]any)
		if c.fast.decode(raw, parsed, reflect.ValueOf(&in).Elem()) {
			return in, nil
		}
		in = *new(In)
	}
	raw, lifted, err := c.lifted(req)
	if err != nil {
		return in, storage.Errorf(storage.CodeInvalidArgument, "arguments: not JSON: %v", err)
	}
	if bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	if c.fast == nil || !c.fast.accepts(raw) {
		doc, err := validator.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return in, storage.Errorf(storage.CodeInvalidArgument, "arguments: not JSON: %v", err)
		}
		if err := c.in.Validate(doc); err != nil {
			code, msg := describeViolation(err, c.rawIn, doc)
			return in, storage.Errorf(code, "%s", msg)
		}
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return in, storage.Errorf(storage.CodeInvalidArgument, "arguments: %v", err)
	}
	c.setLifted(&in, lifted)
	return in, nil
}

// errorResult is the one place errors become tool results: "<code>: <what>".
func errorResult(err error) *mcp.CallToolResult {
	return mcp.NewToolResultError(elide(storage.Describe(err), maxErrorText))
}

// maxErrorText caps the text of an error result. Messages quote what they
// refuse (a bucket name, a namespace, unknown argument names), which a
// mistaken or hostile call can make megabytes long; a model's context is no
// place for that.
const maxErrorText = 2048

// elide cuts the middle out of a text longer than max bytes, keeping its
// start (the code and the argument) and its end (the rule that was broken),
// on UTF-8 boundaries.
func elide(s string, max int) string {
	if len(s) <= max {
		return s
	}
	keep := (max - 64) / 2 // 64 bytes leave room for the marker
	i, j := keep, len(s)-keep
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	for j < len(s) && !utf8.RuneStart(s[j]) {
		j++
	}
	return fmt.Sprintf("%s …(%d bytes elided)… %s", s[:i], j-i, s[j:])
}

// successResult makes a tool's result, and returns the JSON of its
// structured content, against which it is checked.
func successResult(out any) (*mcp.CallToolResult, []byte, error) {
	text, err := json.Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	res := &mcp.CallToolResult{StructuredContent: out}
	if c, ok := out.(Contenter); ok {
		res.Content = c.MCPContent(text)
	} else {
		res.Content = []mcp.Content{mcp.NewTextContent(string(text))}
	}
	return res, text, nil
}

// errMissing builds the error for a missing argument choice.
func errMissing(format string, args ...any) error {
	return storage.Errorf(storage.CodeInvalidArgument, format, args...)
}
