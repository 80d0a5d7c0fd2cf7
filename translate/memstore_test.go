package translate

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/storetest"
)

// memStore is an in-memory upstream.Store for the translate tests. Ids are
// a counter rendered as 16 hex digits (0000000000000001, ...) and every
// time is memClock, so golden files come out the same on every run. It
// follows the Store contract (unlinked attachments and Finish included);
// TestMemStoreConformance proves it. It has none of the optional
// capabilities (Appender, UnlinkedExpirer), so routes that need them answer
// "not supported".
type memStore struct {
	mu   sync.Mutex
	last uint64
	atts map[string]*memAttachment
	recs map[upstream.RecordRef]*upstream.Record
}

type memAttachment struct {
	a       upstream.Attachment
	content []byte // never changed once stored, so readers may share it
}

// memClock is the store's only time.
var memClock = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

var _ upstream.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{atts: map[string]*memAttachment{}, recs: map[upstream.RecordRef]*upstream.Record{}}
}

func TestMemStoreConformance(t *testing.T) {
	// The test double implements only the required Store methods.
	storetest.Run(t, func(*testing.T) upstream.Store { return newMemStore() }, storetest.Options{Skips: []string{
		"AppendChunks", "AppendConcurrent", "AppendMoved", "AppendOver", "AppendRefused", "AppendUnlinked",
		"ExpireUnlinked", "ListNamed", "ListRecords", "OpenListed", "ReadRecord"}})
}

func (s *memStore) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	if err := checkNew(na); err != nil {
		return upstream.Attachment{}, err
	}
	if na.MaxSize < 0 {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindInvalid, "negative size cap")
	}
	if err := ctx.Err(); err != nil {
		return upstream.Attachment{}, memCtxError(err)
	}
	var a upstream.Attachment
	var data []byte
	if content != nil {
		var err error
		if data, err = readCapped(ctx, content, na.MaxSize); err != nil {
			return upstream.Attachment{}, err
		}
		sum, md := sha256.Sum256(data), md5.Sum(data)
		a.Size, a.SHA256, a.MD5, a.HasContent = int64(len(data)), hex.EncodeToString(sum[:]), hex.EncodeToString(md[:]), true
	}
	if na.Finish != nil {
		// Metadata that arrived after the bytes.
		if err := na.Finish(&na); err != nil {
			return upstream.Attachment{}, err
		}
		if err := checkNew(na); err != nil {
			return upstream.Attachment{}, err
		}
	}
	a.Record, a.Field, a.Name, a.Type, a.Tags = na.Record, cmp.Or(na.Field, upstream.DefaultField), na.Name, na.Type, slices.Clone(na.Tags)
	a.Title, a.Description, a.Category, a.Status, a.ExternalID, a.Owner = na.Title, na.Description, na.Category, na.Status, na.ExternalID, na.Owner

	s.mu.Lock()
	defer s.mu.Unlock()
	s.last++
	a.ID = fmt.Sprintf("%016x", s.last)
	a.Created, a.Modified = memClock, memClock
	if a.Record.ID != "" { // an empty record id: unlinked until UpdateRecord lists it
		s.touch(a.Record)
		replaced := ""
		for id, m := range s.atts {
			if m.a.Record != a.Record || m.a.Field != a.Field {
				continue
			}
			if na.ReplaceSameName && m.a.Name == a.Name && (replaced == "" || m.a.Position > s.atts[replaced].a.Position) {
				replaced = id // the last of the name, which a request by it reaches
			}
			a.Position = max(a.Position, m.a.Position+1)
		}
		delete(s.atts, replaced) // in the same commit: readers see the old or the new
	}
	s.atts[a.ID] = &memAttachment{a: a, content: data}
	return cloneAttachment(a), nil
}

// checkNew refuses what no store can hold: a record id without its
// collection, or a NUL (the bundled store's key separator) in any part.
func checkNew(na upstream.NewAttachment) error {
	if na.Record.ID != "" && na.Record.Collection == "" {
		return upstream.Errorf(upstream.KindMissing, "record collection is required")
	}
	if strings.ContainsRune(na.Record.Collection+na.Record.ID+na.Field, 0) {
		return upstream.Errorf(upstream.KindInvalid, "record and field must not contain NUL")
	}
	return nil
}

// readCapped reads content whole, at most one byte past max (0: no cap),
// and stops at the next read once ctx is done.
func readCapped(ctx context.Context, r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	chunk := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, memCtxError(err)
		}
		p := chunk
		if max > 0 {
			p = chunk[:min(int64(len(chunk)), max-int64(buf.Len())+1)]
		}
		n, err := r.Read(p)
		buf.Write(p[:n])
		if max > 0 && int64(buf.Len()) > max {
			return nil, upstream.Errorf(upstream.KindTooLarge, "content exceeds %d bytes", max)
		}
		switch {
		case err == io.EOF:
			return buf.Bytes(), nil
		case err != nil:
			if _, ok := errors.AsType[*upstream.Error](err); ok {
				return nil, fmt.Errorf("read content: %w", err)
			}
			return nil, upstream.Wrap(upstream.KindInvalid, err, "the content could not be read")
		}
	}
}

func memCtxError(err error) error {
	return upstream.Wrap(upstream.KindTimeout, err, "the request was cancelled")
}

func (s *memStore) Stat(ctx context.Context, id string) (upstream.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.atts[id]
	if !ok {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindNotFound, "attachment not found")
	}
	return cloneAttachment(m.a), nil
}

func (s *memStore) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.atts[id]
	if !ok {
		return upstream.Attachment{}, nil, upstream.Errorf(upstream.KindNotFound, "attachment not found")
	}
	if !m.a.HasContent {
		return upstream.Attachment{}, nil, upstream.Errorf(upstream.KindNotFound, "attachment has no content yet")
	}
	return cloneAttachment(m.a), memContent{bytes.NewReader(m.content)}, nil
}

type memContent struct{ *bytes.Reader }

func (memContent) Close() error { return nil }

func (s *memStore) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.atts[id]
	if !ok {
		return upstream.Errorf(upstream.KindNotFound, "attachment not found")
	}
	delete(s.atts, id)
	if m.a.Record.ID != "" {
		s.touch(m.a.Record)
	}
	return nil
}

func (s *memStore) List(ctx context.Context, ref upstream.RecordRef) ([]upstream.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs[ref] == nil {
		return nil, upstream.Errorf(upstream.KindNotFound, "record not found")
	}
	out := []upstream.Attachment{}
	for _, m := range s.atts {
		if m.a.Record == ref {
			out = append(out, cloneAttachment(m.a))
		}
	}
	slices.SortFunc(out, func(a, b upstream.Attachment) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Position, b.Position))
	})
	return out, nil
}

func (s *memStore) GetRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[ref]
	if r == nil {
		return upstream.Record{}, upstream.Errorf(upstream.KindNotFound, "record not found")
	}
	out := *r
	out.Data = bytes.Clone(r.Data)
	return out, nil
}

func (s *memStore) UpdateRecord(ctx context.Context, ref upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	if ref.Collection == "" || ref.ID == "" {
		return upstream.Record{}, upstream.Errorf(upstream.KindMissing, "record collection and id are required")
	}
	patch, err := parseRecordData(u.Data)
	if err != nil {
		return upstream.Record{}, err
	}
	fields := map[string][]string{}
	seen := map[string]bool{}
	for name, ids := range u.Fields {
		field := cmp.Or(name, upstream.DefaultField)
		if _, dup := fields[field]; dup {
			return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "field %q is given twice", field)
		}
		for _, id := range ids {
			if seen[id] {
				return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "attachment %s is listed twice", id)
			}
			seen[id] = true
		}
		fields[field] = ids
	}
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, memCtxError(err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range seen {
		if s.atts[id] == nil {
			return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", id)
		}
	}
	rec := s.touch(ref)
	if patch != nil {
		merged := map[string]json.RawMessage{}
		if len(rec.Data) > 0 {
			if err := json.Unmarshal(rec.Data, &merged); err != nil {
				return upstream.Record{}, upstream.Wrap(upstream.KindInternal, err, "stored record data is corrupt")
			}
		}
		maps.Copy(merged, patch)
		rec.Data, _ = json.Marshal(merged)
	}
	for field, ids := range fields {
		for id, m := range s.atts {
			if m.a.Record == ref && m.a.Field == field && !slices.Contains(ids, id) {
				delete(s.atts, id)
			}
		}
	}
	for field, ids := range fields {
		for i, id := range ids {
			a := &s.atts[id].a
			if a.Record != ref && a.Record.ID != "" {
				s.touch(a.Record) // losing a file changes a record; linking an unlinked one writes none
			}
			a.Record, a.Field, a.Position, a.Modified = ref, field, int64(i), memClock
		}
	}
	out := *rec
	out.Data = bytes.Clone(rec.Data)
	return out, nil
}

// parseRecordData reads an update's data: nil, empty or null changes
// nothing; anything but a JSON object is invalid.
func parseRecordData(raw json.RawMessage) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	var patch map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &patch) != nil {
		return nil, upstream.Errorf(upstream.KindInvalid, "record data must be a JSON object")
	}
	return patch, nil
}

func (s *memStore) Close() error { return nil }

// touch marks a record written, creating it on first write. s.mu is held.
func (s *memStore) touch(ref upstream.RecordRef) *upstream.Record {
	r := s.recs[ref]
	if r == nil {
		r = &upstream.Record{Ref: ref, Created: memClock}
		s.recs[ref] = r
	}
	r.Modified = memClock
	return r
}

func cloneAttachment(a upstream.Attachment) upstream.Attachment {
	a.Tags = slices.Clone(a.Tags)
	return a
}
