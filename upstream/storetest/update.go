package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// update calls UpdateRecord, skipping when the store cannot and failing the
// test on any other error.
func update(t *testing.T, s upstream.Store, rec upstream.RecordRef, u upstream.RecordUpdate) upstream.Record {
	t.Helper()
	r, err := s.UpdateRecord(context.Background(), rec, u)
	skipUnsupported(t, err, "UpdateRecord")
	if err != nil {
		t.Fatalf("UpdateRecord: %v", err)
	}
	return r
}

func fields(kv ...any) map[string][]string {
	m := map[string][]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].([]string)
	}
	return m
}

func testUpdateReorder(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("reorder")
	a := create(t, s, rec, "files", "a", []byte("a"))
	b := create(t, s, rec, "files", "b", []byte("b"))
	c := create(t, s, rec, "files", "c", nil)
	d := create(t, s, rec, "other", "d", []byte("d"))

	update(t, s, rec, upstream.RecordUpdate{Fields: fields("files", []string{c.ID, a.ID, b.ID})})
	got := list(t, s, rec)
	wantIDs(t, got, c.ID, a.ID, b.ID, d.ID)
	wantPositionsIncrease(t, got)
	if got := read(t, s, a.ID); string(got) != "a" {
		t.Fatalf("content of a after reorder: %q", got)
	}
}

func testUpdateMove(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec, from := o.ref("to"), o.ref("from")
	a := create(t, s, rec, "files", "a", []byte("a"))
	g := create(t, s, rec, "other", "g", []byte("g"))
	x := create(t, s, from, "files", "x", []byte("x"))

	// x comes from another record, g from an unnamed field of this one.
	update(t, s, rec, upstream.RecordUpdate{Fields: fields("files", []string{a.ID, x.ID, g.ID})})
	got := list(t, s, rec)
	wantIDs(t, got, a.ID, x.ID, g.ID)
	wantPositionsIncrease(t, got)
	for _, moved := range got {
		if moved.Record != rec || moved.Field != "files" {
			t.Fatalf("listed %s has record %+v field %q; want %+v %q", moved.ID, moved.Record, moved.Field, rec, "files")
		}
	}
	st, err := s.Stat(ctx, x.ID)
	if err != nil {
		t.Fatalf("Stat moved: %v", err)
	}
	if st.Record != rec || st.Field != "files" {
		t.Fatalf("moved attachment: record %+v field %q", st.Record, st.Field)
	}
	if got := read(t, s, x.ID); string(got) != "x" {
		t.Fatalf("moved content %q, want %q", got, "x")
	}
	// The record it left still exists, now empty.
	if left := list(t, s, from); len(left) != 0 {
		t.Fatalf("the record moved from still lists %v", ids(left))
	}
}

func testUpdateDeletesUnlisted(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("prune")
	a := create(t, s, rec, "files", "a", []byte("a"))
	b := create(t, s, rec, "files", "b", []byte("b"))
	c := create(t, s, rec, "files", "c", nil)
	d := create(t, s, rec, "other", "d", []byte("d"))

	update(t, s, rec, upstream.RecordUpdate{Fields: fields("files", []string{b.ID})})
	wantIDs(t, list(t, s, rec), b.ID, d.ID)
	gone(t, s, a.ID)
	gone(t, s, c.ID)

	update(t, s, rec, upstream.RecordUpdate{Fields: fields("files", []string{})})
	wantIDs(t, list(t, s, rec), d.ID)
	gone(t, s, b.ID)
}

func testUpdateUnknownID(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec := o.ref("unknown-update")
	a := create(t, s, rec, "files", "a", []byte("a"))
	b := create(t, s, rec, "files", "b", []byte("b"))
	d := create(t, s, rec, "other", "d", []byte("d"))
	update(t, s, rec, upstream.RecordUpdate{Data: json.RawMessage(`{"k":1}`)})
	z := create(t, s, rec, "files", "z", []byte("z"))
	if err := s.Delete(ctx, z.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	before := list(t, s, rec)

	_, err := s.UpdateRecord(ctx, rec, upstream.RecordUpdate{
		Data:   json.RawMessage(`{"k":2}`),
		Fields: fields("files", []string{b.ID, z.ID}, "other", []string{}),
	})
	skipUnsupported(t, err, "UpdateRecord")
	wantKind(t, err, upstream.KindInvalid, "UpdateRecord listing an unknown id")

	after := list(t, s, rec)
	if !reflect.DeepEqual(ids(after), ids(before)) {
		t.Fatalf("a failed update changed the list: %v, was %v", ids(after), ids(before))
	}
	for i := range after {
		sameAttachment(t, after[i], before[i])
	}
	wantIDs(t, after, a.ID, b.ID, d.ID)
	wantData(t, s, rec, `{"k":1}`)
}

// wantData checks a record's data against a JSON object, ignoring key order
// and spacing.
func wantData(t *testing.T, s upstream.Store, rec upstream.RecordRef, want string) {
	t.Helper()
	r, err := s.GetRecord(context.Background(), rec)
	skipUnsupported(t, err, "GetRecord")
	if err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	sameJSON(t, r.Data, want)
}

func sameJSON(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("record data %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("record data %s, want %s", got, want)
	}
}

func testUpdateData(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("data")
	create(t, s, rec, "files", "a", []byte("a"))

	r := update(t, s, rec, upstream.RecordUpdate{Data: json.RawMessage(`{"a":1,"b":{"x":1,"y":2}}`)})
	sameJSON(t, r.Data, `{"a":1,"b":{"x":1,"y":2}}`)
	wantData(t, s, rec, `{"a":1,"b":{"x":1,"y":2}}`)

	// Top-level keys are replaced whole: b loses y.
	r = update(t, s, rec, upstream.RecordUpdate{Data: json.RawMessage(`{"b":{"x":3},"c":"s"}`)})
	sameJSON(t, r.Data, `{"a":1,"b":{"x":3},"c":"s"}`)
	wantData(t, s, rec, `{"a":1,"b":{"x":3},"c":"s"}`)

	// No data leaves the data alone.
	update(t, s, rec, upstream.RecordUpdate{})
	wantData(t, s, rec, `{"a":1,"b":{"x":3},"c":"s"}`)
	if got := list(t, s, rec); len(got) != 1 {
		t.Fatalf("a data update changed the files: %v", ids(got))
	}
}

func testUpdateBadData(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("bad-data")
	update(t, s, rec, upstream.RecordUpdate{Data: json.RawMessage(`{"a":1}`)})
	for _, data := range []string{`[1,2]`, `"s"`, `42`, `true`, `{"a":`, `not json`, `{"a":1} {"b":2}`} {
		t.Run(data, func(t *testing.T) {
			_, err := s.UpdateRecord(context.Background(), rec, upstream.RecordUpdate{Data: json.RawMessage(data)})
			wantKind(t, err, upstream.KindInvalid, "UpdateRecord with data "+data)
			wantData(t, s, rec, `{"a":1}`)
		})
	}
}

func testUpdateCreates(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec := o.ref("born-by-update")
	r := update(t, s, rec, upstream.RecordUpdate{Data: json.RawMessage(`{"x":1}`)})
	if r.Ref != rec {
		t.Fatalf("UpdateRecord: ref %+v, want %+v", r.Ref, rec)
	}
	wantData(t, s, rec, `{"x":1}`)
	got, err := s.List(ctx, rec)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("List of a record made by UpdateRecord: %#v, %v; want an empty list", got, err)
	}
}
