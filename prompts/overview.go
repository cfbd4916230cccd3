package prompts

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The survey is capped so that the prompt stays small and quick on a large
// account: the first namespaces and buckets are described, the rest named.
const (
	surveyDetailed   = 20   // namespaces and buckets described in detail (each)
	surveyNamed      = 200  // further ones listed by name only (each)
	surveyKeyCount   = 1000 // keys counted per namespace (one listing page)
	surveyShownKeys  = 10   // key names shown per namespace
	surveyTopLevel   = 100  // top-level entries listed per bucket (one page)
	surveyShownItems = 10   // folders and objects shown per bucket (each)
	surveyNameBytes  = 80   // longer key names are cut
)

func (p *Prompts) storageOverview(ctx context.Context, _ mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	var b strings.Builder
	desc, err := p.Store.Describe(ctx)
	if err != nil {
		return nil, promptError("", err)
	}
	fmt.Fprintf(&b, "Inventory of the Cloudflare storage this MCP server can reach (%s backend), read just now.\n", desc.Backend)
	// Only the areas the server serves (--toolsets) are surveyed, and only
	// their resources and tools are suggested.
	var schemes, tools []string
	if p.Store.Serves(storage.AreaKV) {
		b.WriteString("\n")
		if err := p.surveyNamespaces(ctx, &b); err != nil {
			return nil, promptError("", err)
		}
		schemes, tools = append(schemes, "kv://"), append(tools, "kv_list", "kv_get")
	}
	if p.Store.Serves(storage.AreaR2) {
		b.WriteString("\n")
		if err := p.surveyBuckets(ctx, &b); err != nil {
			return nil, promptError("", err)
		}
		schemes, tools = append(schemes, "r2://"), append(tools, "r2_list", "r2_head")
	}
	if p.Store.Serves(storage.AreaD1) {
		b.WriteString("\n")
		if err := p.surveyDatabases(ctx, &b); err != nil {
			return nil, promptError("", err)
		}
		schemes, tools = append(schemes, "d1://"), append(tools, "d1_query (read-only SELECTs)")
	}
	fmt.Fprintf(&b, `
Summarise what is stored, for someone who has not seen this account: for each namespace, bucket and database, say what
it appears to hold and to be used for (judge by the names, keys, folders, content types and tables), roughly how much is
in it, and anything notable: expiring keys, empty ones, names that look like leftovers, tests or duplicates.
Keep it short, grouped by purpose rather than repeating the inventory. End with two or three useful next steps.
To look deeper before answering, read the %s resources named above (folders read as listings) or call
%s. Do not change or delete anything.`, joinAnd(schemes), strings.Join(tools, ", "))
	return &mcp.GetPromptResult{
		Description: "A live survey of every KV namespace, R2 bucket and D1 database, with a request to summarise them.",
		Messages:    []mcp.PromptMessage{userText(b.String())},
	}, nil
}

func (p *Prompts) surveyNamespaces(ctx context.Context, b *strings.Builder) error {
	all, more, err := firstN(storage.AllNamespaces(ctx, p.Store.KV(), storage.ListOptions{}), surveyDetailed+surveyNamed)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "KV namespaces: %s\n", count(len(all), more))
	if len(all) == 0 {
		b.WriteString("- (none)\n")
	}
	for i, ns := range all {
		if i >= surveyDetailed {
			fmt.Fprintf(b, "- %q (id %s)\n", ns.Title, ns.ID)
			continue
		}
		page, err := p.Store.KV().List(ctx, ns.ID, storage.ListOptions{Limit: surveyKeyCount})
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "- %q (id %s, resource kv://%s/): ", ns.Title, ns.ID, ns.ID)
		if len(page.Keys) == 0 {
			b.WriteString("empty\n")
			continue
		}
		expiring, withMeta := 0, 0
		for _, k := range page.Keys {
			if k.Expiration > 0 {
				expiring++
			}
			if len(k.Metadata) > 0 {
				withMeta++
			}
		}
		b.WriteString(counted(len(page.Keys), page.Cursor != "", "key"))
		if expiring > 0 {
			fmt.Fprintf(b, ", %d expiring", expiring)
		}
		if withMeta > 0 {
			fmt.Fprintf(b, ", %d with metadata", withMeta)
		}
		b.WriteString("; first keys: ")
		for j, k := range page.Keys[:min(len(page.Keys), surveyShownKeys)] {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(cut(k.Name))
		}
		if len(page.Keys) > surveyShownKeys {
			b.WriteString(", ...")
		}
		b.WriteString("\n")
	}
	return nil
}

func (p *Prompts) surveyBuckets(ctx context.Context, b *strings.Builder) error {
	all, more, err := firstN(storage.AllBuckets(ctx, p.Store.R2(), storage.ListOptions{}), surveyDetailed+surveyNamed)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "R2 buckets: %s\n", count(len(all), more))
	if len(all) == 0 {
		b.WriteString("- (none)\n")
	}
	for i, bk := range all {
		if i >= surveyDetailed {
			fmt.Fprintf(b, "- %q\n", bk.Name)
			continue
		}
		page, err := p.Store.R2().ListObjects(ctx, bk.Name, storage.ObjectListOptions{Delimiter: "/", Limit: surveyTopLevel})
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "- %q (resource r2://%s/", bk.Name, bk.Name)
		if bk.Location != "" {
			fmt.Fprintf(b, ", location %s", bk.Location)
		}
		b.WriteString("): ")
		if len(page.Objects) == 0 && len(page.Prefixes) == 0 {
			b.WriteString("empty\n")
			continue
		}
		more := page.Cursor != ""
		fmt.Fprintf(b, "top level holds %s and %s", counted(len(page.Prefixes), more, "folder"), counted(len(page.Objects), more, "object"))
		if len(page.Prefixes) > 0 {
			b.WriteString("; folders: ")
			for j, f := range page.Prefixes[:min(len(page.Prefixes), surveyShownItems)] {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(cut(f))
			}
			if len(page.Prefixes) > surveyShownItems {
				b.WriteString(", ...")
			}
		}
		if len(page.Objects) > 0 {
			b.WriteString("; objects: ")
			for j, o := range page.Objects[:min(len(page.Objects), surveyShownItems)] {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "%s (%s", cut(o.Key), size(o.Size))
				if o.HTTP.ContentType != "" {
					fmt.Fprintf(b, ", %s", o.HTTP.ContentType)
				}
				b.WriteString(")")
			}
			if len(page.Objects) > surveyShownItems {
				b.WriteString(", ...")
			}
		}
		b.WriteString("\n")
	}
	return nil
}

// surveyDatabases lists the D1 databases with their size and first tables.
func (p *Prompts) surveyDatabases(ctx context.Context, b *strings.Builder) error {
	all, more, err := firstN(storage.AllDatabases(ctx, p.Store.D1(), storage.ListOptions{}), surveyDetailed+surveyNamed)
	if storage.CodeOf(err) == storage.CodeUnsupported {
		return nil // a backend without D1
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "D1 databases: %s\n", count(len(all), more))
	if len(all) == 0 {
		b.WriteString("- (none)\n")
	}
	for i, db := range all {
		if i >= surveyDetailed {
			fmt.Fprintf(b, "- %s (id %s)\n", cut(db.Name), db.ID)
			continue
		}
		res, err := p.Store.D1().Query(ctx, db.ID, []storage.Statement{{
			SQL: "SELECT name FROM sqlite_master WHERE " + storage.D1UserTables + " ORDER BY name",
		}}, storage.QueryOptions{ReadOnly: true, MaxRows: surveyShownItems})
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "- %s (id %s, resource d1://%s/", cut(db.Name), db.ID, db.ID)
		if db.FileSize > 0 {
			fmt.Fprintf(b, ", %s", size(db.FileSize))
		}
		b.WriteString("): ")
		tables := res[0]
		if len(tables.Rows) == 0 {
			b.WriteString("no tables\n")
			continue
		}
		more := tables.RowCount > len(tables.Rows)
		fmt.Fprintf(b, "%s: ", counted(tables.RowCount, false, "table"))
		for j, row := range tables.Rows {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(cut(fmt.Sprint(row[0])))
		}
		if more {
			b.WriteString(", ...")
		}
		b.WriteString("\n")
	}
	return nil
}

// joinAnd joins items as a list in prose: "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// count renders n, with a "+" when the listing stopped before the end.
func count(n int, more bool) string {
	if more {
		return fmt.Sprintf("%d+", n)
	}
	return fmt.Sprint(n)
}

// counted is count with a noun, plural unless exactly one.
func counted(n int, more bool, noun string) string {
	if n == 1 && !more {
		return "1 " + noun
	}
	return count(n, more) + " " + noun + "s"
}

// cut quotes a key for the survey, shortening long ones: names are data,
// and a hostile one must not read as instructions.
func cut(name string) string {
	if len(name) > surveyNameBytes {
		i := surveyNameBytes
		for i > 0 && !utf8.RuneStart(name[i]) {
			i--
		}
		name = name[:i] + "…"
	}
	return fmt.Sprintf("%q", name)
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// firstN takes at most n items of seq, and reports whether there were more.
func firstN[T any](seq iter.Seq2[T, error], n int) (items []T, more bool, err error) {
	for it, err := range seq {
		if err != nil {
			return nil, false, err
		}
		if len(items) == n {
			return items, true, nil
		}
		items = append(items, it)
	}
	return items, false, nil
}
