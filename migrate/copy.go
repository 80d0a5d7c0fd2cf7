package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync/atomic"

	"github.com/dragoman-gw/dragoman/upstream"
)

// copyBufferSize is what each copy streams through: memory per file is
// two of these (a read-back reads one while it hashes the other), whatever
// the file's size.
const copyBufferSize = 256 << 10

// copy copies one file, verifies it, and counts it. A try that fails for a
// reason that may pass is made again, but only after looking whether the
// failed try landed after all (a create whose answer was lost).
func (m *migration) copy(ctx context.Context, j job) {
	a := j.src
	defer j.rs.lockName(a.Name)()
	var lastErr error
	var srcSum string
	for attempt := 0; attempt < m.Retry.Attempts; attempt++ {
		if attempt > 0 {
			if m.Retry.wait(ctx, attempt-1) != nil {
				break
			}
			if d, ok := m.landed(ctx, j, srcSum); ok {
				m.check(ctx, j, d, srcSum)
				return
			}
		}
		d, sum, err := m.copyOnce(ctx, j)
		if sum != "" {
			srcSum = sum
		}
		if err == nil {
			j.rs.made(d)
			m.check(ctx, j, d, srcSum)
			return
		}
		lastErr = err
		if !transient(err) || ctx.Err() != nil {
			break
		}
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	m.t.failed(j.rs.rec, a.Name, lastErr)
}

// landed looks for a copy of j's file that an earlier try made although it
// failed; it needs the source's sha256 to know the copy.
func (m *migration) landed(ctx context.Context, j job, srcSum string) (upstream.Attachment, bool) {
	if srcSum == "" && j.src.HasContent {
		return upstream.Attachment{}, false
	}
	list, err := m.To.List(ctx, j.rs.rec)
	if err != nil {
		return upstream.Attachment{}, false
	}
	j.rs.mu.Lock()
	j.rs.dst = list
	j.rs.mu.Unlock()
	for _, d := range j.rs.candidates(j.src) {
		if d.Size == j.src.Size && (d.SHA256 == srcSum || d.SHA256 == "") && j.rs.claim(d.ID) {
			return d, true
		}
	}
	return upstream.Attachment{}, false
}

// copyOnce streams the file from the source into a new file at the
// destination, and returns the new file and the sha256 of the bytes read.
func (m *migration) copyOnce(ctx context.Context, j job) (upstream.Attachment, string, error) {
	a := j.src
	na := upstream.NewAttachment{Record: j.rs.rec, Field: a.Field, Name: a.Name, Type: a.Type, Tags: a.Tags,
		Title: a.Title, Description: a.Description, Category: a.Category, Status: a.Status,
		ExternalID: a.ExternalID, Owner: a.Owner}
	create := func(content io.Reader) (upstream.Attachment, error) { return m.To.Create(ctx, na, content) }
	if lc, ok := m.To.(upstream.ListedCreator); ok {
		// The record was listed when its copy began, and every file made
		// since is in listed: no listing per file.
		listed := j.rs.listed()
		create = func(content io.Reader) (upstream.Attachment, error) { return lc.CreateListed(ctx, na, content, listed) }
	}
	if !a.HasContent {
		d, err := create(nil)
		if err != nil {
			return d, "", fmt.Errorf("create at the destination: %w", err)
		}
		return d, "", nil
	}
	var content upstream.Content
	err := m.Retry.do(ctx, func() (err error) { _, content, err = openListed(ctx, m.From, a); return err })
	if err != nil {
		return upstream.Attachment{}, "", fmt.Errorf("read at the source: %w", err)
	}
	defer content.Close()
	hr := &hashingReader{r: content, h: sha256.New(), p: m.Progress}
	d, err := create(hr)
	if m.Progress != nil && err != nil {
		m.Progress.BytesDone.Add(-hr.n.Load()) // counted again by the next try
	}
	if err == nil && !hr.eof {
		// A destination may stop at the size it was told without reading
		// the end; whatever is left must be nothing.
		if n, _ := hr.Read(make([]byte, 1)); n > 0 {
			m.drop(ctx, j.rs, d)
			return upstream.Attachment{}, "", fmt.Errorf("write at the destination: it stopped reading before the end")
		}
	}
	sum := ""
	if hr.eof {
		// Known even when the create failed: a later try needs it to
		// recognise a copy that landed although its answer was lost.
		sum = hex.EncodeToString(hr.h.Sum(nil))
	}
	if err != nil {
		if hr.err != nil {
			return d, sum, fmt.Errorf("read at the source: %w", hr.err)
		}
		return d, sum, fmt.Errorf("write at the destination: %w", err)
	}
	return d, sum, nil
}

// check verifies a new copy d of j's file (srcSum is the sha256 of the
// bytes sent) by reading it back, and counts it. A copy that differs is
// deleted, so that the next run copies it again instead of keeping it.
func (m *migration) check(ctx context.Context, j job, d upstream.Attachment, srcSum string) {
	a := j.src
	if !a.HasContent {
		if err := m.verified(j.rs, a, d, "", true); err != nil {
			m.t.failed(j.rs.rec, a.Name, err)
		}
		return
	}
	if a.SHA256 != "" && a.SHA256 != srcSum {
		m.drop(ctx, j.rs, d)
		m.t.mismatched(j.rs.rec, a.Name, fmt.Sprintf("the source's bytes have sha256 %s, its metadata says %s", srcSum, a.SHA256))
		return
	}
	dstSum, err := m.sumOf(ctx, m.To, d)
	if err != nil {
		m.drop(ctx, j.rs, d)
		m.t.failed(j.rs.rec, a.Name, fmt.Errorf("read back from the destination: %w", err))
		return
	}
	if dstSum != srcSum {
		m.drop(ctx, j.rs, d)
		m.t.mismatched(j.rs.rec, a.Name, fmt.Sprintf("sent sha256 %s, the destination gives back %s", srcSum, dstSum))
		return
	}
	if err := m.verified(j.rs, a, d, srcSum, true); err != nil {
		m.t.failed(j.rs.rec, a.Name, err)
	}
}

// drop deletes a copy that failed its check; a delete that fails leaves
// it for reconcile to find.
func (m *migration) drop(ctx context.Context, rs *recordState, d upstream.Attachment) {
	rs.dropped(d.ID)
	_ = m.Retry.do(ctx, func() error {
		err := m.To.Delete(ctx, d.ID)
		if upstream.IsKind(err, upstream.KindNotFound) {
			return nil
		}
		return err
	})
}

// sumOf reads a file of s whole and returns its sha256.
func (m *migration) sumOf(ctx context.Context, s upstream.Store, a upstream.Attachment) (string, error) {
	var sum string
	err := m.Retry.do(ctx, func() error {
		_, c, err := openListed(ctx, s, a)
		if err != nil {
			return err
		}
		defer c.Close()
		h := sha256.New()
		if err := hashWhileReading(h, c); err != nil {
			return upstream.Wrap(upstream.KindBadGateway, err, "read failed midway")
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return sum, err
}

// hashWhileReading writes all of r to h, reading the next buffer while h
// hashes the last: a read-back is the socket's copy and sha256, and in
// series a 1 GiB one took the time of both. The hashing goroutine is owned
// here and has stopped when it returns.
func hashWhileReading(h hash.Hash, r io.Reader) error {
	const depth = 2
	type piece struct {
		buf *[copyBufferSize]byte
		n   int
	}
	// The second buffer is made only for a file larger than the first:
	// most files of a migration fit in one.
	free, full := make(chan piece, depth), make(chan piece, depth)
	made := 0
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for p := range full {
			h.Write(p.buf[:p.n]) // a hash.Hash never fails
			free <- p
		}
	}()
	var err error
	for err == nil {
		var p piece
		select {
		case p = <-free:
		default:
			if made < depth {
				p, made = piece{buf: new([copyBufferSize]byte)}, made+1
			} else {
				p = <-free
			}
		}
		p.n = 0
		// Filled whole: a body arrives in pieces of a few KiB, too small
		// to hand over one by one. Not io.ReadFull, which would make a
		// body cut short (io.ErrUnexpectedEOF from r) look like its end.
		for p.n < len(p.buf) && err == nil {
			var m int
			m, err = r.Read(p.buf[p.n:])
			p.n += m
		}
		if p.n > 0 {
			full <- p
		}
	}
	close(full)
	<-hashed
	if err == io.EOF {
		return nil
	}
	return err
}

// openListed opens a, which the migration has just listed or created,
// without the look-up that costs some stores a listing of its record.
func openListed(ctx context.Context, s upstream.Store, a upstream.Attachment) (upstream.Attachment, upstream.Content, error) {
	if lo, ok := s.(upstream.ListedOpener); ok {
		return lo.OpenListed(ctx, a)
	}
	return s.Open(ctx, a.ID)
}

// hashingReader hashes and counts what the destination reads. A store
// that records the sha256 of what it reads takes this one
// (upstream.SHA256Reader) rather than hashing the copy a second time.
type hashingReader struct {
	r   io.Reader
	h   hash.Hash
	n   atomic.Int64
	p   *Progress
	err error
	eof bool
}

// SHA256 is the sha256 of what Read has returned so far.
func (r *hashingReader) SHA256() []byte { return r.h.Sum(nil) }

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.h.Write(p[:n])
		r.n.Add(int64(n))
		if r.p != nil {
			r.p.BytesDone.Add(int64(n))
		}
	}
	switch {
	case err == io.EOF:
		r.eof = true
	case err != nil:
		r.err = err
	}
	return n, err
}
