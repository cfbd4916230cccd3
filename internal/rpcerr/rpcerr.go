// Package rpcerr is the one place where a storage error that fails a
// resources/read, a resources/list or a prompts/get becomes a JSON-RPC error:
// its text is "<code>: <subject>: <what and why>" (the subject, a URI, named
// once), and its JSON-RPC code follows from the storage code (Code).
//
// Tool errors do not come here: they are tool results with isError, as the
// MCP specification asks, so that the model reads them and corrects itself.
//
// mcp-go v1.2.1 cannot express this: it answers every error a resource or
// prompt handler returns with -32603 (internal error), and its own
// not-found answers wrap the URI in "handler not found for resource URI
// '…': resource not found". Install holds the workaround (see setCode);
// the change proposed upstream is a handler error type that carries its
// JSON-RPC code, as the official Go SDK's jsonrpc.Error does.
package rpcerr

import (
	"context"
	"errors"
	"reflect"
	"unsafe"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Error is a storage error on its way to a client as a JSON-RPC error.
type Error struct {
	// Subject is what the request named (a URI), or "" when the storage
	// message names it already (a prompt argument).
	Subject string
	Err     error
}

// New wraps err, from a request about subject, for a client.
func New(subject string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Subject: subject, Err: err}
}

// Error is "<code>: <subject>: <what and why>", the form of tool errors.
func (e *Error) Error() string {
	text := storage.Describe(e.Err)
	if e.Subject == "" {
		return text
	}
	code := string(storage.CodeOf(e.Err))
	return code + ": " + e.Subject + ": " + text[len(code)+2:]
}

func (e *Error) Unwrap() error { return e.Err }

// Code is the JSON-RPC code of a request for method that failed with a
// storage error of code c.
//
// A missing resource is "resource not found": -32002 up to protocol
// 2025-11-25, -32602 (invalid params) from 2026-07-28 on (SEP-2164). Every
// other refusal of what the request asked for (a bad URI or argument, too
// large to send inline, not served here) is -32602: the request, not the
// server, has to change. What the server could not do for a good request
// (the API unreachable or refusing the token, a bug) is -32603.
func Code(ctx context.Context, method mcp.MCPMethod, c storage.Code) int {
	switch c {
	case storage.CodeNotFound:
		if method == mcp.MethodResourcesRead && !mcp.IsModernProtocol(server.RequestProtocolVersion(ctx)) {
			return mcp.RESOURCE_NOT_FOUND
		}
		return mcp.INVALID_PARAMS
	case storage.CodeInvalidArgument, storage.CodeTooLarge, storage.CodeUnsupported, storage.CodeReadOnly,
		storage.CodeConflict, storage.CodeAlreadyExists:
		return mcp.INVALID_PARAMS
	default:
		return mcp.INTERNAL_ERROR
	}
}

// stashKey names an *Error attached to a request's _meta (Attach).
const stashKey = "io.github.mcp-cfstorage/error"

// Attach makes the request whose _meta is *meta fail with err, for a hook
// that has to fail a request mcp-go would otherwise answer (resources/list):
// the hook also makes mcp-go fail it (any error will do), and Install's
// hook sends err in its place.
func Attach(meta **mcp.Meta, err *Error) {
	if *meta == nil {
		*meta = &mcp.Meta{}
	}
	if (*meta).AdditionalFields == nil {
		(*meta).AdditionalFields = map[string]any{}
	}
	(*meta).AdditionalFields[stashKey] = err
}

// attached is the *Error Attach put on message, a request; only
// resources/list needs it so far.
func attached(message any) *Error {
	r, ok := message.(*mcp.ListResourcesRequest)
	if !ok || r.Params.Meta == nil {
		return nil
	}
	e, _ := r.Params.Meta.AdditionalFields[stashKey].(*Error)
	return e
}

// Install adds to hooks the hook that gives each failed request carrying an
// *Error (returned by its handler, or attached to it) that error's text and
// code. hooks must be the server's own (server.WithHooks).
func Install(hooks *server.Hooks) {
	hooks.AddOnError(func(ctx context.Context, _ any, method mcp.MCPMethod, message any, err error) {
		e := attached(message)
		if e == nil && !errors.As(err, &e) {
			return
		}
		setCode(err, Code(ctx, method, storage.CodeOf(e.Err)), e)
	})
}

// setCode is the workaround: mcp-go calls the error hooks with the
// *server.requestError it is about to send, and builds the JSON-RPC error
// from it after the hooks return, so the hook sets its code and cause. The
// fields are unexported; they are found by name and type, and if a later
// mcp-go renames them nothing is set (the client sees -32603, as before)
// and the tests that check the codes through a client fail.
func setCode(err error, code int, cause error) bool {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct ||
		v.Type().Elem().PkgPath() != "github.com/mark3labs/mcp-go/server" || v.Type().Elem().Name() != "requestError" {
		return false
	}
	c, e := v.Elem().FieldByName("code"), v.Elem().FieldByName("err")
	if !c.IsValid() || c.Kind() != reflect.Int || !e.IsValid() || e.Type() != reflect.TypeFor[error]() {
		return false
	}
	// The value is the request's own, addressable through the pointer.
	reflect.NewAt(c.Type(), unsafe.Pointer(c.UnsafeAddr())).Elem().SetInt(int64(code))
	reflect.NewAt(e.Type(), unsafe.Pointer(e.UnsafeAddr())).Elem().Set(reflect.ValueOf(&cause).Elem())
	return true
}
