package tools_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"runtime"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/tools"
)

// maxBase64PutAlloc bounds what a tool may allocate, beyond the request the
// server has already decoded, to write a value given as base64: 1.3 times
// the decoded size. The value is decoded once, streamed where the backend
// takes a stream; the arguments are not copied whole on the way to the
// handler.
const maxBase64PutAlloc = 1.3

// A 16 MiB value as base64 (kv_put value_base64, r2_upload content_base64)
// is written with at most maxBase64PutAlloc times its size allocated: the
// handler once decoded it three and four times over (arguments marshalled
// for the schema, parsed, unmarshalled, decoded).
func TestBase64PutAllocatesAboutOneCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 16 MiB twice")
	}
	const size = 16 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	b64 := base64.StdEncoding.EncodeToString(data)

	backend := local.New(t.TempDir())
	defer backend.Close()
	store := storage.Guard(backend, storage.Policy{})
	ctx := t.Context()
	ns, err := store.KV().CreateNamespace(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.R2().CreateBucket(ctx, storage.BucketSpec{Name: "big"}); err != nil {
		t.Fatal(err)
	}
	all, err := tools.All(tools.Deps{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	handlers := map[string]func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error){}
	for _, tool := range all {
		handlers[tool.Def.Name] = tool.Handler
	}

	for _, c := range []struct {
		tool string
		args map[string]any
		read func() (io.ReadCloser, error)
	}{
		{"kv_put", map[string]any{"namespace": ns.ID, "key": "k", "value_base64": b64}, func() (io.ReadCloser, error) {
			v, err := store.KV().Get(ctx, ns.ID, "k")
			if err != nil {
				return nil, err
			}
			return v.Body, nil
		}},
		{"r2_upload", map[string]any{"bucket": "big", "key": "k", "content_base64": b64}, func() (io.ReadCloser, error) {
			o, err := store.R2().GetObject(ctx, "big", "k", nil)
			if err != nil {
				return nil, err
			}
			return o.Body, nil
		}},
	} {
		// As the server hands it over: JSON-RPC params decoded by mcp-go,
		// which keeps the raw arguments beside the parsed ones; and as a Go
		// caller in the same process builds it, with parsed ones only.
		params, err := json.Marshal(map[string]any{"name": c.tool, "arguments": c.args})
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []string{"json-rpc", "go"} {
			t.Run(c.tool+"/"+form, func(t *testing.T) {
				req := mcp.CallToolRequest{}
				if form == "json-rpc" {
					if err := json.Unmarshal(params, &req.Params); err != nil {
						t.Fatal(err)
					}
					if len(req.Params.RawArguments) == 0 {
						t.Fatal("mcp-go kept no raw arguments: this form tests nothing")
					}
				} else {
					req.Params.Name, req.Params.Arguments = c.tool, c.args
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				res, err := handlers[c.tool](ctx, req)
				runtime.ReadMemStats(&after)
				if err != nil || res.IsError {
					t.Fatalf("%s: %v %+v", c.tool, err, res)
				}
				alloc := after.TotalAlloc - before.TotalAlloc
				ratio := float64(alloc) / size
				t.Logf("%s of %d bytes as base64: %d bytes allocated, %.2fx the value", c.tool, size, alloc, ratio)
				if ratio > maxBase64PutAlloc {
					t.Errorf("%s allocated %.2fx the value's size, want at most %.1fx", c.tool, ratio, maxBase64PutAlloc)
				}
				body, err := c.read()
				if err != nil {
					t.Fatal(err)
				}
				defer body.Close()
				got, err := io.ReadAll(body)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("stored %d bytes (%v), want the %d written", len(got), err, size)
				}
			})
		}
	}
}

// maxInlineGetAlloc bounds what a tool may allocate to return a value
// inline: the value read once and made the string of its block once, with
// room for the result's description.
const maxInlineGetAlloc = 2.2

// A 1 MiB value read inline (kv_get, r2_download, as text) is read into
// memory once and made its block's string once: the handlers once also
// encoded it as a JSON string and decoded that again, and read it into a
// buffer that grew by doubling.
func TestInlineGetAllocatesAboutTwoCopies(t *testing.T) {
	const size = 1 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	backend := local.New(t.TempDir())
	defer backend.Close()
	store := storage.Guard(backend, storage.Policy{})
	ctx := t.Context()
	ns, err := store.KV().CreateNamespace(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.KV().Put(ctx, ns.ID, storage.KVPut{Key: "k", Body: bytes.NewReader(data), Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.R2().CreateBucket(ctx, storage.BucketSpec{Name: "big"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.R2().PutObject(ctx, storage.ObjectPut{Bucket: "big", Key: "k.txt", Body: bytes.NewReader(data), Size: size}); err != nil {
		t.Fatal(err)
	}
	all, err := tools.All(tools.Deps{Store: store, MaxInlineBytes: 2 * size})
	if err != nil {
		t.Fatal(err)
	}
	handlers := map[string]func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error){}
	for _, tool := range all {
		handlers[tool.Def.Name] = tool.Handler
	}
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"kv_get", map[string]any{"namespace": ns.ID, "key": "k"}},
		{"r2_download", map[string]any{"bucket": "big", "key": "k.txt"}},
	} {
		t.Run(c.tool, func(t *testing.T) {
			req := mcp.CallToolRequest{}
			req.Params.Name, req.Params.Arguments = c.tool, c.args
			// The first call compiles the tool's schemas (and r2_download's
			// loads the system's MIME types): measure the next.
			if _, err := handlers[c.tool](ctx, req); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := handlers[c.tool](ctx, req)
			runtime.ReadMemStats(&after)
			if err != nil || res.IsError || len(res.Content) != 2 {
				t.Fatalf("%s: %v %+v", c.tool, err, res)
			}
			if text, ok := res.Content[1].(mcp.TextContent); !ok || text.Text != string(data) {
				t.Fatalf("%s: the value's block is %T, not the value as text", c.tool, res.Content[1])
			}
			ratio := float64(after.TotalAlloc-before.TotalAlloc) / size
			t.Logf("%s of %d bytes: %.2fx the value allocated", c.tool, size, ratio)
			if ratio > maxInlineGetAlloc {
				t.Errorf("%s allocated %.2fx the value's size, want at most %.1fx", c.tool, ratio, maxInlineGetAlloc)
			}
		})
	}
}
