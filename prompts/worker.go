package prompts

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// samples is how many keys, objects and tables wire_worker shows as examples.
const samples = 5

// binding is one namespace, bucket or database wire_worker binds.
type binding struct {
	kind    string                      // KV, R2 or D1
	name    string                      // the binding name in the Worker's env
	tsType  string                      // its TypeScript type
	what    string                      // "KV namespace \"site-config\" (id …)"
	id      string                      // the namespace's or database's id
	block   func(binding string) string // its wrangler.toml block
	create  string                      // the wrangler command that makes the real one
	holds   string                      // what it holds now
	example string                      // one key, object key or table from holds, "" when empty
}

func (p *Prompts) wireWorker(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	args := req.Params.Arguments
	if args[ArgNamespace] == "" && args[ArgBucket] == "" && args[ArgDatabase] == "" {
		return nil, promptError(ArgNamespace, storage.Errorf(storage.CodeInvalidArgument,
			"give at least one of namespace (a KV namespace's title or id), bucket (an R2 bucket's name), database (a D1 database's name or id)"))
	}
	desc, err := p.Store.Describe(ctx)
	if err != nil {
		return nil, promptError("", err)
	}
	var bound []binding
	for _, step := range []struct {
		arg  string
		bind func(context.Context, string) (binding, error)
	}{{ArgNamespace, p.bindNamespace}, {ArgBucket, p.bindBucket}, {ArgDatabase, p.bindDatabase}} {
		if ref := args[step.arg]; ref != "" {
			b, err := step.bind(ctx, ref)
			if err != nil {
				return nil, promptError("", err)
			}
			bound = append(bound, b)
		}
	}
	project := desc.Wrangler
	if project != nil {
		for i := range bound {
			bound[i].name = projectBinding(project.Bindings, bound[i])
		}
	} else {
		distinctNames(bound)
	}

	var b strings.Builder
	kinds := make([]string, len(bound))
	for i, bd := range bound {
		kinds[i] = bd.what
	}
	fmt.Fprintf(&b, "Write a Cloudflare Worker in TypeScript that reads from %s.\n\n", joinAnd(kinds))
	switch {
	case project != nil:
		where := project.Config
		if project.Env != "" {
			where += " (environment " + project.Env + ")"
		}
		fmt.Fprintf(&b, "My Worker project's own config, %s, already binds them; use its binding names and do not write a new\n"+
			"wrangler config or change its ids:\n", where)
		for _, bd := range bound {
			fmt.Fprintf(&b, "- %s: binding %s\n", bd.kind, bd.name)
		}
		b.WriteString("\n")
	default:
		var names, blocks, creates []string
		for _, bd := range bound {
			names = append(names, bd.example)
			blocks = append(blocks, bd.block(bd.name))
			creates = append(creates, bd.create)
		}
		toml := storage.WorkerTOML(workerName(strings.Join(names, "-")), p.Now().UTC().Format("2006-01-02"),
			storage.ConfigNote(desc.Backend, creates...), blocks...)
		if desc.Backend == "cloudflare" {
			account := "my Cloudflare account"
			if desc.AccountID != "" {
				account += " (" + desc.AccountID + ")"
			}
			fmt.Fprintf(&b, "Its wrangler.toml binds exactly these; the ids and names are the real ones of %s, read just now: keep them\n"+
				"as they are:\n\n```toml\n%s```\n\n", account, toml)
		} else {
			fmt.Fprintf(&b, "Its wrangler.toml binds exactly these. The ids and names come from mcp-cfstorage's %s store, NOT from my\n"+
				"Cloudflare account: keep the comment in the config, and tell me that before deploying I must create the real\n"+
				"ones (the commands in the comment) and put their ids in the config:\n\n```toml\n%s```\n\n", desc.Backend, toml)
		}
	}
	b.WriteString("What they hold now:\n")
	for _, bd := range bound {
		fmt.Fprintf(&b, "- %s (binding %s): %s\n", bd.what, bd.name, bd.holds)
	}

	iface := make([]string, len(bound))
	for i, bd := range bound {
		iface[i] = bd.name + ": " + bd.tsType
	}
	fmt.Fprintf(&b, "\nThe Worker, following Cloudflare's walk-throughs for KV, R2 and D1:\n"+
		"1. src/index.ts with `interface Env { %s }` (types from @cloudflare/workers-types)\n"+
		"   and `export default { async fetch(request: Request, env: Env): Promise<Response> { ... } }`.\n",
		strings.Join(iface, "; "))
	step := 2
	for _, bd := range bound {
		switch bd.kind {
		case "KV":
			fmt.Fprintf(&b, "%d. GET /config/<key>: `await env.%[2]s.get(key)`, 404 when it is null; GET /config lists keys with\n"+
				"   `env.%[2]s.list({ prefix })` (prefix from the query string).\n", step, bd.name)
		case "R2":
			fmt.Fprintf(&b, "%d. GET /files/<key>: `await env.%[2]s.get(key)`, 404 (\"Not Found\") when null, else stream object.body with\n"+
				"   Content-Type from object.httpMetadata?.contentType (default application/octet-stream) and the ETag.\n", step, bd.name)
		case "D1":
			fmt.Fprintf(&b, "%d. GET /tables/<table>: the first 50 rows with `await env.%[2]s.prepare(\"SELECT * FROM \" + table + \" LIMIT 50\").all()`,\n"+
				"   only for a table in a fixed list of the tables above (never build SQL from other input; bind values with\n"+
				"   .bind()), 404 otherwise.\n", step, bd.name)
		}
		step++
	}
	fmt.Fprintf(&b, "%d. GET /: a JSON summary that reads each binding once (e.g. one of the keys, objects or tables above).\n"+
		"%d. Anything else: 405 Method Not Allowed, or 404. The Worker only reads; it never writes or deletes.\n\n", step, step+1)

	switch {
	case project != nil:
		b.WriteString("Give src/index.ts and the package.json devDependencies it needs (wrangler, typescript, @cloudflare/workers-types), and\n" +
			"how to run it: `npx wrangler dev` serves the same local data this server reads.")
	case desc.Backend == "cloudflare":
		b.WriteString("Give the complete wrangler.toml (the one above, unchanged), src/index.ts, the package.json devDependencies it needs\n" +
			"(wrangler, typescript, @cloudflare/workers-types), and how to run it: `npx wrangler dev --remote` to read the real\n" +
			"namespace, bucket and database (plain `wrangler dev` uses empty local storage), then `npx wrangler deploy`.")
	default:
		b.WriteString("Give the complete wrangler.toml (the one above, with its comment), src/index.ts, the package.json devDependencies\n" +
			"it needs (wrangler, typescript, @cloudflare/workers-types), and how to run it: `npx wrangler dev` (its own empty local\n" +
			"storage; the data above is not in it), and before `npx wrangler deploy`, the create commands of the comment, with\n" +
			"their ids put in wrangler.toml.")
	}

	return &mcp.GetPromptResult{
		Description: fmt.Sprintf("Draft a Worker reading %s (%s backend).", joinAnd(kinds), desc.Backend),
		Messages:    []mcp.PromptMessage{userText(b.String())},
	}, nil
}

func (p *Prompts) bindNamespace(ctx context.Context, ref string) (binding, error) {
	ns, err := p.Store.Namespace(ctx, ref)
	if err != nil {
		return binding{}, err
	}
	if ns, err = p.Store.KV().GetNamespace(ctx, ns.ID); err != nil {
		return binding{}, err
	}
	keys, err := p.Store.KV().List(ctx, ns.ID, storage.ListOptions{Limit: storage.MinKVListLimit})
	if err != nil {
		return binding{}, err
	}
	name := storage.BindingName(ns.Title, "KV")
	bd := binding{kind: "KV", name: name, tsType: "KVNamespace", what: fmt.Sprintf("the KV namespace %s (id %s)", cut(ns.Title), ns.ID),
		id: ns.ID, block: func(b string) string { return storage.KVBindingTOML(b, ns.ID) }, create: storage.CreateKVCommand(ns.Title), example: ns.Title, holds: "no keys yet"}
	if len(keys.Keys) > 0 {
		names := make([]string, 0, samples)
		for _, k := range keys.Keys[:min(len(keys.Keys), samples)] {
			names = append(names, cut(k.Name))
		}
		bd.holds = "keys such as " + strings.Join(names, ", ")
	}
	return bd, nil
}

func (p *Prompts) bindBucket(ctx context.Context, name string) (binding, error) {
	bucket, err := p.Store.R2().GetBucket(ctx, name)
	if err != nil {
		return binding{}, err
	}
	objects, err := p.Store.R2().ListObjects(ctx, bucket.Name, storage.ObjectListOptions{Limit: samples})
	if err != nil {
		return binding{}, err
	}
	bname := storage.BindingName(bucket.Name, "BUCKET")
	bd := binding{kind: "R2", name: bname, tsType: "R2Bucket", what: fmt.Sprintf("the R2 bucket %s", cut(bucket.Name)),
		block: func(b string) string { return storage.R2BindingTOML(b, bucket) }, create: storage.CreateR2Command(bucket.Name), example: bucket.Name, holds: "no objects yet"}
	if len(objects.Objects) > 0 {
		var b strings.Builder
		b.WriteString("objects such as ")
		for i, o := range objects.Objects {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%s", cut(o.Key), size(o.Size))
			if o.HTTP.ContentType != "" {
				fmt.Fprintf(&b, ", %s", o.HTTP.ContentType)
			}
			b.WriteString(")")
		}
		bd.holds = b.String()
	}
	return bd, nil
}

func (p *Prompts) bindDatabase(ctx context.Context, ref string) (binding, error) {
	db, err := p.Store.Database(ctx, ref)
	if err != nil {
		return binding{}, err
	}
	res, err := p.Store.D1().Query(ctx, db.ID, []storage.Statement{{
		SQL: "SELECT name FROM sqlite_master WHERE " + storage.D1UserTables + " ORDER BY name",
	}}, storage.QueryOptions{ReadOnly: true, MaxRows: samples})
	if err != nil {
		return binding{}, err
	}
	name := storage.BindingName(db.Name, "DB")
	bd := binding{kind: "D1", name: name, tsType: "D1Database", what: fmt.Sprintf("the D1 database %s (id %s)", cut(db.Name), db.ID),
		id: db.ID, block: func(b string) string { return storage.D1BindingTOML(b, db) }, create: storage.CreateD1Command(db.Name), example: db.Name, holds: "no tables yet"}
	if rows := res[0].Rows; len(rows) > 0 {
		tables := make([]string, len(rows))
		for i, row := range rows {
			tables[i] = cut(fmt.Sprint(row[0]))
		}
		bd.holds = "tables " + strings.Join(tables, ", ")
		if res[0].RowCount > len(rows) {
			bd.holds += ", ..."
		}
	}
	return bd, nil
}

// projectBinding is the binding name the project's config gives bd, from
// the wrangler backend's description ("KV CACHE (id)", "R2 ASSETS (bucket)",
// "D1 DB (id)"): a KV namespace is titled by its binding, a bucket matches by
// its name, a database by its id or its name.
func projectBinding(bindings []string, bd binding) string {
	for _, s := range bindings {
		kind, rest, _ := strings.Cut(s, " ")
		name, dev, _ := strings.Cut(rest, " (")
		dev = strings.TrimSuffix(dev, ")")
		if kind != bd.kind {
			continue
		}
		switch {
		case kind == "KV" && name == bd.example,
			kind == "R2" && dev == bd.example,
			kind == "D1" && (dev == bd.id || strings.EqualFold(name, bd.example)):
			return name
		}
	}
	return bd.name
}

// distinctNames keeps the binding names apart: a namespace and a bucket
// both called assets become ASSETS_KV and ASSETS_BUCKET.
func distinctNames(bound []binding) {
	seen := map[string]int{}
	for _, bd := range bound {
		seen[bd.name]++
	}
	suffix := map[string]string{"KV": "_KV", "R2": "_BUCKET", "D1": "_DB"}
	for i, bd := range bound {
		if seen[bd.name] > 1 {
			bound[i].name += suffix[bd.kind]
		}
	}
}

// workerName derives a Worker name (lowercase letters, digits and dashes,
// at most 63) from s.
func workerName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	if name == "" {
		return "storage-worker"
	}
	return name
}
