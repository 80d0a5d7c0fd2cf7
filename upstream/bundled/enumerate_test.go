package bundled

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func TestRecordsListsEveryRecord(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if got, err := s.Records(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Records of an empty store = %v, %v; want none", got, err)
	}
	want := []upstream.RecordRef{{Collection: "a", ID: "1"}, {Collection: "a", ID: "2"}, {Collection: "b", ID: "x/y"}}
	for _, ref := range []upstream.RecordRef{want[2], want[0], want[1]} {
		if _, err := s.Create(ctx, upstream.NewAttachment{Record: ref, Name: "f.txt"}, strings.NewReader("hi")); err != nil {
			t.Fatal(err)
		}
	}
	// A record whose files were all deleted still exists.
	a, err := s.Create(ctx, upstream.NewAttachment{Record: upstream.RecordRef{Collection: "c", ID: "9"}, Name: "g"}, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	want = append(want, upstream.RecordRef{Collection: "c", ID: "9"})
	got, err := s.Records(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Records = %v, %v; want %v", got, err, want)
	}
}
