package rpcerr

import (
	"context"
	"errors"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Every storage code has its JSON-RPC code, missing resources per protocol
// era; a request's refusal is -32602, the server's failure -32603.
func TestCode(t *testing.T) {
	legacy := context.Background()
	modern := server.WithRequestProtocolInfo(legacy, &server.RequestProtocolInfo{ProtocolVersion: mcp.ProtocolVersion20260728, Modern: true})
	for _, tc := range []struct {
		ctx    context.Context
		method mcp.MCPMethod
		code   storage.Code
		want   int
	}{
		{legacy, mcp.MethodResourcesRead, storage.CodeNotFound, mcp.RESOURCE_NOT_FOUND},
		{modern, mcp.MethodResourcesRead, storage.CodeNotFound, mcp.INVALID_PARAMS},
		{legacy, mcp.MethodPromptsGet, storage.CodeNotFound, mcp.INVALID_PARAMS},
		{legacy, mcp.MethodResourcesRead, storage.CodeTooLarge, mcp.INVALID_PARAMS},
		{legacy, mcp.MethodResourcesRead, storage.CodeInvalidArgument, mcp.INVALID_PARAMS},
		{legacy, mcp.MethodResourcesRead, storage.CodeUnsupported, mcp.INVALID_PARAMS},
		{modern, mcp.MethodResourcesList, storage.CodeUnavailable, mcp.INTERNAL_ERROR},
		{legacy, mcp.MethodResourcesRead, storage.CodePermissionDenied, mcp.INTERNAL_ERROR},
		{legacy, mcp.MethodResourcesRead, storage.CodeInternal, mcp.INTERNAL_ERROR},
	} {
		if got := Code(tc.ctx, tc.method, tc.code); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.code, got, tc.want)
		}
	}
}

// The text names the subject once, after the code.
func TestErrorText(t *testing.T) {
	err := New("r2://b/k", storage.Errorf(storage.CodeNotFound, "no such object"))
	if got := err.Error(); got != "not_found: r2://b/k: no such object" {
		t.Errorf("text = %q", got)
	}
	if got := New("", storage.Errorf(storage.CodeInvalidArgument, "bucket: give one")).Error(); got != "invalid_argument: bucket: give one" {
		t.Errorf("text without subject = %q", got)
	}
	if got := New("d1://x/", context.Canceled).Error(); got != "unavailable: d1://x/: the request was cancelled or timed out: context canceled" {
		t.Errorf("text of an uncoded error = %q", got)
	}
}

// setCode touches nothing but mcp-go's request error.
func TestSetCodeLeavesOtherErrorsAlone(t *testing.T) {
	mine := &Error{Err: storage.ErrNotFound}
	if setCode(errors.New("plain"), 1, mine) || setCode(mine, 1, mine) || setCode(nil, 1, mine) {
		t.Error("setCode changed an error that is not mcp-go's")
	}
}
