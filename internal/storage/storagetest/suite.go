// Package storagetest is the behaviour suite that every storage.Backend must
// pass: the embedded local backend, the Cloudflare backend wired to fakes of
// the Cloudflare REST API and of S3, and any backend added later.
//
// The suite drives a backend only through the storage API, and always through
// storage.Guard, so Cloudflare's limits and the policy checks are part of the
// contract a backend is tested against: a backend passes when the guarded
// store behaves as Cloudflare does.
//
// A backend package calls it from one test:
//
//	func TestBehaviour(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Backend {
//			return local.New(t.TempDir())
//		})
//	}
//
// newBackend is called once per subtest and must return a new, empty backend
// that nothing else uses. Run closes it when the subtest ends (do not close it
// from newBackend; cleanups registered by newBackend, such as t.TempDir, run
// after the close). Subtests run in parallel.
//
// What the suite cannot observe through the API in a reasonable time is left
// to backend-specific tests: that an expired KV key is gone (Cloudflare's
// minimum TTL is 60 seconds; a backend test with a fake clock covers it),
// concurrency between processes, and crash safety.
package storagetest

import (
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Run runs the whole suite against the backends that newBackend makes.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	t.Helper()
	RunWith(t, Options{}, newBackend)
}

// Options adapt the suite to a backend.
type Options struct {
	// Differences names the cases a backend cannot pass because what it
	// stands on differs from Cloudflare: the case's path under the suite
	// (such as "R2/Objects/Metadata") -> the difference and its evidence.
	// Those cases are skipped saying so; every other case must pass.
	Differences map[string]string
}

// RunWith runs the whole suite with opts.
func RunWith(t *testing.T, opts Options, newBackend func(t *testing.T) storage.Backend) {
	t.Helper()
	s := &suite{newBackend: newBackend, differences: opts.Differences}
	s.group(t, "KV", func(t *testing.T) {
		s.group(t, "Namespaces", s.kvNamespaces)
		s.group(t, "Values", s.kvValues)
		s.group(t, "List", s.kvList)
		s.group(t, "Bulk", s.kvBulk)
		s.group(t, "Expiration", s.kvExpiration)
	})
	s.group(t, "R2", func(t *testing.T) {
		s.group(t, "Buckets", s.r2Buckets)
		s.group(t, "Objects", s.r2Objects)
		s.group(t, "List", s.r2List)
		s.group(t, "Copy", s.r2Copy)
		s.group(t, "Delete", s.r2Delete)
	})
	s.group(t, "D1", s.d1)
	s.group(t, "Limits", s.limits)
	s.group(t, "Cancellation", s.cancellation)
	s.group(t, "ReadOnly", s.readOnly)
	s.group(t, "AllowLists", s.allowLists)
}

type suite struct {
	newBackend  func(t *testing.T) storage.Backend
	differences map[string]string
}

// differs skips a case that Options.Differences names.
func (s *suite) differs(t *testing.T) {
	t.Helper()
	_, path, _ := strings.Cut(t.Name(), "/") // without the top-level test's name
	if why, ok := s.differences[path]; ok {
		t.Skip("differs from Cloudflare on this backend: " + why)
	}
}

// group runs a group of subtests in parallel with the other groups.
func (s *suite) group(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t)
	})
}

// backend makes a fresh backend for one subtest and closes it at its end.
func (s *suite) backend(t *testing.T) storage.Backend {
	t.Helper()
	b := s.newBackend(t)
	if b == nil {
		t.Fatal("newBackend returned nil")
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// test runs f as a parallel subtest with a fresh backend guarded by the
// default policy, the configuration the MCP layers normally see.
func (s *suite) test(t *testing.T, name string, f func(t *testing.T, st *storage.Store)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		s.differs(t)
		f(t, storage.Guard(s.backend(t), storage.Policy{}))
	})
}

// testBackend runs f as a parallel subtest with a fresh unguarded backend,
// for tests that guard it with more than one policy.
func (s *suite) testBackend(t *testing.T, name string, f func(t *testing.T, b storage.Backend)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		s.differs(t)
		f(t, s.backend(t))
	})
}
