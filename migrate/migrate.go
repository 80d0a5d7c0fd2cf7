// Package migrate copies attachments from one upstream.Store to another,
// record by record: each file streams from the source's Open into the
// destination's Create, hashed on the way, and is then read back from the
// destination and compared by sha256. Files the destination already has
// (same record, field, name and sha256) are skipped, and a Journal records
// every verified file, so a migration killed at any point and run again
// finishes without duplicates.
//
// Both ends are plain Stores; two optional interfaces are asked for once:
// Enumerator (a source that can list its records, the bundled store) and
// NativeIDer (a remote store, whose canonical ids are private to it, gives
// the ids its system's clients know for the report).
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Enumerator is a store that can list every record it holds.
type Enumerator interface {
	Records(ctx context.Context) ([]upstream.RecordRef, error)
}

// NativeIDer is a store whose canonical ids are not what its system's
// clients know a file by; NativeID returns that id, or "" when the system
// addresses files by record, field and name.
type NativeIDer interface {
	NativeID(id string) (string, error)
}

// ErrNoRecords is returned when no records were given and the source
// cannot list its own.
var ErrNoRecords = errors.New("the source cannot list its records (a live system is reachable record by record only): give --records FILE")

// Options configure a migration.
type Options struct {
	From, To upstream.Store
	// Records to migrate; nil means every record of From, which must then
	// be an Enumerator.
	Records []upstream.RecordRef
	// Journal, if set, makes the migration resumable.
	Journal *Journal
	// Parallel is how many files are copied at once (default 4).
	Parallel int
	Retry    Retry
	// DryRun lists what would be copied on Plan and writes nothing.
	DryRun bool
	Plan   io.Writer
	// Progress, if set, counts files and bytes as they go.
	Progress *Progress
}

// migration is one run of Run.
type migration struct {
	Options
	t *tally
	// planMu serialises the dry-run listing.
	planMu sync.Mutex
}

// Run migrates the records and reports what it did. The error is for a
// migration that could not start or was cancelled; per-file problems are
// in the report, and one bad file never stops the others.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Retry.Attempts <= 0 {
		o.Retry = DefaultRetry()
	}
	if o.Plan == nil {
		o.Plan = io.Discard
	}
	records := o.Records
	if records == nil {
		en, ok := o.From.(Enumerator)
		if !ok {
			return Report{}, ErrNoRecords
		}
		var err error
		if records, err = en.Records(ctx); err != nil {
			return Report{}, fmt.Errorf("list the source's records: %w", err)
		}
	}
	m := &migration{Options: o, t: &tally{p: o.Progress}}
	m.t.r.Records = len(records)

	recs := make(chan upstream.RecordRef)
	jobs := make(chan job, 4*o.Parallel)
	var planners, copiers sync.WaitGroup
	for range o.Parallel {
		planners.Add(1)
		go func() {
			defer planners.Done()
			for rec := range recs {
				m.plan(ctx, rec, jobs)
			}
		}()
		copiers.Add(1)
		go func() {
			defer copiers.Done()
			for j := range jobs {
				m.copy(ctx, j)
			}
		}()
	}
	feed(ctx, recs, records)
	planners.Wait()
	close(jobs)
	copiers.Wait()
	r := m.t.report()
	if o.DryRun {
		fmt.Fprintf(o.Plan, "would copy %d files (%s); %d already at the destination; %d failed\n", r.Copied, size(r.Bytes), r.Skipped, r.Failed)
	}
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("migration interrupted: %w", err)
	}
	return r, nil
}

// job is one source file to copy.
type job struct {
	rs  *recordState
	src upstream.Attachment
}

// recordState is what the destination holds of one record, and which of
// its files already stand for a source file. The destination is listed
// once per record (and again only to look whether a failed create landed):
// dst then grows by the files the migration creates, so that a store that
// can describe one file only by listing its whole record checks each new
// name against dst instead (upstream.ListedCreator).
type recordState struct {
	rec  upstream.RecordRef
	mu   sync.Mutex
	dst  []upstream.Attachment
	used map[string]bool
	// busy holds the name of each file being copied into the record,
	// closed when its copy is over.
	busy map[string]chan struct{}
}

func newRecordState(rec upstream.RecordRef) *recordState {
	return &recordState{rec: rec, used: map[string]bool{}, busy: map[string]chan struct{}{}}
}

// listed is the record's files at the destination as far as the migration
// knows them. The slice is shared: it must not be changed.
func (rs *recordState) listed() []upstream.Attachment {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.dst[:len(rs.dst):len(rs.dst)]
}

// made records a file the migration created, as standing for its source.
func (rs *recordState) made(d upstream.Attachment) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.used[d.ID] = true
	rs.dst = append(rs.dst[:len(rs.dst):len(rs.dst)], d)
}

// dropped forgets a file the migration deleted again.
func (rs *recordState) dropped(id string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.dst = slices.DeleteFunc(slices.Clone(rs.dst), func(d upstream.Attachment) bool { return d.ID == id })
}

// lockName waits until no other file of the name is being copied into
// the record, and returns the unlock: a destination that keeps one file
// per name must see the first copy among the files the second is checked
// against. The name alone is the key, in whatever field: a destination
// without fields of its own keeps every file of a record in one.
func (rs *recordState) lockName(name string) func() {
	for {
		rs.mu.Lock()
		ch, taken := rs.busy[name]
		if !taken {
			rs.busy[name] = make(chan struct{})
			rs.mu.Unlock()
			return func() {
				rs.mu.Lock()
				close(rs.busy[name])
				delete(rs.busy, name)
				rs.mu.Unlock()
			}
		}
		rs.mu.Unlock()
		<-ch
	}
}

// claim marks a destination file as standing for a source file; it fails
// when another source file has it already.
func (rs *recordState) claim(id string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.used[id] {
		return false
	}
	rs.used[id] = true
	return true
}

// candidates are the unclaimed destination files that could be a copy of
// a: same field, name and content state.
func (rs *recordState) candidates(a upstream.Attachment) []upstream.Attachment {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []upstream.Attachment
	for _, d := range rs.dst {
		if !rs.used[d.ID] && d.Field == a.Field && d.Name == a.Name && d.HasContent == a.HasContent {
			out = append(out, d)
		}
	}
	return out
}

// plan lists a record on both sides, skips what the destination has, and
// queues the rest.
func (m *migration) plan(ctx context.Context, rec upstream.RecordRef, jobs chan<- job) {
	if ctx.Err() != nil {
		return
	}
	var src []upstream.Attachment
	err := m.Retry.do(ctx, func() (err error) { src, err = m.From.List(ctx, rec); return err })
	if err != nil {
		m.t.failed(rec, "", fmt.Errorf("list at the source: %w", err))
		return
	}
	rs := newRecordState(rec)
	err = m.Retry.do(ctx, func() (err error) { rs.dst, err = m.To.List(ctx, rec); return err })
	if err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
		m.t.failed(rec, "", fmt.Errorf("list at the destination: %w", err))
		return
	}
	if m.Progress != nil {
		m.Progress.FilesTotal.Add(int64(len(src)))
	}
	for _, a := range src {
		if ctx.Err() != nil {
			return
		}
		done, err := m.already(ctx, rs, a)
		if err != nil {
			m.t.failed(rec, a.Name, err)
			continue
		}
		if done {
			continue
		}
		if m.Progress != nil {
			m.Progress.BytesTotal.Add(a.Size)
		}
		if m.DryRun {
			m.planMu.Lock()
			fmt.Fprintf(m.Plan, "copy %s %s/%s (%d bytes)\n", recordName(rec), a.Field, a.Name, a.Size)
			m.planMu.Unlock()
			m.t.mu.Lock()
			m.t.r.Copied++
			m.t.r.Bytes += a.Size
			m.t.mu.Unlock()
			m.t.done()
			continue
		}
		select {
		case jobs <- job{rs: rs, src: a}:
		case <-ctx.Done():
			return
		}
	}
}

// already reports whether the destination has a's copy, which it then
// counts as skipped: the one the journal names, else an unclaimed file of
// the same field, name and sha256.
func (m *migration) already(ctx context.Context, rs *recordState, a upstream.Attachment) (bool, error) {
	if m.Journal != nil {
		if e, ok := m.Journal.Done(rs.rec, a.ID); ok && (a.SHA256 == "" || a.SHA256 == e.SHA256) && a.Size == e.Size {
			for _, d := range rs.candidates(a) {
				if d.ID == e.To && (d.SHA256 == "" || d.SHA256 == e.SHA256) && rs.claim(d.ID) {
					m.t.skipped(e)
					return true, nil
				}
			}
		}
	}
	cands := rs.candidates(a)
	if len(cands) == 0 {
		return false, nil
	}
	srcSum := a.SHA256
	if !a.HasContent {
		// A placeholder has no bytes to compare: its name is all it is.
		d := cands[0]
		if !rs.claim(d.ID) {
			return false, nil
		}
		return true, m.verified(rs, a, d, "", false)
	}
	for _, d := range cands {
		if d.Size != a.Size {
			continue
		}
		if srcSum == "" {
			sum, err := m.sumOf(ctx, m.From, a)
			if err != nil {
				return false, fmt.Errorf("read at the source: %w", err)
			}
			srcSum = sum
		}
		dstSum := d.SHA256
		if dstSum == "" {
			sum, err := m.sumOf(ctx, m.To, d)
			if err != nil {
				return false, fmt.Errorf("read at the destination: %w", err)
			}
			dstSum = sum
		}
		if dstSum == srcSum && rs.claim(d.ID) {
			d.SHA256 = dstSum
			return true, m.verified(rs, a, d, srcSum, false)
		}
	}
	return false, nil
}

// verified records that d at the destination is a verified copy of a:
// journalled, and counted as copied or skipped.
func (m *migration) verified(rs *recordState, a, d upstream.Attachment, sum string, copied bool) error {
	e := Entry{Record: rs.rec, Field: a.Field, Name: a.Name, From: a.ID, To: d.ID, SHA256: sum, Size: a.Size,
		FromID: nativeID(m.From, a), ToID: nativeID(m.To, d)}
	if m.Journal != nil && !m.DryRun {
		if err := m.Journal.Add(e); err != nil {
			return err
		}
	}
	if copied {
		m.t.copied(e)
	} else {
		m.t.skipped(e)
	}
	return nil
}

// nativeID is the id a's system's clients know it by.
func nativeID(s upstream.Store, a upstream.Attachment) string {
	n, ok := s.(NativeIDer)
	if !ok {
		return a.ID
	}
	id, err := n.NativeID(a.ID)
	if err != nil || id == "" {
		return recordName(a.Record) + "/" + a.Field + "/" + a.Name
	}
	return id
}
