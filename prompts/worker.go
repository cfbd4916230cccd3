package prompts

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// samples is how many keys and objects wire_worker shows as examples.
const samples = 5

func (p *Prompts) wireWorker(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	nsRef, bucketName := req.Params.Arguments[ArgNamespace], req.Params.Arguments[ArgBucket]
	switch {
	case nsRef == "":
		return nil, promptError(ArgNamespace, storage.Errorf(storage.CodeInvalidArgument, "give the title or id of the KV namespace to bind"))
	case bucketName == "":
		return nil, promptError(ArgBucket, storage.Errorf(storage.CodeInvalidArgument, "give the name of the R2 bucket to bind"))
	}
	ns, err := p.Store.Namespace(ctx, nsRef)
	if err != nil {
		return nil, promptError("", err)
	}
	if ns, err = p.Store.KV().GetNamespace(ctx, ns.ID); err != nil {
		return nil, promptError("", err)
	}
	bucket, err := p.Store.R2().GetBucket(ctx, bucketName)
	if err != nil {
		return nil, promptError("", err)
	}
	keys, err := p.Store.KV().List(ctx, ns.ID, storage.ListOptions{Limit: storage.MinKVListLimit})
	if err != nil {
		return nil, promptError("", err)
	}
	objects, err := p.Store.R2().ListObjects(ctx, bucket.Name, storage.ObjectListOptions{Limit: samples})
	if err != nil {
		return nil, promptError("", err)
	}

	kvBinding, r2Binding := storage.BindingName(ns.Title, "KV"), storage.BindingName(bucket.Name, "BUCKET")
	if kvBinding == r2Binding {
		kvBinding, r2Binding = kvBinding+"_KV", r2Binding+"_BUCKET"
	}
	toml := WranglerTOML(workerName(ns.Title+"-"+bucket.Name), p.Now().UTC().Format("2006-01-02"),
		kvBinding, ns.ID, r2Binding, bucket)

	var b strings.Builder
	fmt.Fprintf(&b, `Write a Cloudflare Worker in TypeScript that reads from both a Workers KV namespace and an R2 bucket, and its
wrangler.toml. Bind exactly these two; the id and name are the real ones of my account (read just now), keep them as they are:

`+"```toml\n%s```\n\n", toml)
	fmt.Fprintf(&b, "What they hold now:\n- KV namespace %q (binding %s, id %s): ", ns.Title, kvBinding, ns.ID)
	if len(keys.Keys) == 0 {
		b.WriteString("no keys yet")
	} else {
		b.WriteString("keys such as ")
		for i, k := range keys.Keys[:min(len(keys.Keys), samples)] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(cut(k.Name))
		}
	}
	fmt.Fprintf(&b, "\n- R2 bucket %q (binding %s): ", bucket.Name, r2Binding)
	if len(objects.Objects) == 0 {
		b.WriteString("no objects yet")
	} else {
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
	}
	fmt.Fprintf(&b, `

The Worker, following Cloudflare's KV & R2 walk-through ("build a Worker that reads from both KV and R2"):
1. src/index.ts with `+"`interface Env { %[1]s: KVNamespace; %[2]s: R2Bucket }`"+` (types from @cloudflare/workers-types)
   and `+"`export default { async fetch(request: Request, env: Env): Promise<Response> { ... } }`"+`.
2. GET /config/<key>: `+"`await env.%[1]s.get(key)`"+`, 404 when it is null; GET /config lists keys with
   `+"`env.%[1]s.list({ prefix })`"+` (prefix from the query string).
3. GET /files/<key>: `+"`await env.%[2]s.get(key)`"+`, 404 ("Not Found") when null, else stream object.body with
   Content-Type from object.httpMetadata?.contentType (default application/octet-stream) and the ETag.
4. GET /: both together, e.g. JSON with a value read from KV (use one of the keys above) and the first objects from
   `+"`env.%[2]s.list({ limit: 20 })`"+`.
5. Anything else: 405 Method Not Allowed, or 404. The Worker only reads; it never writes or deletes.

Give the complete wrangler.toml (the block above, unchanged), src/index.ts, the package.json devDependencies it needs
(wrangler, typescript, @cloudflare/workers-types), and how to run it: `+"`npx wrangler dev --remote`"+` to read the real
namespace and bucket (plain `+"`wrangler dev`"+` uses empty local storage), then `+"`npx wrangler deploy`"+`.`, kvBinding, r2Binding)

	return &mcp.GetPromptResult{
		Description: fmt.Sprintf("Draft a Worker reading KV namespace %q (%s) and R2 bucket %q.", ns.Title, ns.ID, bucket.Name),
		Messages:    []mcp.PromptMessage{userText(b.String())},
	}, nil
}

// WranglerTOML is a wrangler.toml that binds one KV namespace and one R2
// bucket to a Worker whose entry point is src/index.ts.
func WranglerTOML(name, compatibilityDate, kvBinding, namespaceID, r2Binding string, bucket storage.Bucket) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name = %q\nmain = \"src/index.ts\"\ncompatibility_date = %q\n\n", name, compatibilityDate)
	b.WriteString(storage.KVBindingTOML(kvBinding, namespaceID) + "\n")
	b.WriteString(storage.R2BindingTOML(r2Binding, bucket))
	return b.String()
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
		return "kv-r2-worker"
	}
	return name
}
