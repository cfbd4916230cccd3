// Package local is the embedded backend: Workers KV and R2 with Cloudflare's
// semantics, kept under one data dir so that the server works with no
// account and every test can run offline.
//
// Layout of the data dir:
//
//	store.db             SQLite (WAL): namespaces, KV values, buckets, object rows,
//	                     the catalogue of D1 databases
//	d1/<uuid>.sqlite     one D1 database
//	blobs/<xx>/<id>      the bytes of one object version, or of one KV value
//	                     over 64 KiB (kvInlineMax), named by a random id
//	tmp/                 uploads in progress
//
// Object bytes never live in a file named after the key (keys may contain
// "../"), and a blob file is never modified once it is renamed into blobs/:
// an overwrite writes a new blob and swaps the row in one transaction, so a
// reader that has opened the old blob keeps reading a whole object.
//
// Several processes may share one data dir: SQLite's WAL and busy timeout
// order their writes, and every write transaction begins IMMEDIATE so that it
// never has to upgrade a read lock (which SQLite answers with SQLITE_BUSY at
// once, whatever the timeout).
package local

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Backend is the local backend. Its zero value is not usable; call New.
type Backend struct {
	dir string
	now func() time.Time
	log *slog.Logger

	kv *kvStore
	r2 *r2Store
	d1 *d1Store

	// d1Timeout bounds one D1 batch (storage.D1QueryTimeout).
	d1Timeout time.Duration
	// d1Opening, when set (by tests), runs between a D1 query's catalogue
	// lookup and its open of the database file.
	d1Opening func(path string)

	mu     sync.Mutex
	st     *store // nil until the first call that needs it
	closed bool
}

// Option configures a Backend.
type Option func(*Backend)

// WithLogger sets where the backend logs what it does on its own (opening
// the store, sweeping orphans). The default discards it.
func WithLogger(l *slog.Logger) Option {
	return func(b *Backend) {
		if l != nil {
			b.log = l
		}
	}
}

// WithClock sets the clock used for KV expirations, upload times and the age
// of orphaned files. Tests use it to expire keys without sleeping.
func WithClock(now func() time.Time) Option {
	return func(b *Backend) {
		if now != nil {
			b.now = now
		}
	}
}

// New returns a backend that keeps its data under dataDir. It touches no
// file: the directory and the database are created or opened by the first
// call that needs them, and an open that fails is tried again by the next
// call, so a server can start before its data dir is reachable.
func New(dataDir string, opts ...Option) *Backend {
	if abs, err := filepath.Abs(dataDir); err == nil && dataDir != "" {
		// Resolved now so that a later chdir cannot move the store.
		dataDir = abs
	}
	b := &Backend{
		dir: dataDir,
		now: time.Now,
		log: slog.New(slog.DiscardHandler),

		d1Timeout: storage.D1QueryTimeout,
	}
	for _, o := range opts {
		o(b)
	}
	b.kv, b.r2, b.d1 = &kvStore{b: b}, &r2Store{b: b}, &d1Store{b: b}
	return b
}

var _ storage.Backend = (*Backend)(nil)

// Name reports "local".
func (b *Backend) Name() string { return "local" }

// KV returns the Workers KV side of the backend.
func (b *Backend) KV() storage.KV { return b.kv }

// R2 returns the R2 side of the backend.
func (b *Backend) R2() storage.R2 { return b.r2 }

// D1 returns the D1 side of the backend.
func (b *Backend) D1() storage.D1 { return b.d1 }

// Describe reports the data dir. It does not open the store.
func (b *Backend) Describe(ctx context.Context) (storage.Description, error) {
	return storage.Description{Backend: "local", DataDir: b.dir}, nil
}

// Close stops the background sweep and closes the database, if they were
// started. Calls made after Close fail with code unavailable.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.st == nil {
		return nil
	}
	err := b.st.close()
	b.st = nil
	return err
}

// open opens the data dir on first use, and returns it. The mutex makes concurrent first
// calls wait for one open rather than race to create the schema (processes
// racing for it are ordered by SQLite instead).
func (b *Backend) open(ctx context.Context) (*store, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, storage.Errorf(storage.CodeUnavailable, "local backend: closed")
	case b.st != nil:
		return b.st, nil
	case b.dir == "":
		return nil, storage.Errorf(storage.CodeUnavailable, "local backend: no data dir is configured (--data-dir)")
	}
	st, err := openStore(ctx, b.dir, b.now, b.log)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("local backend: opening %s: %w", b.dir, ctx.Err())
		}
		return nil, storage.Errorf(storage.CodeUnavailable, "local backend: cannot open the data dir %s: %w", b.dir, err)
	}
	b.st = st
	return st, nil
}

// store is an opened data dir.
type store struct {
	dir   string
	blobs string // dir/blobs
	tmp   string // dir/tmp
	db    *sql.DB
	now   func() time.Time
	log   *slog.Logger

	// write is the token of this process's writing: its holder leads the
	// one write transaction of the process (see update). Writers wait
	// here, cancellably, instead of polling in SQLite's busy handler,
	// which sleeps in steps of up to 100 ms. Other processes are still
	// ordered by the busy timeout.
	write chan struct{}
	// queue holds the writes waiting for a transaction.
	queueMu sync.Mutex
	queue   []*pendingWrite

	stmtsMu    sync.Mutex
	stmts      map[string]*sql.Stmt // by query; see prepared
	unprepared map[string]bool      // queries a transaction prepared for itself

	// committed, when set (by tests), is told how many writes each
	// transaction of update committed.
	committed func(writes int)

	// syncDir is durable.SyncDir; a test may make it fail to check what
	// a write has done before it.
	syncDir func(dir string) error

	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

func (s *store) close() error {
	s.stopSweep()
	<-s.sweepDone
	s.stmtsMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmtsMu.Unlock()
	return s.db.Close()
}

// randomID returns 32 lowercase hex digits of randomness: the form of a
// Cloudflare KV namespace id, and the name of a blob.
func randomID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics the program instead)
	return hex.EncodeToString(b[:])
}

// errCommit marks a failed COMMIT: whether the transaction reached the disk
// is not known for certain, so files it refers to must be left for the
// orphan sweep (which checks the database) rather than removed.
var errCommit = errors.New("commit outcome unknown")

// maxGroup bounds how many writes one transaction commits together, so
// that a long queue is served in turns rather than held in one transaction.
const maxGroup = 128

// pendingWrite is one call of update, queued for a transaction.
type pendingWrite struct {
	ctx  context.Context
	op   string
	fn   func(ctx context.Context, tx queries) error
	err  error         // fn's, or the commit's; set before done is closed
	done chan struct{} // closed once the write has committed or failed
}

// update runs fn in an IMMEDIATE write transaction, which it may share
// with other writes of this process that arrive at the same time (group
// commit): the transaction commits once, and one commit is one fsync of
// the WAL, the cost that bounds a small write. It returns once that
// commit is durable, or fn's error if fn failed.
//
// There is no committer goroutine. A writer queues its write, then waits
// for either the result or s.write, the token of this process's writing:
// the writer that gets the token leads. It begins the transaction, and
// only then takes the writes queued (its own among them, or it leads
// again), so the writes that queued while the lock was awaited, or while
// the last transaction committed, join it: the more writers wait, the more
// each commit carries. It runs each write's fn, commits once, hands every
// writer its own result, and passes the token on.
//
// In a group each fn runs inside a SAVEPOINT, so that a write that fails
// (a missing namespace, a name taken) is rolled back alone and the others
// commit. Alone, it needs none: the transaction is rolled back. A failed
// commit fails every write that was in it, with errCommit.
//
// fn gets a context that is never cancelled. Cancelling a statement is
// sqlite3_interrupt, which rolls back the whole transaction when it stops
// a write, and with it the writes of the others. A writer whose context
// ends while its write is queued leaves the queue with the context's
// error; once taken into a transaction, the write runs to its end.
//
// Other processes are ordered as before: the leader's BEGIN IMMEDIATE
// waits for their transactions, up to busyTimeout.
func (s *store) update(ctx context.Context, op string, fn func(ctx context.Context, tx queries) error) error {
	w := &pendingWrite{ctx: ctx, op: op, fn: fn, done: make(chan struct{})}
	s.queueMu.Lock()
	s.queue = append(s.queue, w)
	s.queueMu.Unlock()
	for {
		select {
		case <-w.done:
			return w.err
		case s.write <- struct{}{}:
			func() {
				defer func() { <-s.write }() // even if a write panics
				s.lead(w)
			}()
		case <-ctx.Done():
			if s.dequeue(w) {
				return fmt.Errorf("local: %s: %w", op, ctx.Err())
			}
			<-w.done // taken into a transaction: it commits in milliseconds
			return w.err
		}
	}
}

// lead runs transactions, holding s.write, until w is done: its own write
// may not be among the first maxGroup queued. If a transaction cannot
// begin, w fails with that error, and the writes still queued wait for the
// token in turn, each to try for itself.
func (s *store) lead(w *pendingWrite) {
	for {
		select {
		case <-w.done:
			return
		default:
		}
		if err := s.commitGroup(w.ctx, w.op); err != nil {
			if s.dequeue(w) {
				w.err = err
				close(w.done)
			}
			return
		}
	}
}

// dequeue removes w from the queue, and reports whether it was there
// (rather than taken into a transaction).
func (s *store) dequeue(w *pendingWrite) bool {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	for i, q := range s.queue {
		if q == w {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return true
		}
	}
	return false
}

// commitGroup begins a transaction, takes up to maxGroup queued writes into
// it, commits them and hands each its result. It fails only if the
// transaction cannot begin; ctx, the leader's, bounds that wait.
func (s *store) commitGroup(ctx context.Context, op string) error {
	// The leader's context may abandon the wait for the lock, but must not
	// end the transaction, which database/sql rolls back when the context
	// of BeginTx ends: it carries the writes of others.
	txCtx, cancelTx := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTx()
	stop := context.AfterFunc(ctx, cancelTx)
	tx, err := s.db.BeginTx(txCtx, nil)
	if !stop() { // ctx ended: the transaction, if it began, is rolled back
		if err == nil {
			_ = tx.Rollback()
		}
		return fmt.Errorf("local: %s: %w", op, ctx.Err())
	}
	if err != nil {
		return dbErr(ctx, op, err)
	}

	s.queueMu.Lock()
	group := s.queue[:min(len(s.queue), maxGroup)]
	s.queue = append([]*pendingWrite(nil), s.queue[len(group):]...)
	s.queueMu.Unlock()

	ok := s.runGroup(tx, group) // the writes whose fn succeeded
	switch {
	case len(ok) == 0:
		_ = tx.Rollback()
	default:
		if err := tx.Commit(); err != nil {
			for _, w := range ok {
				w.err = fmt.Errorf("%w: %w", errCommit, dbErr(w.ctx, w.op, err))
			}
		} else if s.committed != nil {
			s.committed(len(ok))
		}
	}
	for _, w := range group {
		close(w.done)
	}
	s.prepareUnprepared(ctx)
	return nil
}

// runGroup runs the fn of each write of group in tx, and returns the writes
// that succeeded; each other write has its error set. If a write fails in
// a way that ends the transaction (SQLite rolls it all back on a full disk
// or an I/O error), every write fails with that error.
func (s *store) runGroup(tx *sql.Tx, group []*pendingWrite) []*pendingWrite {
	if len(group) == 1 {
		w := group[0]
		if w.err = w.ctx.Err(); w.err != nil {
			w.err = fmt.Errorf("local: %s: %w", w.op, w.err)
			return nil
		}
		if w.err = w.run(queries{s, tx}); w.err != nil {
			return nil
		}
		return group
	}
	ok := make([]*pendingWrite, 0, len(group))
	q := queries{s, tx} // prepared: three statements a write
	for _, w := range group {
		if err := w.ctx.Err(); err != nil { // cancelled while queued
			w.err = fmt.Errorf("local: %s: %w", w.op, err)
			continue
		}
		ctx := context.WithoutCancel(w.ctx)
		if _, err := q.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			return failGroup(group, dbErr(ctx, w.op, err))
		}
		if w.err = w.run(q); w.err != nil {
			if _, err := q.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				// SQLite has rolled the whole transaction back.
				own := w.err
				failGroup(group, dbErr(ctx, w.op, err))
				w.err = own
				return nil
			}
		} else {
			ok = append(ok, w)
		}
		if _, err := q.ExecContext(ctx, "RELEASE w"); err != nil {
			return failGroup(group, dbErr(ctx, w.op, err))
		}
	}
	return ok
}

// run runs w's fn with a context that is never cancelled (see update). A
// panic in fn fails w alone, as an internal error: fn runs on the leader's
// goroutine, in a transaction that carries the writes of others, which
// must neither be lost nor wait forever for a leader that is gone.
func (w *pendingWrite) run(q queries) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = storage.Errorf(storage.CodeInternal, "local: %s: panic: %v", w.op, r)
		}
	}()
	return w.fn(context.WithoutCancel(w.ctx), q)
}

// failGroup fails every write of group with err, for a transaction that
// cannot go on; none of them commits.
func failGroup(group []*pendingWrite, err error) []*pendingWrite {
	for _, w := range group {
		w.err = err
	}
	return nil
}

// view runs fn in one read transaction, so that what it reads is one
// snapshot (a namespace check and its listing agree, for instance).
func (s *store) view(ctx context.Context, op string, fn func(tx queries) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dbErr(ctx, op, err)
	}
	defer s.prepareUnprepared(ctx) // once the connection is back in the pool
	defer tx.Rollback()            //nolint:errcheck // read-only: nothing to lose
	return fn(queries{s, tx})
}

// q runs statements outside any transaction.
func (s *store) q() queries { return queries{s: s} }

// prepared returns the store's prepared statement for query, preparing it
// on first use. Without it, database/sql prepares every query anew, and
// SQLite's parsing and planning would be most of the cost of a point read.
// The set of queries is fixed (listings vary only in which bounds they
// use), so the cache stays small.
//
// Preparing takes a connection from the pool: never call it while holding
// one (inside a transaction), or with every connection so held, all would
// wait for one another.
func (s *store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := s.cached(query); st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmtsMu.Lock()
	defer s.stmtsMu.Unlock()
	if other, ok := s.stmts[query]; ok { // prepared meanwhile by another call
		st.Close()
		return other, nil
	}
	s.stmts[query] = st
	return st, nil
}

func (s *store) cached(query string) *sql.Stmt {
	s.stmtsMu.Lock()
	defer s.stmtsMu.Unlock()
	return s.stmts[query]
}

// queries runs SQL on the store's prepared statements, inside tx when it is
// set. It has the methods of *sql.DB and *sql.Tx that the package uses.
type queries struct {
	s  *store
	tx *sql.Tx
}

// querier is what queries, *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// stmt returns a prepared statement for query. In a transaction it is
// bound to the transaction's connection and closed with it; the caller does
// not close it.
func (q queries) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if q.tx == nil {
		return q.s.prepared(ctx, query)
	}
	// The transaction holds a connection, so it must not prepare on the
	// pool: it reuses a statement prepared outside, or prepares its own.
	if st := q.s.cached(query); st != nil {
		return q.tx.StmtContext(ctx, st), nil
	}
	q.s.stmtsMu.Lock()
	q.s.unprepared[query] = true
	q.s.stmtsMu.Unlock()
	return q.tx.PrepareContext(ctx, query)
}

// prepareUnprepared prepares on the pool the queries that transactions had
// to prepare for themselves, so that the next transactions reuse them. A
// query run only in transactions (most writes are) would otherwise be
// parsed and planned anew in each: in a group commit, that parsing was
// most of the cost of a write. Called after a transaction, holding no
// connection (see prepared); a query that fails to prepare is left to the
// next transaction to report.
func (s *store) prepareUnprepared(ctx context.Context) {
	s.stmtsMu.Lock()
	if len(s.unprepared) == 0 {
		s.stmtsMu.Unlock()
		return
	}
	queries := make([]string, 0, len(s.unprepared))
	for q := range s.unprepared {
		queries = append(queries, q)
	}
	clear(s.unprepared)
	s.stmtsMu.Unlock()
	for _, q := range queries {
		_, _ = s.prepared(context.WithoutCancel(ctx), q)
	}
}

func (q queries) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (q queries) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := q.stmt(ctx, query)
	if err != nil {
		// A *sql.Row cannot be made with an error; running the query
		// unprepared makes one that reports the same failure on Scan.
		if q.tx != nil {
			return q.tx.QueryRowContext(ctx, query, args...)
		}
		return q.s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (q queries) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := q.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}
