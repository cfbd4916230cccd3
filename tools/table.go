package tools

import (
	"fmt"
	"strings"
)

// MarkdownTable renders tools as the README's tool table, so the README can
// be checked against what the server registers.
func MarkdownTable(ts []Tool) string {
	var b strings.Builder
	b.WriteString("| tool | toolset | read-only | destructive | idempotent | what it does |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	yn := func(p *bool) string {
		if p != nil && *p {
			return "yes"
		}
		return "no"
	}
	for _, t := range ts {
		a := t.Def.Annotations
		desc, _, _ := strings.Cut(t.Def.Description, ". ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", t.Def.Name, t.Toolset,
			yn(a.ReadOnlyHint), yn(a.DestructiveHint), yn(a.IdempotentHint), strings.TrimSuffix(desc, ".")+".")
	}
	return b.String()
}
