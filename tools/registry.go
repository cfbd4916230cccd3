// Package tools declares the MCP tools: one file per area (kv.go, r2.go,
// account.go), each a list of typed handlers with the declarations a model
// reads. Tools know only internal/storage, never a backend.
package tools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The toolsets, as named by --toolsets.
const (
	ToolsetKV      = "kv"
	ToolsetR2      = "r2"
	ToolsetD1      = "d1"
	ToolsetAccount = "account"
)

// Toolsets lists every toolset in the order tools are registered.
var Toolsets = []string{ToolsetKV, ToolsetR2, ToolsetD1, ToolsetAccount}

// DefaultMaxInlineBytes caps values and objects returned inline.
const DefaultMaxInlineBytes = 1 << 20

// Deps is what tools are built from.
type Deps struct {
	Store *storage.Store
	// Roots returns the directories file_path and save_to may use. It is a
	// function because client-announced roots change during a session.
	Roots func(ctx context.Context) fsroot.Roots
	// MaxInlineBytes caps inline values and objects; larger ones need save_to.
	MaxInlineBytes int64
	// MaxRows caps the rows of one statement that d1_query returns inline
	// (0 = DefaultMaxRows).
	MaxRows int
	// Toolsets and ReadOnly are reported by whoami.
	Toolsets []string
	Log      *slog.Logger
	Now      func() time.Time
	// Confirm asks the user to confirm irreversible deletes (nil: never
	// asks; the tools' confirm arguments decide).
	Confirm Confirmer
}

// Selection chooses which tools a server offers.
type Selection struct {
	Toolsets []string // empty = all
	ReadOnly bool     // only tools whose readOnlyHint is true, and those kept by Spec.KeepReadOnly
	// Tasks names the tools a client may call as tool-call tasks: they are
	// declared with execution.taskSupport "optional".
	Tasks []string
}

// Validate reports unknown toolset names.
func (s Selection) Validate() error {
	for _, t := range s.Toolsets {
		if !slices.Contains(Toolsets, t) {
			return fmt.Errorf("unknown toolset %q (known: %s)", t, strings.Join(Toolsets, ", "))
		}
	}
	return nil
}

// All declares every tool.
func All(d Deps) ([]Tool, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.MaxInlineBytes <= 0 {
		d.MaxInlineBytes = DefaultMaxInlineBytes
	}
	if d.MaxRows <= 0 {
		d.MaxRows = DefaultMaxRows
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Confirm == nil {
		d.Confirm = unasked{}
	}
	if d.Roots == nil {
		d.Roots = func(context.Context) fsroot.Roots { return fsroot.Roots{} }
	}
	var all []Tool
	var errs []error
	for _, group := range []func() ([]Tool, []error){kvTools{d}.declare, r2Tools{d}.declare, d1Tools{d}.declare, accountTools{d}.declare} {
		ts, es := group()
		all = append(all, ts...)
		errs = append(errs, es...)
	}
	return all, errors.Join(errs...)
}

// Select keeps the tools of sel, deriving read-only mode from annotations:
// under ReadOnly, the tools whose readOnlyHint is true, and d1_query (kept
// by Spec.KeepReadOnly), whose writes the Store refuses.
func Select(all []Tool, sel Selection) []Tool {
	return slices.DeleteFunc(slices.Clone(all), func(t Tool) bool {
		if len(sel.Toolsets) > 0 && !slices.Contains(sel.Toolsets, t.Toolset) {
			return true
		}
		return sel.ReadOnly && !t.ReadOnly() && !t.KeepReadOnly
	})
}

// Register declares the selected tools and adds them to s.
func Register(s *server.MCPServer, d Deps, sel Selection) error {
	if err := sel.Validate(); err != nil {
		return err
	}
	all, err := All(d)
	if err != nil {
		return err
	}
	selected := Select(all, sel)
	batch := make([]server.ServerTool, len(selected))
	for i, t := range selected {
		if slices.Contains(sel.Tasks, t.Def.Name) {
			t.Def.Execution = &mcp.ToolExecution{TaskSupport: mcp.TaskSupportOptional}
		}
		batch[i] = server.ServerTool{Tool: t.Def, Handler: t.Handler}
	}
	s.AddTools(batch...) // one registration, not one per tool
	return nil
}

// group collects the tools of one toolset, keeping declaration errors.
type group struct {
	toolset string
	log     *slog.Logger
	tools   []Tool
	errs    []error
}

func newGroup(toolset string, d Deps) *group {
	return &group{toolset: toolset, log: d.Log}
}

func add[In, Out any](g *group, s Spec[In, Out]) {
	t, err := define(g.toolset, s, g.log)
	if err != nil {
		g.errs = append(g.errs, err)
		return
	}
	g.tools = append(g.tools, t)
}

func (g *group) done() ([]Tool, []error) { return g.tools, g.errs }

// sizeText writes a byte count as descriptions state limits: "1 MiB",
// "512 KiB", or "1000 bytes" when it is no whole number of either.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
