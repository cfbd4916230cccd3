package tools

import (
	"context"
	"strings"
	"testing"
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
