package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dragoman-gw/dragoman/upstream"
)

// List is the primary's, shadowed.
func (s *Store) List(ctx context.Context, rec upstream.RecordRef) ([]upstream.Attachment, error) {
	list, err := s.Store.List(ctx, rec)
	s.shadowList(ctx, OpList, rec, list, err)
	return list, err
}

// ReadRecord is the primary's (GetRecord and List where it has no
// ReadRecord), shadowed by comparing the record's files.
func (s *Store) ReadRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, []upstream.Attachment, error) {
	var r upstream.Record
	var list []upstream.Attachment
	var err error
	if rr, ok := s.Store.(upstream.RecordReader); ok {
		r, list, err = rr.ReadRecord(ctx, rec)
	} else if r, err = s.Store.GetRecord(ctx, rec); err == nil {
		list, err = s.Store.List(ctx, rec)
	}
	s.shadowList(ctx, OpRecord, rec, list, err)
	return r, list, err
}

// GetRecord is the primary's, shadowed by comparing whether the record
// exists on both sides (the record data a dialect carries differs from one
// to the next, so it is not compared).
func (s *Store) GetRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, error) {
	r, err := s.Store.GetRecord(ctx, rec)
	if s.shadowable(err) && s.quiet(rec) {
		found := err == nil
		rid := s.requestID(ctx)
		s.submit(OpRecord, func(ctx context.Context) (string, error) {
			_, merr := s.mirror.GetRecord(ctx, rec)
			if merr != nil && !upstream.IsKind(merr, upstream.KindNotFound) {
				return "", merr
			}
			if mfound := merr == nil; mfound != found {
				return fmt.Sprintf("record %s: found at the primary %v, at the mirror %v", recName(rec), found, mfound), nil
			}
			return "", nil
		}, rid)
	}
	return r, err
}

// Open is the primary's; after it answers, the mirror's copy of the file
// is read and its sha256 compared with the primary's.
func (s *Store) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	a, c, err := s.Store.Open(ctx, id)
	if err == nil && s.shadowJobs != nil && a.HasContent && s.quiet(a.Record) {
		rid := s.requestID(ctx)
		s.submit(OpDownload, func(ctx context.Context) (string, error) { return s.compareDownload(ctx, a) }, rid)
	}
	return a, c, err
}

func (s *Store) compareDownload(ctx context.Context, a upstream.Attachment) (string, error) {
	var d upstream.Attachment
	found := false
	if s.q != nil {
		if mid, ok := s.q.mirrorID(a.ID); ok {
			d, found = upstream.Attachment{ID: mid}, true
		}
	}
	if !found {
		list, err := s.mirror.List(ctx, a.Record)
		if err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
			return "", err
		}
		for _, m := range list {
			if m.Field == a.Field && m.Name == a.Name && m.Size == a.Size {
				d, found = m, true
				break
			}
		}
	}
	what := fmt.Sprintf("%s %s/%s", recName(a.Record), a.Field, a.Name)
	if !found {
		return what + ": missing at the mirror", nil
	}
	want := a.SHA256
	if want == "" {
		sum, err := sumOf(ctx, s.Store, a.ID)
		if err != nil {
			return "", err
		}
		want = sum
	}
	got, err := sumOf(ctx, s.mirror, d.ID)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return what + ": missing at the mirror", nil
	}
	if err != nil {
		return "", err
	}
	if got != want {
		return fmt.Sprintf("%s: sha256 %s at the primary, %s at the mirror", what, want, got), nil
	}
	return "", nil
}

// sumOf reads a file whole and returns its sha256.
func sumOf(ctx context.Context, st upstream.Store, id string) (string, error) {
	_, c, err := st.Open(ctx, id)
	if err != nil {
		return "", err
	}
	defer c.Close()
	h := sha256.New()
	if _, err := io.Copy(h, struct{ io.Reader }{c}); err != nil {
		return "", upstream.Wrap(upstream.KindBadGateway, err, "read failed midway")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// shadowList compares a listing with the mirror's, after the primary
// answered with list (or with a not-found err).
func (s *Store) shadowList(ctx context.Context, kind string, rec upstream.RecordRef, list []upstream.Attachment, err error) {
	if !s.shadowable(err) || !s.quiet(rec) {
		return
	}
	want := canonical(list)
	found := err == nil
	s.submit(kind, func(ctx context.Context) (string, error) {
		mlist, merr := s.mirror.List(ctx, rec)
		if merr != nil && !upstream.IsKind(merr, upstream.KindNotFound) {
			return "", merr
		}
		if mfound := merr == nil; mfound != found {
			return fmt.Sprintf("record %s: found at the primary %v, at the mirror %v", recName(rec), found, mfound), nil
		}
		return diffFiles(rec, want, canonical(mlist)), nil
	}, s.requestID(ctx))
}

// shadowable reports whether a primary answer is worth comparing: one
// that found something, or found for sure that there is nothing.
func (s *Store) shadowable(err error) bool {
	return s.shadowJobs != nil && (err == nil || upstream.IsKind(err, upstream.KindNotFound))
}

// quiet reports whether rec has no writes still queued for the mirror;
// a record that has is not compared (it would differ for no fault).
func (s *Store) quiet(rec upstream.RecordRef) bool {
	if s.q != nil && s.q.busy(rec) {
		s.shadowSkipped.Add(1)
		return false
	}
	return true
}

func (s *Store) requestID(ctx context.Context) string {
	if s.o.RequestID == nil {
		return ""
	}
	return s.o.RequestID(ctx)
}

// submit hands a comparison to the shadow workers, or drops it when they
// are busy: the client never waits for the mirror.
func (s *Store) submit(kind string, compare func(ctx context.Context) (string, error), requestID string) {
	ops := shadowOps()
	i := slices.Index(ops[:], kind)
	job := func(ctx context.Context) {
		diff, err := compare(ctx)
		if err != nil {
			// A mirror that cannot answer is no difference in the data.
			s.log.Warn("mirror: shadow read failed", "op", kind, "request_id", requestID, "err", err)
			return
		}
		s.compared[i].Add(1)
		if diff != "" {
			s.diffs[i].Add(1)
			s.log.Warn("mirror: shadow read differs", "op", kind, "request_id", requestID, "diff", diff)
		}
	}
	select {
	case s.shadowJobs <- job:
	default:
		s.shadowSkipped.Add(1)
	}
}

// fileKey is what shadow compares of a file: where it is, its name, its
// size and (when known) its sha256. Ids differ from one system to the
// other and are not compared.
type fileKey struct {
	field, name string
	size        int64
	sha256      string
}

func canonical(list []upstream.Attachment) []fileKey {
	out := make([]fileKey, 0, len(list))
	for _, a := range list {
		out = append(out, fileKey{field: a.Field, name: a.Name, size: a.Size, sha256: a.SHA256})
	}
	slices.SortFunc(out, func(a, b fileKey) int {
		if c := strings.Compare(a.field, b.field); c != 0 {
			return c
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return int(a.size - b.size)
	})
	return out
}

// diffFiles describes how two canonical listings differ ("" when they do
// not): a sha256 is compared only where both sides know it.
func diffFiles(rec upstream.RecordRef, a, b []fileKey) string {
	var diffs []string
	used := make([]bool, len(b))
	for _, x := range a {
		match := -1
		for j, y := range b {
			if !used[j] && x.field == y.field && x.name == y.name && x.size == y.size {
				match = j
				break
			}
		}
		if match < 0 {
			diffs = append(diffs, fmt.Sprintf("%s/%s (%d bytes) missing at the mirror", x.field, x.name, x.size))
			continue
		}
		used[match] = true
		if y := b[match]; x.sha256 != "" && y.sha256 != "" && x.sha256 != y.sha256 {
			diffs = append(diffs, fmt.Sprintf("%s/%s differs in sha256", x.field, x.name))
		}
	}
	for j, y := range b {
		if !used[j] {
			diffs = append(diffs, fmt.Sprintf("%s/%s (%d bytes) only at the mirror", y.field, y.name, y.size))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return "record " + recName(rec) + ": " + strings.Join(diffs, "; ")
}

func recName(rec upstream.RecordRef) string { return rec.Collection + "/" + rec.ID }
