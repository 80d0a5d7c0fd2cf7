package translate

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/dragoman-gw/dragoman/upstream"
)

// recordingStore passes every call to a store and writes it down as one
// line in canonical terms, for the operations section of a golden file:
//
//	Create {record: t1/r1, field: contracts, name: a.pdf, type: application/pdf, owner: tester, replace: false, max: 10485760} 9 bytes
//	List t1/r1
//	Stat 0000000000000001 -> not_found
//
// A call that fails ends in "-> kind". Create counts the bytes the store
// read from the content.
type recordingStore struct {
	inner upstream.Store
	mu    sync.Mutex
	ops   []string
}

var _ upstream.Store = (*recordingStore)(nil)

func (s *recordingStore) note(err error, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if err != nil {
		line += " -> " + string(upstream.KindOf(err))
	}
	s.mu.Lock()
	s.ops = append(s.ops, line)
	s.mu.Unlock()
}

// take returns the calls noted so far and forgets them.
func (s *recordingStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.ops
	s.ops = nil
	return ops
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *recordingStore) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	var cr *countingReader
	if content != nil {
		cr = &countingReader{r: content}
		content = cr
	}
	a, err := s.inner.Create(ctx, na, content)
	read := "placeholder"
	if cr != nil {
		read = fmt.Sprintf("%d bytes", cr.n)
	}
	s.note(err, "Create {%s} %s", describeNew(na), read)
	return a, err
}

func describeNew(na upstream.NewAttachment) string {
	parts := []string{
		"record: " + opRef(na.Record), "field: " + opStr(na.Field), "name: " + opStr(na.Name),
		"type: " + opStr(na.Type), "owner: " + opStr(na.Owner), "replace: " + strconv.FormatBool(na.ReplaceSameName),
	}
	if na.MaxSize != 0 {
		parts = append(parts, "max: "+strconv.FormatInt(na.MaxSize, 10))
	}
	if len(na.Tags) > 0 {
		parts = append(parts, "tags: "+opStrs(na.Tags))
	}
	for _, kv := range [][2]string{{"title", na.Title}, {"description", na.Description}, {"category", na.Category},
		{"status", na.Status}, {"external_id", na.ExternalID}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+opStr(kv[1]))
		}
	}
	return strings.Join(parts, ", ")
}

func (s *recordingStore) Stat(ctx context.Context, id string) (upstream.Attachment, error) {
	a, err := s.inner.Stat(ctx, id)
	s.note(err, "Stat %s", opStr(id))
	return a, err
}

func (s *recordingStore) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	a, c, err := s.inner.Open(ctx, id)
	s.note(err, "Open %s", opStr(id))
	return a, c, err
}

func (s *recordingStore) Delete(ctx context.Context, id string) error {
	err := s.inner.Delete(ctx, id)
	s.note(err, "Delete %s", opStr(id))
	return err
}

func (s *recordingStore) List(ctx context.Context, rec upstream.RecordRef) ([]upstream.Attachment, error) {
	atts, err := s.inner.List(ctx, rec)
	s.note(err, "List %s", opRef(rec))
	return atts, err
}

func (s *recordingStore) GetRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, error) {
	r, err := s.inner.GetRecord(ctx, rec)
	s.note(err, "GetRecord %s", opRef(rec))
	return r, err
}

func (s *recordingStore) UpdateRecord(ctx context.Context, rec upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	r, err := s.inner.UpdateRecord(ctx, rec, u)
	data := "none"
	if u.Data != nil {
		data = string(u.Data)
	}
	var fields []string
	for _, f := range slices.Sorted(maps.Keys(u.Fields)) {
		fields = append(fields, opStr(f)+": "+opStrs(u.Fields[f]))
	}
	s.note(err, "UpdateRecord %s {data: %s, fields: {%s}}", opRef(rec), data, strings.Join(fields, ", "))
	return r, err
}

func (s *recordingStore) Close() error { return s.inner.Close() }

func opRef(r upstream.RecordRef) string { return opStr(r.Collection) + "/" + opStr(r.ID) }

func opStrs(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = opStr(x)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// opStr writes a value bare when that is unambiguous, quoted otherwise.
func opStr(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || unicode.IsSpace(r) || strings.ContainsRune(`,{}[]"\`, r)
	}) {
		return strconv.Quote(s)
	}
	return s
}
