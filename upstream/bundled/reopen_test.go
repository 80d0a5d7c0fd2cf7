package bundled

import (
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

func TestMetadataSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	a := mustCreate(t, s, rec("r"), "a.txt", []byte("alpha"))
	b := mustCreate(t, s, rec("r"), "b.txt", nil)
	r, err := s.UpdateRecord(ctx, rec("r"), upstream.RecordUpdate{
		Data:   json.RawMessage(`{"title":"kept"}`),
		Fields: map[string][]string{"files": {b.ID, a.ID}},
	})
	if err != nil {
		t.Fatalf("UpdateRecord: %v", err)
	}
	before, err := s.List(ctx, rec("r"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpen(t, dir)
	after, err := s.List(ctx, rec("r"))
	if err != nil {
		t.Fatalf("List after reopen: %v", err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("after reopen:\n%+v\nwant\n%+v", after, before)
	}
	got, err := s.GetRecord(ctx, rec("r"))
	if err != nil {
		t.Fatalf("GetRecord after reopen: %v", err)
	}
	if string(got.Data) != string(r.Data) || !got.Created.Equal(r.Created) || got.Modified != r.Modified {
		t.Fatalf("record after reopen %+v, want %+v", got, r)
	}
	_, c, err := s.Open(ctx, a.ID)
	if err != nil {
		t.Fatalf("Open after reopen: %v", err)
	}
	defer c.Close()
	if content, _ := io.ReadAll(c); string(content) != "alpha" {
		t.Fatalf("content after reopen %q", content)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir)
	start := time.Now()
	s, err := open(dir, 100*time.Millisecond)
	if err == nil {
		s.Close()
		t.Fatal("a second Open of a directory in use succeeded")
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("second Open took %v", time.Since(start))
	}
	t.Logf("second Open: %v", err)
}
