package main

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// Values given as base64 are decoded as the backend reads them (section by
// section, rewound for a signature or a retry): over the cloudflare
// backend, a KV value with metadata (a multipart body) and an R2 object
// arrive byte for byte, in every form of base64 a model may send.
func TestBase64ValuesOverCloudflare(t *testing.T) {
	env, _ := fakeAccount(t)
	s := startServerEnv(t, t.TempDir(), env)
	s.OK("create_kv_namespace", map[string]any{"title": "bin"})
	s.OK("create_r2_bucket", map[string]any{"name": "bin"})
	data := make([]byte, 300<<10+2) // not a multiple of 3: padding
	for i := range data {
		data[i] = byte(i*31 + i>>8)
	}
	for form, enc := range map[string]*base64.Encoding{"standard": base64.StdEncoding, "unpadded": base64.RawStdEncoding,
		"URL-safe": base64.URLEncoding, "unpadded URL-safe": base64.RawURLEncoding} {
		text := enc.EncodeToString(data)
		s.OK("kv_put", map[string]any{"namespace": "bin", "key": "v", "value_base64": text, "metadata": map[string]any{"n": 1}})
		_, gotValue := s.Read("kv_get", map[string]any{"namespace": "bin", "key": "v", "encoding": "base64"})
		if b, _ := base64.StdEncoding.DecodeString(gotValue); !bytes.Equal(b, data) {
			t.Errorf("kv_put of %d bytes as %s base64: kv_get gives %d bytes that differ", len(data), form, len(b))
		}
		s.OK("r2_upload", map[string]any{"bucket": "bin", "key": "o.bin", "content_base64": text})
		_, objValue := s.Read("r2_download", map[string]any{"bucket": "bin", "key": "o.bin", "encoding": "base64"})
		if b, _ := base64.StdEncoding.DecodeString(objValue); !bytes.Equal(b, data) {
			t.Errorf("r2_upload of %d bytes as %s base64: r2_download gives %d bytes that differ", len(data), form, len(b))
		}
	}
}
