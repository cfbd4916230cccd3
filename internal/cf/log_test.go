package cf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// recordingHandler keeps every log record, its attributes flattened to
// key=value strings.
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]loggedRecord
	attrs   []slog.Attr
}

type loggedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newRecordingLogger() (*slog.Logger, func() []loggedRecord) {
	h := &recordingHandler{mu: &sync.Mutex{}, records: &[]loggedRecord{}}
	return slog.New(h), func() []loggedRecord {
		h.mu.Lock()
		defer h.mu.Unlock()
		return slices.Clone(*h.records)
	}
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	rec := loggedRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	add := func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Resolve().String()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordingHandler{mu: h.mu, records: h.records, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

// failures are the records of failed calls whose status is status.
func failures(records []loggedRecord, status int) []loggedRecord {
	var out []loggedRecord
	for _, r := range records {
		if r.msg == "cloudflare: call failed" && r.attrs["status"] == fmt.Sprint(status) {
			out = append(out, r)
		}
	}
	return out
}

// noSecretLogged fails if any record holds secret.
func noSecretLogged(t *testing.T, records []loggedRecord, secret string) {
	t.Helper()
	for _, r := range records {
		for k, v := range r.attrs {
			if strings.Contains(v, secret) || strings.Contains(r.msg, secret) {
				t.Errorf("record %q: %s holds the secret", r.msg, k)
			}
		}
	}
}

// TestFailedRESTCallsAreLoggedWithTheirRay checks that every failed REST
// call leaves a record of Cloudflare's status and cf-ray, whatever code it
// maps to, warning for the failures that are Cloudflare's (403, 429, 5xx),
// and never the token (issue 10, item 14).
func TestFailedRESTCallsAreLoggedWithTheirRay(t *testing.T) {
	f := newFakeCloudflare(t)
	log, records := newRecordingLogger()
	b := f.backend(t, func(c *Config) { c.AccountID, c.Logger = cffake.DefaultAccountID, log })
	recordWaits(b)
	for _, c := range []struct {
		status int
		level  slog.Level
		code   storage.Code
	}{
		{http.StatusForbidden, slog.LevelWarn, storage.CodePermissionDenied},
		{http.StatusTooManyRequests, slog.LevelWarn, storage.CodeRateLimited},
		{http.StatusServiceUnavailable, slog.LevelWarn, storage.CodeUnavailable},
		{http.StatusNotFound, slog.LevelDebug, storage.CodeNotFound},
	} {
		ray := fmt.Sprintf("8f%014x-LHR", c.status)
		f.api.Inject(10, cffake.Fault{Status: c.status, Header: http.Header{"Cf-Ray": {ray}}})
		_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
		f.api.ClearFaults()
		wantCode(t, err, c.code)
		got := failures(records(), c.status)
		if len(got) != 1 {
			t.Errorf("HTTP %d: %d records of a failed call, want 1: %+v", c.status, len(got), records())
			continue
		}
		r := got[0]
		if r.attrs["cf_ray"] != ray || r.level != c.level || r.attrs["method"] != "GET" || !strings.Contains(r.attrs["path"], "/storage/kv/namespaces") {
			t.Errorf("HTTP %d: record %+v, want level %s, the ray %s, the method and the path", c.status, r, c.level, ray)
		}
	}
	noSecretLogged(t, records(), cffake.DefaultToken)
}

// TestFailedS3CallsAreLoggedWithTheirRequestID is the same for R2's S3 API:
// status, cf-ray and x-amz-request-id, never the secret (issue 10, item 14).
func TestFailedS3CallsAreLoggedWithTheirRequestID(t *testing.T) {
	f := newFakeS3(t, false)
	f.createBucket(t, "logged")
	log, records := newRecordingLogger()
	s, _ := newTestStore(t, f, func(c *objectConfig) { c.Log = log })
	withRetryBackoff(s, 0)
	for _, c := range []struct {
		status int
		code   string
		want   storage.Code
	}{
		{http.StatusForbidden, "AccessDenied", storage.CodePermissionDenied},
		{http.StatusServiceUnavailable, "ServiceUnavailable", storage.CodeUnavailable},
	} {
		ray, reqID := fmt.Sprintf("9a%014x-AMS", c.status), fmt.Sprintf("req-%d", c.status)
		f.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Cf-Ray", ray)
			w.Header().Set("X-Amz-Request-Id", reqID)
			s3Fault(w, c.status, c.code, "refused")
			return true
		})
		_, err := s.GetObject(t.Context(), "logged", "k", nil)
		wantCode(t, err, c.want)
		got := failures(records(), c.status)
		if len(got) != 1 {
			t.Errorf("HTTP %d: %d records of a failed call, want 1 (after the retries): %+v", c.status, len(got), records())
			continue
		}
		r := got[0]
		if r.attrs["cf_ray"] != ray || r.attrs["request_id"] != reqID || r.level != slog.LevelWarn ||
			r.attrs["method"] != "GET" || r.attrs["path"] != "/logged/k" {
			t.Errorf("HTTP %d: record %+v, want a warning with ray %s, request id %s, GET /logged/k", c.status, r, ray, reqID)
		}
	}
	noSecretLogged(t, records(), testSecret)
}
