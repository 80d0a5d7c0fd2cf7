package remote

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// maxAnswer bounds a JSON answer read from the upstream; maxErrorAnswer an
// error answer, of which only the message is wanted.
const (
	maxAnswer      = 64 << 20
	maxErrorAnswer = 64 << 10
)

// Options configure a remote store.
type Options struct {
	// Speaker speaks the upstream's dialect.
	Speaker *translate.Speaker
	// URL is the upstream's base: http(s)://host:port[/base].
	URL string
	// Token is the upstream credential, sent in its dialect's header.
	Token string
	// DataDir keeps the map of canonical ids to upstream objects, and
	// spools uploads that must be whole before they are sent.
	DataDir  string
	Timeouts Timeouts
	// HeldTTL is how long a chunked upload is held without a new chunk
	// before it is dropped (0: held until deleted).
	HeldTTL time.Duration
	// NoMD5 leaves the MD5 of uploads out, for a store no client reads
	// through (a migration's ends, which compare sha256 only): md5 is the
	// dearest work on a copy's bytes, slower than sha256 and the copy.
	NoMD5 bool
}

// Store is an upstream.Store backed by an upstream system.
type Store struct {
	sp       *translate.Speaker
	t        *transport
	ids      *idMap
	recs     *recordIDs
	spoolDir string
	// heldDir keeps the chunks of uploads held until their last one.
	heldDir   string
	heldTTL   time.Duration
	heldLocks heldLocks
	// lists shares a record's listing among the callers of the moment.
	lists listings
	// sends holds the ids of the held uploads this process is sending,
	// which no listing may take for a crash's leftovers (sending.go).
	sends sync.Map
	noMD5 bool
}

var _ upstream.Store = (*Store)(nil)

// New connects nothing yet: connections are made per request.
func New(opts Options) (*Store, error) {
	if opts.Speaker == nil {
		return nil, fmt.Errorf("remote store: no dialect to speak")
	}
	to := opts.Timeouts.orDefaults()
	t, err := newTransport(opts.URL, opts.Speaker, opts.Token, to)
	if err != nil {
		return nil, err
	}
	spoolDir := filepath.Join(opts.DataDir, "upstream-spool")
	// Spooled uploads never outlive their request: whatever is left was
	// cut short by a crash.
	if err := os.RemoveAll(spoolDir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", spoolDir, err)
	}
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", spoolDir, err)
	}
	heldDir := filepath.Join(opts.DataDir, "upstream-held")
	if err := os.MkdirAll(heldDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", heldDir, err)
	}
	ids, err := openIDMap(filepath.Join(opts.DataDir, "upstream-ids.db"))
	if err != nil {
		return nil, err
	}
	recs, err := openRecordIDs(ids.db)
	if err != nil {
		ids.close()
		return nil, fmt.Errorf("open record id map: %w", err)
	}
	s := &Store{sp: opts.Speaker, t: t, ids: ids, recs: recs, spoolDir: spoolDir, heldDir: heldDir, heldTTL: opts.HeldTTL,
		noMD5: opts.NoMD5}
	if err := s.removeStrayHeld(); err != nil {
		ids.close()
		return nil, err
	}
	s.sweepHeld()
	return s, nil
}

// Close releases the id map and the pooled connections.
func (s *Store) Close() error {
	s.t.pool.close()
	return s.ids.close()
}

// Ping checks nothing remote: a gateway is ready when its own state is.
func (s *Store) Ping(context.Context) error { return nil }

// call renders and sends one request and parses its JSON answer, with
// the records in it named as the upstream names them (recordids.go).
func (s *Store) call(ctx context.Context, rt *translate.Route, t *translate.Target) (*translate.Parsed, error) {
	t = s.outgoing(t)
	req, err := rt.Render(t)
	if err != nil {
		return nil, err
	}
	resp, err := s.t.do(ctx, s.t.rendered(req))
	if err != nil {
		return nil, err
	}
	if resp.status >= 300 {
		return nil, s.answerError(ctx, rt, resp)
	}
	body, err := resp.readAll(ctx, maxAnswer)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &translate.Parsed{}, nil
	}
	p, err := rt.Parse(body, t)
	if err != nil {
		return nil, err
	}
	s.incoming(p)
	return p, nil
}

// answerError reads an error answer into a canonical error.
func (s *Store) answerError(ctx context.Context, rt *translate.Route, resp *response) error {
	body, err := resp.readAll(ctx, maxErrorAnswer)
	if err != nil && ctx.Err() != nil {
		return err
	}
	return rt.ParseError(resp.status, resp.header, body)
}

func (s *Store) unsupported(format string, args ...any) error {
	return upstream.Errorf(upstream.KindUnsupported, "the upstream dialect %s cannot %s", s.sp.Dialect(), fmt.Sprintf(format, args...))
}

// target addresses a known upstream object.
func (s *Store) target(r ref) *translate.Target {
	return &translate.Target{Record: r.Record, Field: r.Field, Name: r.Name, NativeID: r.NativeID, Size: -1}
}

func notFound() error { return upstream.Errorf(upstream.KindNotFound, "attachment not found") }
