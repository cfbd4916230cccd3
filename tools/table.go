package tools

import (
	"encoding/json"
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
		desc = strings.TrimSuffix(desc, ".") + "."
		if c := confirmRule(t); c != "" && !strings.Contains(desc, "confirm") {
			desc += " `confirm` " + c + "."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", t.Def.Name, t.Toolset,
			yn(a.ReadOnlyHint), yn(a.DestructiveHint), yn(a.IdempotentHint), desc)
	}
	return b.String()
}

// confirmRule is what a tool's confirm argument must be ("must equal the
// database's name"), from its description, or "" for a tool without one:
// the table names it for every such tool, which the first sentence of a
// description may not.
func confirmRule(t Tool) string {
	var schema struct {
		Properties map[string]struct {
			Description string `json:"description"`
		} `json:"properties"`
	}
	if json.Unmarshal(t.Def.RawInputSchema, &schema) != nil {
		return ""
	}
	c, ok := schema.Properties["confirm"]
	if !ok {
		return ""
	}
	rule, _, _ := strings.Cut(c.Description, ":")
	return strings.TrimSpace(rule)
}

// ModelBytes is what a model reads of the tool list, in bytes: for each
// tool the compact JSON of {"name", "description", "inputSchema"} as
// tools/list sends them (encoding/json, as mcp-go encodes), summed. Output
// schemas and annotations are left out: clients read them, models mostly
// do not.
func ModelBytes(ts []Tool) (int, error) {
	total := 0
	for _, t := range ts {
		read, err := json.Marshal(struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"inputSchema"`
		}{t.Def.Name, t.Def.Description, t.Def.RawInputSchema})
		if err != nil {
			return 0, fmt.Errorf("tool %s: %w", t.Def.Name, err)
		}
		total += len(read)
	}
	return total, nil
}
