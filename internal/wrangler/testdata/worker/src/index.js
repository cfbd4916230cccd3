// The fixture Worker: it answers what its bindings hold, so a test can check
// that what mcp-cfstorage wrote is what the Worker reads, and it writes on
// request, so a test can check that mcp-cfstorage reads what the Worker wrote.
// Keys travel in the query (?key=), never in the path, so no routing question
// arises on this side.
//
//   GET    /kv?key=K           value bytes; x-metadata, x-expiration headers; 404 when absent
//   PUT    /kv?key=K[&ttl=S][&expiration=T][&metadata=JSON]   body = value
//   DELETE /kv?key=K
//   GET    /r2?key=K           object bytes; x-http-metadata, x-custom-metadata headers (JSON)
//   PUT    /r2?key=K[&custom=JSON]   body = bytes; Content-Type and friends become HTTP metadata
//   DELETE /r2?key=K
//   POST   /d1                 {"sql": "...", "params": [...]} -> {"results": [...]}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.searchParams.get("key");
    try {
      switch (`${request.method} ${url.pathname}`) {
        case "GET /kv": {
          const { value, metadata } = await env.CACHE.getWithMetadata(key, "arrayBuffer");
          if (value === null) return new Response("not found", { status: 404 });
          // get does not say when a key expires; list does.
          const listed = await env.CACHE.list({ prefix: key });
          const entry = listed.keys.find((k) => k.name === key);
          return new Response(value, {
            headers: {
              "content-type": "application/octet-stream",
              "x-metadata": JSON.stringify(metadata ?? null),
              "x-expiration": String(entry?.expiration ?? 0),
            },
          });
        }
        case "PUT /kv": {
          const opts = {};
          if (url.searchParams.has("ttl")) opts.expirationTtl = Number(url.searchParams.get("ttl"));
          if (url.searchParams.has("expiration")) opts.expiration = Number(url.searchParams.get("expiration"));
          if (url.searchParams.has("metadata")) opts.metadata = JSON.parse(url.searchParams.get("metadata"));
          await env.CACHE.put(key, await request.arrayBuffer(), opts);
          return new Response("ok");
        }
        case "DELETE /kv":
          await env.CACHE.delete(key);
          return new Response("ok");
        case "GET /r2": {
          const obj = await env.ASSETS.get(key);
          if (obj === null) return new Response("not found", { status: 404 });
          return new Response(obj.body, {
            headers: {
              "content-type": "application/octet-stream",
              "x-http-metadata": JSON.stringify(obj.httpMetadata ?? {}),
              "x-custom-metadata": JSON.stringify(obj.customMetadata ?? {}),
              "x-size": String(obj.size),
            },
          });
        }
        case "PUT /r2": {
          const h = request.headers;
          const httpMetadata = {};
          for (const [header, field] of [
            ["content-type", "contentType"],
            ["content-language", "contentLanguage"],
            ["content-disposition", "contentDisposition"],
            ["content-encoding", "contentEncoding"],
            ["cache-control", "cacheControl"],
          ]) {
            if (h.has(header)) httpMetadata[field] = h.get(header);
          }
          const customMetadata = JSON.parse(url.searchParams.get("custom") ?? "{}");
          await env.ASSETS.put(key, await request.arrayBuffer(), { httpMetadata, customMetadata });
          return new Response("ok");
        }
        case "DELETE /r2":
          await env.ASSETS.delete(key);
          return new Response("ok");
        case "POST /d1": {
          const { sql, params = [] } = await request.json();
          const { results } = await env.DB.prepare(sql).bind(...params).all();
          return Response.json({ results });
        }
      }
      return new Response("no such route", { status: 404 });
    } catch (err) {
      return new Response(String(err?.stack ?? err), { status: 500 });
    }
  },
};
