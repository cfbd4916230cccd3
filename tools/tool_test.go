package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// A declaration that leaves any annotation hint unset must be refused, so no
// tool can fall back on mcp-go's defaults (destructive, not read-only).
func TestDefineRefusesUnsetHints(t *testing.T) {
	full := Hints{ReadOnly: Yes, Destructive: No, Idempotent: Yes, OpenWorld: No}
	cases := map[string]Hints{
		"readOnly":    {Destructive: No, Idempotent: Yes, OpenWorld: No},
		"destructive": {ReadOnly: Yes, Idempotent: Yes, OpenWorld: No},
		"idempotent":  {ReadOnly: Yes, Destructive: No, OpenWorld: No},
		"openWorld":   {ReadOnly: Yes, Destructive: No, Idempotent: Yes},
		"none":        {},
	}
	handle := func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil }
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := define("kv", Spec[struct{}, struct{}]{Name: "x", Description: "d", Hints: h, Handle: handle}, nil)
			if err == nil || !strings.Contains(err.Error(), "annotation") {
				t.Fatalf("define with unset %s hint: err = %v, want an annotation error", name, err)
			}
		})
	}
	if _, err := define("kv", Spec[struct{}, struct{}]{Name: "x", Description: "d", Hints: full, Handle: handle}, nil); err != nil {
		t.Fatalf("define with every hint set: %v", err)
	}
}

func TestSchemaTags(t *testing.T) {
	type in struct {
		Limit int    `json:"limit,omitempty" schema:"minimum=10,maximum=1000,default=100"`
		Enc   string `json:"enc,omitempty" schema:"enum=a|b"`
		Keys  []struct {
			K string `json:"k" schema:"maxLength=5"`
		} `json:"keys" schema:"maxItems=3"`
	}
	s, err := schemaOf[in]()
	if err != nil {
		t.Fatal(err)
	}
	limit := s.Properties["limit"]
	if *limit.Minimum != 10 || *limit.Maximum != 1000 || string(limit.Default) != "100" {
		t.Errorf("limit schema = min %v max %v default %s", *limit.Minimum, *limit.Maximum, limit.Default)
	}
	if got := s.Properties["enc"].Enum; len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("enc enum = %v", got)
	}
	keys := s.Properties["keys"]
	if *keys.MaxItems != 3 || *keys.Items.Properties["k"].MaxLength != 5 {
		t.Errorf("nested tags not applied: %+v", keys)
	}
	if len(s.Required) != 1 || s.Required[0] != "keys" {
		t.Errorf("required = %v, want [keys]", s.Required)
	}
	type bad struct {
		X int `json:"x" schema:"minimum"`
	}
	if _, err := schemaOf[bad](); err == nil {
		t.Error("a malformed schema tag was accepted")
	}
}

// Under load, production checks one result of a tool a second, not every
// one (checkEvery): the check costs as much as a small read from the
// embedded store. The first result is always checked.
func TestOutputChecksSpaced(t *testing.T) {
	type out struct {
		N int `json:"n" schema:"maximum=3"`
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelError}))
	full := Hints{ReadOnly: No, Destructive: No, Idempotent: No, OpenWorld: No}
	tool, err := define("kv", Spec[struct{}, out]{Name: "wrong_shape", Description: "d", Hints: full,
		Handle: func(context.Context, struct{}) (out, error) { return out{N: 5}, nil }}, log)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if res, err := tool.Handler(t.Context(), mcp.CallToolRequest{}); err != nil || res.IsError {
			t.Fatalf("result = %+v, %v; want the handler's result", res, err)
		}
	}
	if n := strings.Count(logged.String(), "\n"); n != 1 {
		t.Errorf("100 calls in a row logged %d mismatches, want 1 (the first result checked, the others within checkEvery not):\n%s", n, logged.String())
	}
}

// A result that breaks its output schema is a bug of the server, found
// after the handler did its work: it is logged at error level, naming the
// tool and the violation, and sent anyway, since a client that retried on
// an error would repeat the write.
func TestOutputMismatchLoggedAndSent(t *testing.T) {
	type out struct {
		N int `json:"n" schema:"maximum=3"`
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelError}))
	full := Hints{ReadOnly: No, Destructive: No, Idempotent: No, OpenWorld: No}
	tool, err := define("kv", Spec[struct{}, out]{Name: "wrong_shape", Description: "d", Hints: full,
		Handle: func(context.Context, struct{}) (out, error) { return out{N: 5}, nil }}, log)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tool.Handler(t.Context(), mcp.CallToolRequest{})
	if err != nil || res.IsError {
		t.Fatalf("result = %+v, %v; want the handler's result", res, err)
	}
	if got, ok := res.StructuredContent.(out); !ok || got.N != 5 {
		t.Errorf("structuredContent = %#v, want {N: 5}", res.StructuredContent)
	}
	var rec struct {
		Level, Tool, Violation string
	}
	if err := json.Unmarshal(logged.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v; want one error record", logged.String(), err)
	}
	if rec.Level != "ERROR" || rec.Tool != "wrong_shape" || !strings.Contains(rec.Violation, "n: ") || !strings.Contains(rec.Violation, "3") {
		t.Errorf("log record = %+v, want level ERROR, tool wrong_shape and a violation naming n and its maximum", rec)
	}

	// A result that matches logs nothing.
	logged.Reset()
	ok, err := define("kv", Spec[struct{}, out]{Name: "right_shape", Description: "d", Hints: full,
		Handle: func(context.Context, struct{}) (out, error) { return out{N: 2}, nil }}, log)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := ok.Handler(t.Context(), mcp.CallToolRequest{}); res.IsError || logged.Len() != 0 {
		t.Errorf("matching result: error %v, log %q", res.IsError, logged.String())
	}
}

// Descriptions state the inline limit as configured, in the unit a person
// would write it.
func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{1 << 20: "1 MiB", 5 << 20: "5 MiB", 512 << 10: "512 KiB", 1536 << 10: "1536 KiB", 1000: "1000 bytes"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}
