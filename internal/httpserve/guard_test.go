package httpserve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// A body of declared length is passed on as it comes, not first read into
// memory: the guard holds none of it.
func TestGuardStreamsDeclaredBody(t *testing.T) {
	const size = 8 << 20
	var got int64
	h := guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if got, err = io.Copy(io.Discard, r.Body); err != nil {
			t.Error(err)
		}
	}), Options{MaxBodyBytes: 2 * size})
	r := httptest.NewRequest(http.MethodPost, "/mcp", io.LimitReader(strings.NewReader(strings.Repeat("x", size)), size))
	r.ContentLength = size
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h.ServeHTTP(httptest.NewRecorder(), r)
	runtime.ReadMemStats(&after)
	if got != size {
		t.Fatalf("the handler read %d bytes of %d", got, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
		t.Errorf("passing on a body of %d bytes allocated %d bytes", size, alloc)
	}
}
