// A Worker that does what a test asks through its bindings, so the test can
// compare what workerd itself writes and reads with what the miniflare
// package reads and writes. Every request is a POST of one JSON operation;
// bytes travel as base64.

const b64 = (buf) => {
  let s = "";
  const bytes = new Uint8Array(buf);
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
};
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

const objectInfo = (o) => ({
  key: o.key,
  size: o.size,
  etag: o.etag,
  uploaded: o.uploaded.toISOString(),
  httpMetadata: o.httpMetadata,
  customMetadata: o.customMetadata,
});

// pattern is n deterministic bytes, so that a large object need not travel.
const pattern = (n, seed) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) % 251;
  return b;
};

async function run(env, op) {
  const kv = env[op.binding || "KV"], bucket = env[op.binding || "BUCKET"], db = env[op.binding || "DB"];
  switch (op.op) {
    case "kv.put": {
      const opts = {};
      if (op.metadata !== undefined) opts.metadata = op.metadata;
      if (op.expiration) opts.expiration = op.expiration;
      if (op.expirationTtl) opts.expirationTtl = op.expirationTtl;
      await kv.put(op.key, unb64(op.value), opts);
      return {};
    }
    case "kv.get": {
      const r = await kv.getWithMetadata(op.key, "arrayBuffer");
      if (r.value === null) return { found: false };
      return { found: true, value: b64(r.value), metadata: r.metadata };
    }
    case "kv.list": {
      const r = await kv.list({ prefix: op.prefix, cursor: op.cursor, limit: op.limit });
      return r;
    }
    case "kv.delete":
      await kv.delete(op.key);
      return {};
    case "r2.put": {
      const o = await bucket.put(op.key, unb64(op.value), {
        httpMetadata: op.httpMetadata,
        customMetadata: op.customMetadata,
      });
      return objectInfo(o);
    }
    case "r2.multipart": {
      // Parts of op.sizes bytes, part i filled with pattern(size, i).
      const up = await bucket.createMultipartUpload(op.key, {
        httpMetadata: op.httpMetadata,
        customMetadata: op.customMetadata,
      });
      const parts = [];
      for (let i = 0; i < op.sizes.length; i++) parts.push(await up.uploadPart(i + 1, pattern(op.sizes[i], i)));
      return objectInfo(await up.complete(parts));
    }
    case "r2.get": {
      const o = await bucket.get(op.key, op.range ? { range: op.range } : {});
      if (o === null) return { found: false };
      return { found: true, ...objectInfo(o), value: b64(await o.arrayBuffer()) };
    }
    case "r2.list": {
      const r = await bucket.list({
        prefix: op.prefix,
        delimiter: op.delimiter,
        include: ["httpMetadata", "customMetadata"],
      });
      return { objects: r.objects.map(objectInfo), prefixes: r.delimitedPrefixes, truncated: r.truncated };
    }
    case "r2.delete":
      await bucket.delete(op.key);
      return {};
    case "d1.exec": {
      const r = await db.prepare(op.sql).bind(...(op.params || [])).raw({ columnNames: true });
      return { columns: r[0] || [], rows: r.slice(1) };
    }
    case "d1.batch": {
      await db.batch(op.statements.map((s) => db.prepare(s.sql).bind(...(s.params || []))));
      return {};
    }
  }
  throw new Error("unknown op " + op.op);
}

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return new Response("ready\n");
    try {
      const result = await run(env, await request.json());
      return Response.json(result);
    } catch (e) {
      return Response.json({ error: String(e && e.stack || e) }, { status: 500 });
    }
  },
};
