package bundled

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// What can be wrong with an attachment's blob.
const (
	// ProblemMissing: the metadata says there is content, and no blob file.
	ProblemMissing = "missing"
	// ProblemCorrupt: the blob's size or sha256 differs from the metadata's.
	ProblemCorrupt = "corrupt"
)

// Problem is one attachment whose blob is not what its metadata says.
type Problem struct {
	ID     string             `json:"id"`
	Record upstream.RecordRef `json:"record"`
	Name   string             `json:"name"`
	Kind   string             `json:"kind"` // ProblemMissing or ProblemCorrupt
	Detail string             `json:"detail"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s %s (%s/%s %q): %s", p.Kind, p.ID, p.Record.Collection, p.Record.ID, p.Name, p.Detail)
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	// Checked counts the attachments whose blob was read; Bytes their sizes.
	Checked  int       `json:"checked"`
	Bytes    int64     `json:"bytes"`
	Problems []Problem `json:"problems"`
}

// Verify reads every blob the metadata names and checks it: a complete
// attachment's blob must have its size and sha256, a partial one's at
// least its committed size. It reports each problem to found as it goes
// (found may be nil) and all of them in the report. It may run while the
// store serves: it checks the attachments of one snapshot, and blobs
// deleted meanwhile stay until it is done. A run with no problems clears
// what Ready reports; one with problems replaces it.
func (s *Store) Verify(ctx context.Context, found func(Problem)) (VerifyReport, error) {
	release := s.holds.hold()
	defer release()
	list, err := s.snapshotBlobs(nil)
	if err != nil {
		return VerifyReport{}, err
	}
	var rep VerifyReport
	buf := make([]byte, copyBufferSize)
	for _, b := range list {
		if err := ctx.Err(); err != nil {
			return rep, ctxError(err)
		}
		p, err := s.checkBlob(b, buf)
		if err != nil {
			return rep, err
		}
		rep.Checked++
		rep.Bytes += b.size
		if p != nil {
			rep.Problems = append(rep.Problems, *p)
			if found != nil {
				found(*p)
			}
		}
	}
	s.damage.replace(rep.Problems)
	return rep, nil
}

// storedBlob is one blob a snapshot of the metadata names.
type storedBlob struct {
	att upstream.Attachment
	// size is the bytes the blob must hold: the content's size, or for a
	// partial what has been committed so far.
	size    int64
	partial bool
}

// snapshotBlobs lists the blobs the metadata names, in id order, in one
// read transaction; also, when tx is given, in that one.
func (s *Store) snapshotBlobs(tx *bolt.Tx) ([]storedBlob, error) {
	if tx == nil {
		var list []storedBlob
		err := s.db.View(func(tx *bolt.Tx) (err error) {
			list, err = s.snapshotBlobs(tx)
			return err
		})
		return list, err
	}
	m := metaOf(tx)
	var list []storedBlob
	err := m.atts().ForEach(func(k, v []byte) error {
		id := string(k)
		a, _, err := m.decode(id, v)
		if err != nil {
			return err
		}
		_, partial, err := m.expected(id)
		if err != nil {
			return err
		}
		if (a.HasContent || partial) && upstream.ValidID(id) {
			list = append(list, storedBlob{att: a, size: a.Size, partial: partial})
		}
		return nil
	})
	if err != nil {
		return nil, classify(err, "list blobs")
	}
	return list, nil
}

// checkBlob reads b's blob through sha256 (a partial's only for its size).
// A nil Problem means it is sound.
func (s *Store) checkBlob(b storedBlob, buf []byte) (*Problem, error) {
	problem := func(kind, format string, a ...any) *Problem {
		return &Problem{ID: b.att.ID, Record: b.att.Record, Name: b.att.Name, Kind: kind, Detail: fmt.Sprintf(format, a...)}
	}
	path := s.blobPath(b.att.ID)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return problem(ProblemMissing, "no file %s", path), nil
	}
	if err != nil {
		return nil, classify(err, "verify "+b.att.ID)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, classify(err, "verify "+b.att.ID)
	}
	if b.partial {
		if fi.Size() < b.size {
			return problem(ProblemCorrupt, "partial upload holds %d bytes, %d committed", fi.Size(), b.size), nil
		}
		return nil, nil
	}
	if fi.Size() != b.size {
		return problem(ProblemCorrupt, "%d bytes, want %d", fi.Size(), b.size), nil
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return nil, classify(err, "verify "+b.att.ID)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != b.att.SHA256 {
		return problem(ProblemCorrupt, "sha256 %s, want %s", got, b.att.SHA256), nil
	}
	return nil, nil
}

// checkPresence is Open's quick look: every blob the metadata names
// exists with at least (complete: exactly) its size. Hashing is Verify's.
func (s *Store) checkPresence() error {
	list, err := s.snapshotBlobs(nil)
	if err != nil {
		return err
	}
	var problems []Problem
	for _, b := range list {
		path := s.blobPath(b.att.ID)
		fi, err := os.Stat(path)
		p := Problem{ID: b.att.ID, Record: b.att.Record, Name: b.att.Name}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.Kind, p.Detail = ProblemMissing, "no file "+path
		case err != nil:
			return fmt.Errorf("check blob %s: %w", b.att.ID, err)
		case b.partial && fi.Size() < b.size, !b.partial && fi.Size() != b.size:
			p.Kind, p.Detail = ProblemCorrupt, fmt.Sprintf("%d bytes, want %d", fi.Size(), b.size)
		default:
			continue
		}
		problems = append(problems, p)
	}
	s.damage.replace(problems)
	return nil
}

// missingBlob is openBlob's answer to a missing file: not found if the
// attachment is gone (a delete raced the read), else the data dir lost the
// blob, which Ready then reports.
func (s *Store) missingBlob(ctx context.Context, id string) error {
	a, err := s.Stat(ctx, id)
	if err != nil {
		return err
	}
	if !a.HasContent {
		return errAttachmentNotFound()
	}
	p := Problem{ID: id, Record: a.Record, Name: a.Name, Kind: ProblemMissing, Detail: "no file " + s.blobPath(id)}
	s.damage.add(p)
	return upstream.Wrap(upstream.KindInternal, fmt.Errorf("read %s: blob lost from the data dir (run dragoman verify): %s", id, p.Detail),
		"the stored content is missing")
}

// Readiness is the store's state, for /readyz.
type Readiness struct {
	Schema uint64 `json:"schema"`
	// Damaged counts the attachments whose blob is missing or corrupt, as
	// Open, reads and the last Verify found; Problems shows the first few.
	Damaged  int       `json:"damaged"`
	Problems []Problem `json:"problems,omitempty"`
}

// Ready reports whether the store is usable (err, as Ping) and what it
// knows to be damaged.
func (s *Store) Ready(ctx context.Context) (Readiness, error) {
	n, first := s.damage.state()
	return Readiness{Schema: SchemaVersion, Damaged: n, Problems: first}, s.Ping(ctx)
}

// damageShown bounds the problems Readiness carries.
const damageShown = 10

// damageLog is the set of attachments known to be damaged, by id.
type damageLog struct {
	mu   sync.Mutex
	byID map[string]Problem
}

func (d *damageLog) add(p Problem) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byID == nil {
		d.byID = map[string]Problem{}
	}
	d.byID[p.ID] = p
}

func (d *damageLog) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byID, id)
}

func (d *damageLog) replace(ps []Problem) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byID = make(map[string]Problem, len(ps))
	for _, p := range ps {
		d.byID[p.ID] = p
	}
}

// state returns how many are damaged and up to damageShown of them.
func (d *damageLog) state() (int, []Problem) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := slices.Sorted(maps.Keys(d.byID))
	var first []Problem
	for _, id := range ids[:min(len(ids), damageShown)] {
		first = append(first, d.byID[id])
	}
	return len(ids), first
}
