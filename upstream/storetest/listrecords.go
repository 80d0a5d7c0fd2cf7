package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// testListRecords checks a RecordLister's pages: every record of the
// collection in id order with its files as List gives them, offset and
// limit, the total, and a filter on record data.
func testListRecords(t *testing.T, s upstream.Store, o Options) {
	rl, ok := s.(upstream.RecordLister)
	if !ok {
		t.Skipf("store %T does not implement upstream.RecordLister", s)
	}
	ctx := context.Background()
	r1, r2, r3 := o.ref("list-1"), o.ref("list-2"), o.ref("list-3")
	// Made out of id order, so the order listed is the store's doing.
	create(t, s, r3, "files", "c.txt", []byte("see"))
	create(t, s, r1, "files", "a.txt", []byte("ay"))
	create(t, s, r1, "docs", "b.txt", []byte("bee"))
	update(t, s, r1, upstream.RecordUpdate{Data: []byte(`{"kind":"report","n":1}`)})
	create(t, s, r2, "files", "d.txt", []byte("dee"))
	update(t, s, r2, upstream.RecordUpdate{Data: []byte(`{"kind":"memo","n":2}`)})

	tests := []struct {
		name      string
		q         upstream.RecordQuery
		want      []upstream.RecordRef
		wantTotal int
	}{
		{"all", upstream.RecordQuery{}, []upstream.RecordRef{r1, r2, r3}, 3},
		{"a page", upstream.RecordQuery{Offset: 1, Limit: 1}, []upstream.RecordRef{r2}, 3},
		{"past the end", upstream.RecordQuery{Offset: 5}, nil, 3},
		{"a string value", upstream.RecordQuery{Equals: map[string]string{"kind": "memo"}}, []upstream.RecordRef{r2}, 1},
		{"a number's text", upstream.RecordQuery{Equals: map[string]string{"n": "1"}}, []upstream.RecordRef{r1}, 1},
		{"no match", upstream.RecordQuery{Equals: map[string]string{"kind": "none"}}, nil, 0},
		{"a filtered page", upstream.RecordQuery{Equals: map[string]string{"kind": "memo"}, Offset: 1}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := rl.ListRecords(ctx, o.collection(), tt.q)
			if err != nil {
				t.Fatalf("ListRecords: %v", err)
			}
			if total != tt.wantTotal {
				t.Errorf("total %d, want %d", total, tt.wantTotal)
			}
			var refs []upstream.RecordRef
			for _, e := range got {
				refs = append(refs, e.Record.Ref)
			}
			if !slices.Equal(refs, tt.want) {
				t.Fatalf("listed %v, want %v", refs, tt.want)
			}
			for _, e := range got {
				want, err := s.GetRecord(ctx, e.Record.Ref)
				if err != nil {
					t.Fatalf("GetRecord %s: %v", e.Record.Ref.ID, err)
				}
				if string(e.Record.Data) != string(want.Data) {
					t.Errorf("record %s listed with data %s, GetRecord has %s", e.Record.Ref.ID, e.Record.Data, want.Data)
				}
				listed := list(t, s, e.Record.Ref)
				if len(e.Files) != len(listed) {
					t.Fatalf("record %s listed with %d files, List has %d", e.Record.Ref.ID, len(e.Files), len(listed))
				}
				for i := range listed {
					sameAttachment(t, e.Files[i], listed[i])
				}
			}
		})
	}

	got, total, err := rl.ListRecords(ctx, "never-written", upstream.RecordQuery{})
	if err != nil || len(got) != 0 || total != 0 {
		t.Fatalf("ListRecords of an unknown collection: %d records, total %d, %v; want none", len(got), total, err)
	}
	_, _, err = rl.ListRecords(ctx, o.collection(), upstream.RecordQuery{Offset: -1})
	wantKind(t, err, upstream.KindInvalid, "ListRecords with a negative offset")
}
