package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Event ids are opaque strings chosen by the firm, often random hex. A unique index on them takes every
// insert at a random place: once the index outgrows the page cache, each event dirties a page of its
// own, which is written to the WAL and then to the database, and a store's cost per event grows with
// its size. So the tables are keyed by seq, in arrival order, and an id is found through the id keys:
//
//   - id_keys (kind, run, h, seq): the 64-bit hash of every id up to id_keys_through.seq, with the seq
//     of its row, in runs: each run is one tail, sorted by hash and written at once (merge) after the
//     runs before it, so a merge appends pages at the end of the b-tree and never rewrites the older
//     runs: what it costs does not depend on how much the store holds;
//   - the tail: the ids of the rows after id_keys_through.seq, in memory (keyTail), rebuilt at Open from
//     the table itself;
//   - a Bloom filter per run, in memory, rebuilt at Open, so that a new id (the common case) is known
//     new without reading the disk, and an id is looked up only in the runs that may hold it.
//
// A hash only points at candidate rows: the id itself is compared before a row counts as a match, so a
// collision of two ids' hashes costs a read, never an event. The same structure finds a decision by
// its event's id (kind 1).
const (
	kindEvent    = 0
	kindDecision = 1
)

// mergeAt is the tail size at which it is merged into id_keys: a merge writes the pages of id_keys that
// receive keys, which is nearly all of them once id_keys holds more keys than the tail, so a larger
// tail writes less per key at the cost of memory (about 40 bytes per key).
var mergeAt = 1 << 21 // a variable for the tests

// idHash is the 64-bit hash of an id (FNV-1a, then the SplitMix64 finalizer to spread its bits), as
// SQLite's signed integer. It is part of the file format: never change it.
func idHash(s string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return int64(mix64(h))
}

func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// keyTail maps the hashes of the tail's ids to their seqs. Nearly every hash has one seq: the others
// (the same id stored twice cannot happen, two ids with one hash nearly never does) go to more.
type keyTail struct {
	first map[int64]int64
	more  map[int64][]int64
	n     int
	max   int64 // the largest seq added
}

func newKeyTail() keyTail { return keyTail{first: map[int64]int64{}} }

func (t *keyTail) add(h, seq int64) {
	if _, ok := t.first[h]; ok {
		if t.more == nil {
			t.more = map[int64][]int64{}
		}
		t.more[h] = append(t.more[h], seq)
	} else {
		t.first[h] = seq
	}
	t.n++
	t.max = max(t.max, seq)
}

// seqs appends the seqs of hash h to dst.
func (t *keyTail) seqs(dst []int64, h int64) []int64 {
	if seq, ok := t.first[h]; ok {
		dst = append(dst, seq)
		dst = append(dst, t.more[h]...)
	}
	return dst
}

// sorted returns the tail's keys by hash, then seq: the order id_keys stores them in.
func (t *keyTail) sorted() []idKey {
	out := make([]idKey, 0, t.n)
	for h, seq := range t.first {
		out = append(out, idKey{h, seq})
	}
	for h, seqs := range t.more {
		for _, seq := range seqs {
			out = append(out, idKey{h, seq})
		}
	}
	slices.SortFunc(out, func(a, b idKey) int {
		if a.h != b.h {
			if a.h < b.h {
				return -1
			}
			return 1
		}
		return int(a.seq - b.seq)
	})
	return out
}

type idKey struct{ h, seq int64 }

// bloom is a blocked Bloom filter of hashes: the 7 bits of a key lie in one 512-bit block, a cache
// line, so that a lookup costs one miss of the memory cache, not seven. 12 bits per key give about 1%
// false positives at its capacity.
type bloom struct {
	blocks   [][8]uint64
	capacity int64
	n        int64
}

const bloomProbes = 7

func newBloom(capacity int64) *bloom {
	capacity = max(capacity, 1<<10)
	return &bloom{blocks: make([][8]uint64, (capacity*12+511)/512), capacity: capacity}
}

// block returns the block of h and the bits to test in it, 9 bits of a second hash each.
func (b *bloom) block(h int64) (*[8]uint64, uint64) {
	u := uint64(h)
	return &b.blocks[(u>>32)*uint64(len(b.blocks))>>32], mix64(u ^ 0x9e3779b97f4a7c15)
}

func (b *bloom) add(h int64) {
	blk, g := b.block(h)
	for range bloomProbes {
		bit := g & 511
		blk[bit/64] |= 1 << (bit % 64)
		g >>= 9
	}
	b.n++
}

func (b *bloom) may(h int64) bool {
	blk, g := b.block(h)
	for range bloomProbes {
		bit := g & 511
		if blk[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
		g >>= 9
	}
	return true
}

// keyRun is one run of id_keys with its filter.
type keyRun struct {
	id     int64
	filter *bloom
}

// keyIndex finds the rows of one kind of id. The writer (holding the Store's wsem) changes it under
// mu; readers look it up under mu's read lock. It is changed only after the transaction that wrote
// the rows commits, so whatever it points at is committed.
type keyIndex struct {
	kind  int
	table string // events | decisions
	idCol string // id | event_id

	mu      sync.RWMutex
	through int64 // id_keys holds the keys of the rows with seq ≤ through
	tail    keyTail
	merging *merging // the run being written, nil between merges
	runs    []keyRun
}

// merging is a tail being written into id_keys as a new run, a chunk per Append, so that no Append
// waits for a whole merge. Its keys are looked up in memory until the run is complete.
type merging struct {
	tail   keyTail
	keys   []idKey // sorted
	done   int     // keys written
	run    int64
	filter *bloom
}

func newKeyIndex(kind int, table, idCol string) *keyIndex {
	return &keyIndex{kind: kind, table: table, idCol: idCol, tail: newKeyTail()}
}

// candidates appends to dst the seqs that hash h may be stored at in the tail (exact), and to runs the
// runs whose filter says they may hold h.
func (ki *keyIndex) candidates(dst []int64, runs []int64, h int64) ([]int64, []int64) {
	ki.mu.RLock()
	defer ki.mu.RUnlock()
	return ki.memSeqs(dst, h), ki.mayHold(runs, h)
}

// memSeqs appends the seqs of h in the tail and in the run being merged; the caller holds mu or is the
// writer.
func (ki *keyIndex) memSeqs(dst []int64, h int64) []int64 {
	dst = ki.tail.seqs(dst, h)
	if ki.merging != nil {
		dst = ki.merging.tail.seqs(dst, h)
	}
	return dst
}

// mayHold appends the runs that may hold h to runs; the caller holds mu or is the writer.
func (ki *keyIndex) mayHold(runs []int64, h int64) []int64 {
	for _, r := range ki.runs {
		if r.filter.may(h) {
			runs = append(runs, r.id)
		}
	}
	return runs
}

// load reads the state of the index at Open: the filter from id_keys, the tail from the table (merging
// it into id_keys whenever it reaches mergeAt, as after the migration of a store written before id_keys
// existed).
func (s *Store) loadKeys(ctx context.Context, ki *keyIndex) error {
	if err := s.read.QueryRowContext(ctx, "SELECT seq FROM id_keys_through WHERE kind = ?", ki.kind).Scan(&ki.through); err != nil {
		return fmt.Errorf("through: %w", err)
	}
	if err := s.loadFilter(ctx, ki); err != nil {
		return err
	}
	for {
		// A page of the tail at a time, so that a merge (on the writer) runs between two reads.
		rows, err := s.read.QueryContext(ctx, "SELECT seq, "+ki.idCol+" FROM "+ki.table+" WHERE seq > ? ORDER BY seq LIMIT ?",
			max(ki.through, ki.tail.max), mergeAt)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var (
				seq int64
				id  string
			)
			if err := rows.Scan(&seq, &id); err != nil {
				rows.Close()
				return err
			}
			ki.tail.add(idHash(id), seq)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for ki.tail.n >= mergeAt || ki.merging != nil {
			if err := s.mergeStep(ctx, ki, mergeAt); err != nil {
				return err
			}
		}
		if n < mergeAt {
			return nil
		}
	}
}

// loadFilter builds the filter of every run of ki from id_keys, at Open.
func (s *Store) loadFilter(ctx context.Context, ki *keyIndex) error {
	rows, err := s.read.QueryContext(ctx, "SELECT run, count(*) FROM id_keys WHERE kind = ? GROUP BY run ORDER BY run", ki.kind)
	if err != nil {
		return fmt.Errorf("count id keys: %w", err)
	}
	var runs []keyRun
	for rows.Next() {
		var r keyRun
		var n int64
		if err := rows.Scan(&r.id, &n); err != nil {
			rows.Close()
			return fmt.Errorf("count id keys: %w", err)
		}
		r.filter = newBloom(n)
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count id keys: %w", err)
	}
	for _, r := range runs {
		rows, err := s.read.QueryContext(ctx, "SELECT h FROM id_keys WHERE kind = ? AND run = ?", ki.kind, r.id)
		if err != nil {
			return fmt.Errorf("read id keys: %w", err)
		}
		for rows.Next() {
			var h int64
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return fmt.Errorf("read id keys: %w", err)
			}
			r.filter.add(h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read id keys: %w", err)
		}
	}
	ki.runs = runs
	return nil
}

// mergeChunk is how many keys of a merge one Append writes.
var mergeChunk = 1 << 16 // a variable for the tests

// mergeStep writes the next chunk (at most n keys) of the run being merged, starting one from the tail
// when it is full, in one transaction on the writer connection; the last chunk completes the run. The
// caller holds wsem (or is Open).
func (s *Store) mergeStep(ctx context.Context, ki *keyIndex, n int) error {
	if ki.merging == nil {
		if ki.tail.n < mergeAt {
			return nil
		}
		m := &merging{tail: ki.tail, keys: ki.tail.sorted(), run: 1, filter: newBloom(int64(ki.tail.n))}
		if len(ki.runs) > 0 {
			m.run = ki.runs[len(ki.runs)-1].id + 1
		}
		for _, k := range m.keys {
			m.filter.add(k.h)
		}
		ki.mu.Lock()
		ki.merging, ki.tail = m, newKeyTail()
		ki.mu.Unlock()
	}
	m := ki.merging
	end := min(len(m.keys), m.done+n)
	last := end == len(m.keys)
	err := s.wconn.Raw(func(any) error {
		ins := s.ins
		if _, err := ins.begin.ExecContext(ctx, nil); err != nil {
			_, _ = ins.rollback.ExecContext(context.WithoutCancel(ctx), nil)
			return err
		}
		keys := m.keys[m.done:end]
		_, err := ins.idKeys.exec(ctx, &s.args, len(keys), func(i int, a *args) error {
			a.add(int64(ki.kind), m.run, keys[i].h, keys[i].seq)
			return nil
		})
		if err == nil && last {
			_, err = ins.through.ExecContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: m.tail.max}, {Ordinal: 2, Value: int64(ki.kind)}})
		}
		if err == nil {
			_, err = ins.commit.ExecContext(context.WithoutCancel(ctx), nil)
		}
		if err != nil {
			_, _ = ins.rollback.ExecContext(context.WithoutCancel(ctx), nil)
		}
		return err
	})
	if err != nil {
		return translate(ctx, "merge id keys", err)
	}
	s.ckpt.appended()
	m.done = end
	if last {
		ki.mu.Lock()
		ki.runs = append(ki.runs, keyRun{id: m.run, filter: m.filter})
		ki.through, ki.merging = m.tail.max, nil
		ki.mu.Unlock()
	}
	return nil
}

// afterCommit records the rows an Append wrote in the tail, and writes a chunk of a merge when one is
// under way or the tail is full.
func (s *Store) afterCommit(ctx context.Context, ki *keyIndex, added []idKey) error {
	ki.mu.Lock()
	for _, k := range added {
		ki.tail.add(k.h, k.seq)
	}
	ki.mu.Unlock()
	if ki.merging != nil || ki.tail.n >= mergeAt {
		return s.mergeStep(ctx, ki, mergeChunk)
	}
	return nil
}

// writerLookup finds, on the writer connection inside an Append, whether the id with hash h is stored:
// the candidates of the tail and, when the filter says it may be there, of id_keys, each compared by
// id.
func (s *Store) writerLookup(ctx context.Context, ki *keyIndex, idAt driverStmt, id string, h int64) (bool, error) {
	cands := ki.memSeqs(s.cands[:0], h)
	s.runs = ki.mayHold(s.runs[:0], h)
	for _, run := range s.runs {
		var err error
		if cands, err = queryInts(ctx, s.ins.probe, cands, int64(ki.kind), run, h); err != nil {
			return false, err
		}
	}
	s.cands = cands
	for _, seq := range cands {
		got, ok, err := queryString(ctx, idAt, seq)
		if err != nil {
			return false, err
		}
		if ok && got == id {
			return true, nil
		}
	}
	return false, nil
}

// queryInts appends the integers a one-column statement returns to dst.
func queryInts(ctx context.Context, st driverStmt, dst []int64, vals ...driver.Value) ([]int64, error) {
	a := make([]driver.NamedValue, len(vals))
	for i, v := range vals {
		a[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	rows, err := st.QueryContext(ctx, a)
	if err != nil {
		return dst, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	for {
		switch err := rows.Next(dest); {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		}
		v, ok := dest[0].(int64)
		if !ok {
			return dst, fmt.Errorf("want an integer, got %T", dest[0])
		}
		dst = append(dst, v)
	}
}

// queryString runs a statement that returns at most one string.
func queryString(ctx context.Context, st driverStmt, v driver.Value) (string, bool, error) {
	rows, err := st.QueryContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: v}})
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	switch err := rows.Next(dest); {
	case err == io.EOF:
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	switch x := dest[0].(type) {
	case string:
		return x, true, nil
	case []byte:
		return string(x), true, nil
	}
	return "", false, fmt.Errorf("want a string, got %T", dest[0])
}

// readerCandidates returns, for each hash, the seqs its id may be stored at, reading id_keys through the
// read pool for the hashes the filter lets through.
func (s *Store) readerCandidates(ctx context.Context, ki *keyIndex, hs []int64) ([][]int64, error) {
	out := make([][]int64, len(hs))
	byRun := map[int64][]any{} // the hashes to look up in each run
	at := map[int64][]int{}    // the indexes of each hash
	var runs []int64
	for i, h := range hs {
		out[i], runs = ki.candidates(nil, runs[:0], h)
		if _, ok := at[h]; !ok {
			for _, r := range runs {
				byRun[r] = append(byRun[r], h)
			}
		}
		at[h] = append(at[h], i)
	}
	for run, probe := range byRun {
		for start := 0; start < len(probe); start += heldChunk {
			chunk := probe[start:min(start+heldChunk, len(probe))]
			q := fmt.Sprintf("SELECT h, seq FROM id_keys WHERE kind = %d AND run = %d AND h IN (?%s)", ki.kind, run, repeatArgs(len(chunk)-1))
			_, err := queryRows(ctx, s.read, q, chunk, func(rows *sql.Rows) error {
				var h, seq int64
				if err := rows.Scan(&h, &seq); err != nil {
					return err
				}
				for _, i := range at[h] {
					out[i] = append(out[i], seq)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func repeatArgs(n int) string {
	b := make([]byte, 0, 2*n)
	for range n {
		b = append(b, ",?"...)
	}
	return string(b)
}
