// Package sqlite is the embedded store.Store: one SQLite file in WAL mode, written by one dedicated
// connection and read through a pool of read-only connections, so that queries run while a replay
// appends. The schema is created and upgraded at Open from the migrations embedded in the binary.
//
// One process at a time opens a database: Open takes an advisory lock on a file beside it
// (brokerguard.db.lock, naming the holder's pid and command) and refuses with an *InUseError while
// another Store holds it. Within the Store, only the writer connection ever takes SQLite's write lock
// (appends, and the checkpoints that empty the WAL), so a writer never waits on a lock it could time
// out on.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/brokerguard/brokerguard/internal/store"
)

var _ store.Store = (*Store)(nil)

// Synchronous is how hard a commit waits for the disk.
type Synchronous string

const (
	// SyncNormal: a committed Append survives a crash of the process; the last commits before a power
	// loss or an OS crash may be lost (but the file stays consistent). The default.
	SyncNormal Synchronous = "normal"
	// SyncFull: every commit is on the disk before Append returns, at the cost of one fsync per Append.
	SyncFull Synchronous = "full"
)

// Options tune a Store. The zero value is the recommended configuration.
type Options struct {
	Synchronous Synchronous   // "" = SyncNormal
	BusyTimeout time.Duration // how long to wait for a lock held by another connection; 0 = 5s
	ReadConns   int           // size of the read pool; 0 = max(4, GOMAXPROCS)
	WALLimit    int64         // WAL size past which a checkpoint empties it, making writers wait; 0 = 1 GiB
	// Holder is what the lock file says holds the database, for the error another process gets at
	// Open; "" = the program's name and its command, "brokerguard serve".
	Holder string
	// Guest opens the database beside the process that holds it, for a few short reads and writes (a
	// key issued to a running server): it takes no lock and runs no checkpoint, leaving the WAL to the
	// holder. Its writes and the holder's wait for each other, up to BusyTimeout: keep them few and small.
	Guest bool
}

// Store is a store.Store in one SQLite file. It is safe for concurrent use.
type Store struct {
	path  string
	lock  *fileLock
	write *sql.DB   // exactly one connection
	wconn *sql.Conn // that connection, held for the life of the Store
	read  *sql.DB   // read-only connections
	pass  *sql.DB   // one connection for PASSIVE checkpoints, which take no lock a writer waits for
	ins   *inserts
	wsem  chan struct{} // one Append at a time
	args  args          // the arguments of one INSERT, reused; owned by the holder of wsem

	ckpt   checkpointer
	busyMS string // the writer's busy_timeout

	guest bool
	// The id keys of events and decisions (idkeys.go), and the next seq of each table. What follows is
	// owned by the holder of wsem.
	eventKeys, decisionKeys *keyIndex
	nextEvent, nextDecision int64
	newEvents, newDecisions []idKey // the keys an Append writes
	pick                    []int
	inBatch                 map[string]struct{}
	cands, runs             []int64
	mergeErr                atomic.Pointer[error] // the last failed merge of id keys, reported by Ping

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// Open opens the database at path, creating the file (mode 0600) and its directory (0700) when
// missing, and brings its schema up to date. A database written by a newer brokerguard is refused with
// ErrSchemaTooNew; one that another Store holds, in this process or another, with an *InUseError
// (ErrInUse), before anything is read or written.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open %q: want a plain file path", path)
	}
	syncMode := opts.Synchronous
	if syncMode == "" {
		syncMode = SyncNormal
	}
	if syncMode != SyncNormal && syncMode != SyncFull {
		return nil, fmt.Errorf("sqlite: open: unknown synchronous %q (want %q or %q)", syncMode, SyncNormal, SyncFull)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	readConns := opts.ReadConns
	if readConns <= 0 {
		readConns = max(4, runtime.GOMAXPROCS(0))
	}
	// The database holds customers' events and the hashes of API keys: readable by its owner only.
	// SQLite gives the WAL and shared-memory files the permissions of the database file.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w: %v", store.ErrUnavailable, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("sqlite: open %s: %w: is a directory", path, store.ErrUnavailable)
	}
	holder := opts.Holder
	if holder == "" {
		holder = defaultHolder()
	}
	var lk *fileLock
	if !opts.Guest {
		var err error
		if lk, err = lock(path, holder); err != nil {
			return nil, err
		}
	}
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		lk.unlock()
		return nil, fmt.Errorf("sqlite: open: %w: %v", store.ErrUnavailable, err)
	}

	busyMS := strconv.FormatInt(busy.Milliseconds(), 10)
	wq := url.Values{}
	wq.Add("_pragma", "busy_timeout("+busyMS+")")
	// page_size takes effect only on a new file, before it switches to WAL (_journal_mode is applied
	// after every _pragma). Every page an append touches is one frame written to the WAL, and the HTTP
	// API commits a few events at a time: 2 KiB pages lower its p99 at 5,000 requests/s by about a
	// quarter against 4 KiB (7 paired runs: median 1.6 ms against 2.3 ms), for about 7% of replay's
	// throughput; 16 KiB pages cost serve about 15% of its throughput and gained replay nothing.
	wq.Add("_pragma", "page_size(2048)")
	wq.Set("_journal_mode", "WAL")
	wq.Add("_pragma", "synchronous("+string(syncMode)+")")
	wq.Add("_pragma", "cache_size(-32768)") // KiB
	wq.Add("_pragma", "temp_store(memory)")
	// Checkpoints run in the background (see checkpointer), not inside the Append that crosses the
	// threshold.
	wq.Add("_pragma", "wal_autocheckpoint(0)")
	write, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		lk.unlock()
		return nil, fmt.Errorf("sqlite: open: %w: %v", store.ErrUnavailable, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	s := &Store{path: path, lock: lk, write: write, wsem: make(chan struct{}, 1), busyMS: busyMS, guest: opts.Guest,
		eventKeys: newKeyIndex(kindEvent, "events", "id"), decisionKeys: newKeyIndex(kindDecision, "decisions", "event_id"),
		inBatch: map[string]struct{}{}}
	fail := func(err error) (*Store, error) {
		if s.ins != nil {
			s.closeInserts()
		}
		if s.wconn != nil {
			s.wconn.Close()
		}
		if s.read != nil {
			s.read.Close()
		}
		if s.pass != nil {
			s.pass.Close()
		}
		write.Close()
		lk.unlock()
		return nil, err
	}
	s.wconn, err = write.Conn(ctx)
	if err != nil {
		return fail(translate(ctx, "open "+path, err))
	}
	var mode string
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fail(translate(ctx, "open "+path, err))
	}
	if mode != "wal" {
		return fail(fmt.Errorf("sqlite: open %s: %w: journal mode is %q, want wal", path, store.ErrUnavailable, mode))
	}
	if err := migrate(ctx, s.wconn); err != nil {
		return fail(err)
	}
	if err := chainPending(ctx, s.wconn); err != nil {
		return fail(err)
	}
	err = s.wconn.Raw(func(dc any) error {
		var err error
		s.ins, err = prepareInserts(ctx, dc.(driver.Conn))
		return err
	})
	if err != nil {
		return fail(translate(ctx, "open: prepare", err))
	}

	// The read pool opens the file read-only: a query cannot write, and cannot checkpoint either (a
	// checkpoint other than PASSIVE takes the write lock).
	rq := url.Values{}
	rq.Set("mode", "ro")
	rq.Add("_pragma", "busy_timeout("+busyMS+")")
	rq.Add("_pragma", "query_only(1)")
	ruri, err := fileURI(path, rq)
	if err != nil {
		return fail(fmt.Errorf("sqlite: open: %w: %v", store.ErrUnavailable, err))
	}
	s.read, err = sql.Open("sqlite", ruri)
	if err != nil {
		return fail(fmt.Errorf("sqlite: open: %w: %v", store.ErrUnavailable, err))
	}
	s.read.SetMaxOpenConns(readConns)
	s.read.SetMaxIdleConns(readConns)
	if err := s.read.PingContext(ctx); err != nil {
		return fail(translate(ctx, "open "+path, err))
	}
	pq := url.Values{}
	pq.Add("_pragma", "busy_timeout("+busyMS+")")
	pq.Add("_pragma", "query_only(1)")
	s.pass, err = sql.Open("sqlite", path+"?"+pq.Encode())
	if err != nil {
		return fail(fmt.Errorf("sqlite: open: %w: %v", store.ErrUnavailable, err))
	}
	s.pass.SetMaxOpenConns(1)
	s.pass.SetMaxIdleConns(1)
	s.pass.SetConnMaxLifetime(0)
	s.pass.SetConnMaxIdleTime(0)
	if err := s.pass.PingContext(ctx); err != nil {
		return fail(translate(ctx, "open "+path, err))
	}
	if !opts.Guest {
		if err := s.loadState(ctx); err != nil {
			return fail(err)
		}
	}
	walLimit := opts.WALLimit
	if walLimit <= 0 {
		walLimit = defaultWALLimit
	}
	ckptCtx, stop := context.WithCancel(context.Background())
	s.ckpt = checkpointer{signal: make(chan struct{}, 1), stop: stop, done: make(chan struct{}), walPath: path + "-wal", walLimit: walLimit}
	if opts.Guest {
		s.ckpt.signal = nil // appended does nothing
		close(s.ckpt.done)
		return s, nil
	}
	go s.checkpoints(ckptCtx)
	return s, nil
}

// loadState reads what the writer keeps in memory: the next seqs and the id keys.
func (s *Store) loadState(ctx context.Context) error {
	for _, n := range []struct {
		next  *int64
		table string
	}{{&s.nextEvent, "events"}, {&s.nextDecision, "decisions"}} {
		if err := s.read.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) + 1 FROM "+n.table).Scan(n.next); err != nil {
			return translate(ctx, "open: "+n.table, err)
		}
	}
	for _, ki := range []*keyIndex{s.eventKeys, s.decisionKeys} {
		if err := s.loadKeys(ctx, ki); err != nil {
			return translate(ctx, "open: id keys of "+ki.table, err)
		}
	}
	return nil
}

// fileURI is the SQLite URI of the file at path with the parameters q.
func fileURI(path string, q url.Values) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") { // a drive letter
		u.Path = "/" + u.Path
	}
	return u.String(), nil
}

// checkpointInterval is the least time between two checkpoints: pages that several appends rewrite
// (the ends of the tables and indexes) are copied into the database once per interval, not once per
// append. Under the HTTP API's many small commits, a second rather than a quarter of one halved the
// 99th-percentile request latency at 5,000 requests/s.
var checkpointInterval = time.Second

// defaultWALLimit is the WAL size past which a checkpoint empties the WAL, making writers wait for it (about
// 0.1 s per 60 MB of WAL written since the last checkpoint, on this workplace's disk). Sustained
// single-event commits (the HTTP API at thousands of requests a second) grow the WAL by tens of MB a
// second; the limit bounds the disk it takes at the cost of a rare pause.
const defaultWALLimit = 1 << 30

// truncateWait is how long a TRUNCATE checkpoint waits for the readers still using the WAL before it
// gives up until the next one; the writer waits for it meanwhile.
const truncateWait = 100 * time.Millisecond

// checkpointer copies the WAL into the database file after appends. PASSIVE checkpoints run on a
// connection of their own, beside the writer, so that an Append never waits for them and their fsyncs:
// a PASSIVE checkpoint takes only the checkpoint lock, which no writer takes, and never waits for a
// lock. The WAL restarts from its beginning at the first append after a complete one.
//
// A TRUNCATE checkpoint takes SQLite's write lock while it copies the rest of the WAL and waits for
// readers. Run on any connection but the writer, it made the writer's BEGIN IMMEDIATE wait for it and
// fail with SQLITE_BUSY once it lasted longer than the busy timeout (a 1 GiB WAL copied into a database
// of a few GB takes longer than 5 s). It runs on the writer connection, between two Appends.
type checkpointer struct {
	walPath  string
	walLimit int64
	signal   chan struct{} // an append has committed
	stop     context.CancelFunc
	done     chan struct{}
	err      atomic.Pointer[error] // the last checkpoint's failure, reported by Ping
	runs     atomic.Int64          // checkpoints run
}

func (s *Store) checkpoints(ctx context.Context) {
	c := &s.ckpt
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.signal:
		}
		_, err := s.pass.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		// Under a steady stream of commits a PASSIVE checkpoint never catches up with the end of the WAL,
		// so the WAL never restarts and grows. Past the limit, a TRUNCATE checkpoint makes writers wait
		// while it copies the rest (little, after the PASSIVE one) and empties the file.
		if fi, serr := os.Stat(c.walPath); err == nil && serr == nil && fi.Size() > c.walLimit {
			err = s.truncateWAL(ctx)
		}
		if err != nil && ctx.Err() == nil {
			err = translate(ctx, "checkpoint", err)
			c.err.Store(&err)
		} else {
			c.err.Store(nil)
		}
		c.runs.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(checkpointInterval):
		}
	}
}

// truncateWAL runs a TRUNCATE checkpoint on the writer connection, between two Appends. Readers that
// keep it waiting longer than truncateWait leave the WAL as it is until the next one.
func (s *Store) truncateWAL(ctx context.Context) error {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	defer func() { <-s.wsem }()
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(truncateWait.Milliseconds(), 10)); err != nil {
		return err
	}
	defer s.wconn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+s.busyMS)
	var busy, frames, copied int
	// A checkpoint the readers kept from completing reports busy = 1, not an error.
	return s.wconn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
}

// appended tells the checkpointer that the WAL has grown.
func (c *checkpointer) appended() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// enter admits one operation, or returns ErrClosed; every enter is paired with leave.
func (s *Store) enter(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	s.inflight.Add(1)
	return nil
}

func (s *Store) leave() { s.inflight.Done() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter("ping"); err != nil {
		return err
	}
	defer s.leave()
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return translate(ctx, "ping", err)
	}
	if err := s.ckpt.err.Load(); err != nil {
		return *err
	}
	if err := s.mergeErr.Load(); err != nil {
		return *err
	}
	return nil
}

// Close waits for the operations in progress, then closes the database. Later calls return ErrClosed;
// closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	s.ckpt.stop()
	<-s.ckpt.done

	s.closeInserts()
	errs := []error{s.read.Close(), s.pass.Close(), s.wconn.Close(), s.write.Close(), s.lock.unlock()}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w: %v", store.ErrUnavailable, err)
	}
	return nil
}

// closeInserts closes the write statements on the connection they were prepared on.
func (s *Store) closeInserts() {
	_ = s.wconn.Raw(func(any) error {
		s.ins.close()
		return nil
	})
}

// translate turns a driver error into one of the store's errors, with the operation for context. The
// driver's message is kept as text only, so callers cannot reach a driver type.
func translate(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("sqlite: %s: %w", op, ctx.Err())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlite: %s: %w", op, err)
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	case errors.Is(err, sql.ErrConnDone), err.Error() == "sql: database is closed":
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("sqlite: %s: %w: %v", op, store.ErrUnavailable, err)
}
