package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// Each byte of a value goes to the client once: r2_download of a 600 KB PNG
// and kv_get of a 600 KB text answer with about the size of the value as
// sent (base64 for the image), not twice it, on the wire of the real binary
// over stdio. structuredContent describes the value and says where it is.
func TestBytesOnceOnTheWire(t *testing.T) {
	cmd := exec.Command(binary, "--backend", "local", "--data-dir", t.TempDir())
	cmd.Env = childEnv(t.TempDir())
	stdin, stdout := startPiped(t, cmd)
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	lines := bufio.NewReaderSize(stdout, 1<<20)
	id := 0
	// call sends one request and returns the raw line of its response.
	call := func(method string, params any) []byte {
		t.Helper()
		id++
		req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		if _, err := stdin.Write(append(req, '\n')); err != nil {
			t.Fatal(err)
		}
		for {
			line, err := lines.ReadBytes('\n')
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			var msg struct {
				ID *int `json:"id"`
			}
			if json.Unmarshal(line, &msg) == nil && msg.ID != nil && *msg.ID == id {
				return line
			}
		}
	}
	tool := func(name string, args map[string]any) (raw []byte, res struct {
		IsError           bool              `json:"isError"`
		Content           []json.RawMessage `json:"content"`
		StructuredContent map[string]any    `json:"structuredContent"`
	}) {
		t.Helper()
		raw = call("tools/call", map[string]any{"name": name, "arguments": args})
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(env.Result, &res); err != nil || res.IsError {
			t.Fatalf("%s: %s", name, abbreviate(raw))
		}
		return raw, res
	}
	call("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "bytes-once", "version": "1"}})
	if _, err := stdin.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")); err != nil {
		t.Fatal(err)
	}

	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 600_000)...)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 8; i < len(png); i++ {
		png[i] = byte(rng.UintN(256)) // incompressible, as a real PNG is
	}
	b64 := base64.StdEncoding.EncodeToString(png)
	tool("create_r2_bucket", map[string]any{"name": "pics"})
	tool("r2_upload", map[string]any{"bucket": "pics", "key": "photo.png", "content_base64": b64})
	raw, res := tool("r2_download", map[string]any{"bucket": "pics", "key": "photo.png"})
	if got := float64(len(raw)) / float64(len(b64)); got > 1.01 || strings.Count(string(raw), b64[:64]) != 1 {
		t.Errorf("r2_download of a %d-byte PNG: %d bytes on the wire, %.2fx its base64 (%d); want about 1x, the image once",
			len(png), len(raw), got, len(b64))
	}
	t.Logf("r2_download of a %d-byte PNG: %d bytes on the wire for %d bytes of base64 (%.3fx)", len(png), len(raw), len(b64), float64(len(raw))/float64(len(b64)))
	sc := res.StructuredContent
	if sc["content"] != "in the image block" || sc["encoding"] != "base64" || sc["size"] != float64(len(png)) || sc["content_type"] != "image/png" {
		t.Errorf("structuredContent = %v, want the image described: where, how encoded, its size and type", sc)
	}
	if len(res.Content) != 2 || !bytes.Contains(res.Content[1], []byte(`"type":"image"`)) {
		t.Errorf("content = %d blocks, want the description then the image", len(res.Content))
	}

	text := strings.Repeat("All work and no play. ", 600_000/22)
	tool("create_kv_namespace", map[string]any{"title": "docs"})
	tool("kv_put", map[string]any{"namespace": "docs", "key": "long", "value": text})
	raw, res = tool("kv_get", map[string]any{"namespace": "docs", "key": "long"})
	if got := float64(len(raw)) / float64(len(text)); got > 1.01 {
		t.Errorf("kv_get of %d bytes of text: %d bytes on the wire (%.2fx); want about 1x", len(text), len(raw), got)
	}
	t.Logf("kv_get of %d bytes of text: %d bytes on the wire (%.3fx)", len(text), len(raw), float64(len(raw))/float64(len(text)))
	if sc := res.StructuredContent; sc["content"] != "in the text block" || sc["encoding"] != "text" || sc["size"] != float64(len(text)) || sc["value"] != nil {
		t.Errorf("kv_get structuredContent = %v", sc)
	}
	var block struct{ Text string }
	if len(res.Content) != 2 || json.Unmarshal(res.Content[1], &block) != nil || block.Text != text {
		t.Errorf("kv_get: the value is not the text block after the description")
	}
}

func abbreviate(b []byte) string {
	if len(b) > 500 {
		return fmt.Sprintf("%s…(%d bytes)", b[:500], len(b))
	}
	return string(b)
}
