package tools

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Encodings of values returned inline.
const (
	encAuto   = "auto"
	encText   = "text"
	encBase64 = "base64"
	encJSON   = "json"
)

// Where a value read inline (kv_get, r2_download) is: in a content block of
// its own after the JSON that describes it. Each byte goes to the client
// once: structuredContent is the description, not the bytes.
const (
	inTextBlock     = "in the text block"
	inImageBlock    = "in the image block"
	inResourceBlock = "in the resource block"
)

// valueBlocks is the content of a result that carries a value: the JSON of
// its description (summary, the structuredContent; the spec asks for it in a
// text block for clients without structured content), then, when sent, the
// value's own block.
func valueBlocks(summary []byte, sent bool, value mcp.Content) []mcp.Content {
	blocks := []mcp.Content{mcp.NewTextContent(string(summary))}
	if sent {
		blocks = append(blocks, value)
	}
	return blocks
}

// readInline reads a body of the given size if it fits the inline cap.
// Larger bodies are refused before reading anything: the assistant is told to
// stream them to a file instead.
func readInline(field string, body io.Reader, size, limit int64, alternative string) ([]byte, error) {
	if size > limit {
		return nil, storage.Errorf(storage.CodeTooLarge,
			"%s: %d bytes is over the inline limit of %d bytes (--max-inline-bytes); %s", field, size, limit, alternative)
	}
	// Room for the whole body (when its size is known), and for the read
	// that finds its end: read once, not into a buffer grown by doubling.
	buf := bytes.NewBuffer(make([]byte, 0, int(max(size, 0))+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(body, limit+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, storage.Errorf(storage.CodeTooLarge, "%s: over the inline limit of %d bytes (--max-inline-bytes); %s", field, limit, alternative)
	}
	return data, nil
}

// encode renders data as JSON for a result: a string for text and base64,
// the parsed value for json. auto picks text for UTF-8 and base64 otherwise.
func encode(data []byte, want string) (enc string, value json.RawMessage, err error) {
	switch want {
	case "", encAuto:
		if utf8.Valid(data) {
			return encode(data, encText)
		}
		return encode(data, encBase64)
	case encText:
		if !utf8.Valid(data) {
			return "", nil, storage.Errorf(storage.CodeInvalidArgument, "encoding: the value is not valid UTF-8 text; ask for encoding \"base64\"")
		}
		value, err = json.Marshal(string(data))
		return encText, value, err
	case encBase64:
		value, err = json.Marshal(base64.StdEncoding.EncodeToString(data))
		return encBase64, value, err
	case encJSON:
		if !json.Valid(data) {
			return "", nil, storage.Errorf(storage.CodeInvalidArgument, "encoding: the value is not valid JSON; ask for encoding \"text\" or \"base64\"")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return "", nil, err
		}
		return encJSON, buf.Bytes(), nil
	default:
		return "", nil, storage.Errorf(storage.CodeInvalidArgument, "encoding: %q is not one of auto, text, base64, json", want)
	}
}

// encodeString is encode for a value sent in a block of its own, as a
// string: the text itself, its base64, or (json) its compact JSON. Text
// is not made a JSON string first, only to be decoded again.
func encodeString(data []byte, want string) (string, string, error) {
	switch want {
	case encBase64:
		return encBase64, base64.StdEncoding.EncodeToString(data), nil
	case "", encAuto, encText:
		if utf8.Valid(data) {
			return encText, string(data), nil
		}
		if want != encText {
			return encBase64, base64.StdEncoding.EncodeToString(data), nil
		}
	}
	enc, value, err := encode(data, want) // json, and the refusals
	return enc, string(value), err
}

// contentType guesses a MIME type from a key's extension, then from the
// first bytes when given.
func contentType(key string, head []byte) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(key))); t != "" {
		return t
	}
	if head != nil {
		return http.DetectContentType(head)
	}
	return "application/octet-stream"
}

// isImage reports whether MCP clients can show a type as an image block.
func isImage(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// isText reports whether a MIME type is text a model can read inline.
func isText(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || mt == "application/xml" ||
		mt == "application/javascript" || mt == "image/svg+xml" || strings.HasSuffix(mt, "+json") ||
		strings.HasSuffix(mt, "+xml") || mt == "application/toml" || mt == "application/yaml"
}
