package tools_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// pngBytes makes a small real PNG.
func pngBytes(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{R: 255, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestR2Flow(t *testing.T) {
	h := newHarness(t, setup{})
	b := h.OK("create_r2_bucket", map[string]any{"name": "my-assets", "location_hint": "weur"})
	if !strings.Contains(b["wrangler_toml"].(string), `bucket_name = "my-assets"`) || b["location"] != "weur" {
		t.Fatalf("create bucket = %v", b)
	}
	h.Fail("create_r2_bucket", map[string]any{"name": "my-assets"}, "already_exists")
	h.Fail("create_r2_bucket", map[string]any{"name": "My_Assets"}, "invalid_argument")

	up := h.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "docs/readme.txt", "content": "hello, R2\n",
		"custom_metadata": map[string]string{"author": "me"}, "cache_control": "max-age=60"})
	if up["size"] != float64(10) || !strings.HasPrefix(up["content_type"].(string), "text/plain") || up["etag"] == "" {
		t.Fatalf("upload = %v", up)
	}
	logo := pngBytes(t)
	img := h.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "images/logo.png",
		"content_base64": base64.StdEncoding.EncodeToString(logo)})
	if img["content_type"] != "image/png" {
		t.Errorf("png content type = %v", img["content_type"])
	}

	text, textValue := h.Read("r2_download", map[string]any{"bucket": "my-assets", "key": "docs/readme.txt"})
	if textValue != "hello, R2\n" || text["encoding"] != "text" {
		t.Fatalf("text download = %v", text)
	}
	res := h.Call("r2_download", map[string]any{"bucket": "my-assets", "key": "images/logo.png"})
	var image *mcp.ImageContent
	for _, c := range res.Content {
		if ic, ok := c.(mcp.ImageContent); ok {
			image = &ic
		}
	}
	if image == nil || image.MIMEType != "image/png" {
		t.Fatalf("png download has no image block: %+v", res.Content)
	}
	if dec, _ := base64.StdEncoding.DecodeString(image.Data); !bytes.Equal(dec, logo) {
		t.Fatal("png bytes changed")
	}

	head := h.OK("r2_head", map[string]any{"bucket": "my-assets", "key": "docs/readme.txt"})
	if head["found"] != true || head["cache_control"] != "max-age=60" || head["custom_metadata"].(map[string]any)["author"] != "me" {
		t.Fatalf("head = %v", head)
	}
	if miss := h.OK("r2_head", map[string]any{"bucket": "my-assets", "key": "nope"}); miss["found"] != false {
		t.Errorf("head of missing object = %v", miss)
	}
	h.Fail("r2_head", map[string]any{"bucket": "no-such-bucket", "key": "x"}, "not_found")

	root := h.OK("r2_list", map[string]any{"bucket": "my-assets"})
	if p := root["prefixes"].([]any); len(p) != 2 || p[0] != "docs/" || p[1] != "images/" || len(root["objects"].([]any)) != 0 {
		t.Fatalf("folder listing = %v", root)
	}
	flat := h.OK("r2_list", map[string]any{"bucket": "my-assets", "delimiter": ""})
	if len(flat["objects"].([]any)) != 2 {
		t.Fatalf("flat listing = %v", flat)
	}

	cp := h.OK("r2_copy", map[string]any{"source_bucket": "my-assets", "source_key": "images/logo.png", "bucket": "my-assets", "key": "backup/logo.png"})
	if cp["size"] != float64(len(logo)) {
		t.Errorf("copy = %v", cp)
	}
	part, partValue := h.Read("r2_download", map[string]any{"bucket": "my-assets", "key": "backup/logo.png", "range_start": 1, "range_end": 3, "encoding": "base64"})
	if dec, _ := base64.StdEncoding.DecodeString(partValue); !bytes.Equal(dec, logo[1:4]) || part["length"] != float64(3) {
		t.Errorf("range download = %v", part)
	}

	h.Fail("delete_r2_bucket", map[string]any{"bucket": "my-assets", "confirm": "my-assets"}, "conflict")
	h.Fail("delete_r2_bucket", map[string]any{"bucket": "my-assets", "confirm": "other"}, "conflict") // refused before confirm is looked at
	del := h.OK("r2_delete", map[string]any{"bucket": "my-assets", "keys": []string{"docs/readme.txt", "images/logo.png", "backup/logo.png", "never-there"}})
	if len(del["deleted"].([]any)) != 4 || len(del["errors"].([]any)) != 0 {
		t.Fatalf("delete = %v", del)
	}
	h.Fail("delete_r2_bucket", map[string]any{"bucket": "my-assets", "confirm": "other"}, "invalid_argument")
	h.OK("delete_r2_bucket", map[string]any{"bucket": "my-assets", "confirm": "my-assets"})
	if l := h.OK("list_r2_buckets", nil); len(l["buckets"].([]any)) != 0 {
		t.Errorf("bucket still listed: %v", l)
	}
}

func TestR2FilesAndInlineCap(t *testing.T) {
	h := newHarness(t, setup{maxInline: 1024})
	h.OK("create_r2_bucket", map[string]any{"name": "files"})
	data := bytes.Repeat([]byte{0, 1, 2, 0xff}, 4096) // 16 KiB of binary
	src := filepath.Join(h.root, "blob.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	up := h.OK("r2_upload", map[string]any{"bucket": "files", "key": "blob.bin", "file_path": src})
	if up["size"] != float64(len(data)) {
		t.Fatalf("upload = %v", up)
	}
	msg := h.Fail("r2_download", map[string]any{"bucket": "files", "key": "blob.bin"}, "too_large")
	for _, want := range []string{"save_to", "1024", "r2_presign"} {
		if !strings.Contains(msg, want) {
			t.Errorf("too_large message lacks %q: %s", want, msg)
		}
	}
	h.OK("r2_download", map[string]any{"bucket": "files", "key": "blob.bin", "save_to": "copy.bin"})
	got, err := os.ReadFile(filepath.Join(h.root, "copy.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("saved copy differs: %v", err)
	}
	h.Fail("r2_presign", map[string]any{"bucket": "files", "key": "blob.bin"}, "unsupported")
}

func TestR2UploadReportsProgress(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_r2_bucket", map[string]any{"name": "files"})
	src := filepath.Join(h.root, "big.bin")
	if err := os.WriteFile(src, bytes.Repeat([]byte("x"), 3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var progress []float64
	h.Client.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/progress" {
			return
		}
		// In process, numbers arrive as Go values rather than decoded JSON.
		var p float64
		fmt.Sscan(fmt.Sprint(n.Params.AdditionalFields["progress"]), &p)
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	})
	req := mcp.CallToolRequest{}
	req.Params.Name = "r2_upload"
	req.Params.Arguments = map[string]any{"bucket": "files", "key": "big.bin", "file_path": src}
	req.Params.Meta = &mcp.Meta{ProgressToken: "up-1"}
	res, err := h.Client.CallTool(context.Background(), req)
	if err != nil || res.IsError {
		t.Fatalf("upload: %v %v", err, res)
	}
	// Notifications travel apart from the result: give the last one a
	// moment to arrive (this waits, it does not time anything).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		done := len(progress) > 0 && progress[len(progress)-1] == float64(3<<20)
		mu.Unlock()
		if done {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(progress) == 0 || progress[len(progress)-1] != float64(3<<20) {
		t.Fatalf("progress notifications = %v, want them to end at %d", progress, 3<<20)
	}
}
