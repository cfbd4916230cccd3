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
// its description (out, as structuredContent; the spec asks for it in a text
// block for clients without structured content), then, when sent, the value's
// own block.
func valueBlocks(out any, sent bool, value mcp.Content) []mcp.Content {
	summary, _ := json.Marshal(out)
	blocks := []mcp.Content{mcp.NewTextContent(string(summary))}
	if sent {
		blocks = append(blocks, value)
	}
	return blocks
}

// readInline reads a body of the given size if it fits the inline cap.
// Larger bodies are refused before reading anything: the assistant is told to
// stream them to a file instead.
func readInline(field string, body io.Reader, size, max int64, alternative string) ([]byte, error) {
	if size > max {
		return nil, storage.Errorf(storage.CodeTooLarge,
			"%s: %d bytes is over the inline limit of %d bytes (--max-inline-bytes); %s", field, size, max, alternative)
	}
	data, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, storage.Errorf(storage.CodeTooLarge, "%s: over the inline limit of %d bytes (--max-inline-bytes); %s", field, max, alternative)
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
