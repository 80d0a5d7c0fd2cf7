// Package mirror is a Store that puts a second store, the mirror, beside
// the gateway's primary one, for moving clients from one system to another
// without losing a write:
//
//   - dual-write: every write the primary acknowledges (create, delete,
//     record update, the last chunk of a chunked upload) is put on a durable
//     queue in the data dir before the client has its answer, and applied to
//     the mirror in the same order by one worker, retried with backoff until
//     the mirror takes it. A restart, even after SIGKILL, resumes the queue.
//   - shadow: every read the client makes (list, record read, download) is
//     made again against the mirror after the primary has answered, and the
//     two are compared after canonicalising (field, name, size, sha256 of
//     the bytes); differences are counted and logged. The mirror can never
//     slow, fail or change what the client sees: comparisons run on their
//     own workers, and are dropped (and counted) when those are busy.
//
// The counters are plain fields of Stats, for a metrics package to read.
package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Mode says what the mirror is used for.
type Mode struct {
	Shadow    bool
	DualWrite bool
}

// ParseMode reads --mirror-mode: shadow, dual-write, or both
// comma-separated.
func ParseMode(s string) (Mode, error) {
	var m Mode
	for _, part := range strings.Split(s, ",") {
		switch strings.TrimSpace(part) {
		case "shadow":
			m.Shadow = true
		case "dual-write":
			m.DualWrite = true
		default:
			return Mode{}, fmt.Errorf("mirror mode %q: want shadow, dual-write, or shadow,dual-write", s)
		}
	}
	return m, nil
}

func (m Mode) String() string {
	switch {
	case m.Shadow && m.DualWrite:
		return "shadow,dual-write"
	case m.Shadow:
		return "shadow"
	}
	return "dual-write"
}

// Options configure a mirrored store.
type Options struct {
	Primary upstream.Store
	Mirror  upstream.Store
	Mode    Mode
	// DataDir holds the dual-write queue (mirror-queue.db).
	DataDir string
	Logger  *slog.Logger
	// RequestID, if set, names the request a context belongs to in the
	// shadow's log lines.
	RequestID func(ctx context.Context) string
	// MinBackoff and MaxBackoff bound the wait between tries of a write the
	// mirror refused for now (defaults 100ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// ShadowWorkers compare reads (default 2); ShadowBacklog reads may
	// wait for them (default 256), more are dropped.
	ShadowWorkers, ShadowBacklog int
	// Timeout bounds each call to the mirror (default 5m).
	Timeout time.Duration
}

// Stats are the mirror's counters, as of one moment.
type Stats struct {
	// QueueDepth is how many acknowledged writes wait for the mirror;
	// QueueOldest how long the oldest has waited (0 when none).
	QueueDepth  int
	QueueOldest time.Duration
	// Applied counts writes the mirror took; Retries the tries it refused
	// for now; Dropped the writes it can never take (logged).
	Applied, Retries, Dropped uint64
	// Compared counts shadow comparisons made, by operation (list, record,
	// download); Diffs those that differed; ShadowSkipped the reads not
	// compared because their record's writes were still queued, or the
	// workers were busy.
	Compared, Diffs map[string]uint64
	ShadowSkipped   uint64
}

// The operations shadow compares.
const (
	OpList     = "list"
	OpRecord   = "record"
	OpDownload = "download"
)

// Store is the primary store with a mirror beside it.
type Store struct {
	upstream.Store // the primary: what the client sees
	mirror         upstream.Store
	mode           Mode
	log            *slog.Logger
	o              Options

	q *queue // nil unless dual-write

	applied, retries, dropped atomic.Uint64
	compared, diffs           [3]atomic.Uint64
	shadowSkipped             atomic.Uint64

	shadowJobs chan func(ctx context.Context)
	stop       context.CancelFunc
	workers    sync.WaitGroup
}

var (
	_ upstream.Store           = (*Store)(nil)
	_ upstream.Appender        = (*Store)(nil)
	_ upstream.RecordReader    = (*Store)(nil)
	_ upstream.UnlinkedExpirer = (*Store)(nil)
)

// New starts the mirror: the dual-write worker (resuming a queue left by
// an earlier run) and the shadow workers. Close stops them.
func New(o Options) (*Store, error) {
	if o.Primary == nil || o.Mirror == nil {
		return nil, fmt.Errorf("mirror: a primary and a mirror store are both needed")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.ShadowWorkers <= 0 {
		o.ShadowWorkers = 2
	}
	if o.ShadowBacklog <= 0 {
		o.ShadowBacklog = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	s := &Store{Store: o.Primary, mirror: o.Mirror, mode: o.Mode, log: o.Logger, o: o}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	if o.Mode.DualWrite {
		q, err := openQueue(filepath.Join(o.DataDir, "mirror-queue.db"))
		if err != nil {
			stop()
			return nil, err
		}
		s.q = q
		if n, _ := q.depth(); n > 0 {
			s.log.Info("mirror: resuming the dual-write queue", "queued", n)
		}
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			s.applyLoop(ctx)
		}()
	}
	if o.Mode.Shadow {
		s.shadowJobs = make(chan func(context.Context), o.ShadowBacklog)
		for range o.ShadowWorkers {
			s.workers.Add(1)
			go func() {
				defer s.workers.Done()
				for {
					select {
					case <-ctx.Done():
						return
					case job := <-s.shadowJobs:
						jctx, cancel := context.WithTimeout(ctx, o.Timeout)
						job(jctx)
						cancel()
					}
				}
			}()
		}
	}
	return s, nil
}

// Close stops the workers (a queued write stays queued for the next
// start) and closes both stores.
func (s *Store) Close() error {
	s.stop()
	s.workers.Wait()
	var errs []error
	if s.q != nil {
		errs = append(errs, s.q.close())
	}
	errs = append(errs, s.mirror.Close(), s.Store.Close())
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Ping is the primary's: the mirror being down never makes the gateway
// unready.
func (s *Store) Ping(ctx context.Context) error {
	if p, ok := s.Store.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	st := Stats{Applied: s.applied.Load(), Retries: s.retries.Load(), Dropped: s.dropped.Load(),
		ShadowSkipped: s.shadowSkipped.Load(), Compared: map[string]uint64{}, Diffs: map[string]uint64{}}
	for i, op := range shadowOps() {
		st.Compared[op] = s.compared[i].Load()
		st.Diffs[op] = s.diffs[i].Load()
	}
	if s.q != nil {
		n, oldest := s.q.depth()
		st.QueueDepth = n
		if n > 0 && !oldest.IsZero() {
			st.QueueOldest = time.Since(oldest)
		}
	}
	return st
}

// shadowOps are the operations shadow counts, in the order of the
// counters' arrays.
func shadowOps() [3]string { return [3]string{OpList, OpRecord, OpDownload} }

// ExpireUnlinked is the primary's, where it has it.
func (s *Store) ExpireUnlinked(ctx context.Context, cutoff time.Time) (int, error) {
	if e, ok := s.Store.(upstream.UnlinkedExpirer); ok {
		return e.ExpireUnlinked(ctx, cutoff)
	}
	return 0, nil
}
