package cffake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// envelope is the body of every JSON response of the v4 API: the spec's
// *_api-response-common (success) and *_api-response-common-failure schemas.
// errors and messages are always arrays, never null; result is null on
// failure and on the endpoints whose success has no result.
type envelope struct {
	Success    bool         `json:"success"`
	Errors     []apiMessage `json:"errors"`
	Messages   []any        `json:"messages"`
	Result     any          `json:"result"`
	ResultInfo any          `json:"result_info,omitempty"`
}

// apiMessage is one entry of errors (or messages): code and message, as the
// spec's *_messages schemas require. Cloudflare's API gateway adds an
// error_chain to some header errors (see errBadAuthHeader).
type apiMessage struct {
	Code       int          `json:"code"`
	Message    string       `json:"message"`
	ErrorChain []apiMessage `json:"error_chain,omitempty"`
}

// reply is what a handler returns; ServeHTTP writes it once the request body
// has been drained.
type reply interface {
	write(w http.ResponseWriter)
}

// okReply is a successful JSON envelope.
type okReply struct {
	result   any
	info     any
	messages []any
}

func ok(result any) okReply { return okReply{result: result} }

func okPage(result, info any) okReply { return okReply{result: result, info: info} }

func (o okReply) write(w http.ResponseWriter) {
	msgs := o.messages
	if msgs == nil {
		msgs = []any{}
	}
	writeJSON(w, http.StatusOK, envelope{
		Success:    true,
		Errors:     []apiMessage{},
		Messages:   msgs,
		Result:     o.result,
		ResultInfo: o.info,
	})
}

// rawReply is a non-JSON success: a KV value.
type rawReply struct {
	header http.Header
	body   []byte
}

func (r rawReply) write(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(r.body)
}

// apiError is a failure: an HTTP status and the errors of the envelope.
type apiError struct {
	status int
	errors []apiMessage
	header http.Header // extra response headers, e.g. Allow on a 405
}

func (e *apiError) Error() string {
	if len(e.errors) == 0 {
		return strconv.Itoa(e.status)
	}
	return fmt.Sprintf("%d: %s (%d)", e.status, e.errors[0].Message, e.errors[0].Code)
}

func (e *apiError) write(w http.ResponseWriter) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	writeJSON(w, e.status, envelope{
		Success:  false,
		Errors:   e.errors,
		Messages: []any{},
		Result:   nil,
	})
}

// fail builds a failure with a single error.
func fail(status, code int, format string, args ...any) *apiError {
	return &apiError{status: status, errors: []apiMessage{{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only the fake's own types are marshalled; this is a bug in the fake.
		http.Error(w, "cffake: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
