package storetest

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func testRoundTrip(t *testing.T, s upstream.Store, o Options) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"empty", []byte{}},
		{"text", []byte("hello, dragoman\n")},
		// Longer than one 256 KiB copy buffer, and not a multiple of it.
		{"binary 300 KiB", patterned(300<<10 + 17)},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			na := upstream.NewAttachment{
				Record: o.ref("round"), Field: "files", Name: tt.name + ".bin", Type: "application/x-test",
				Tags: []string{"t1", "t2"}, Title: "a title", Description: "a description",
				Category: "cat", Status: "open", ExternalID: "ext-1", Owner: "key-1",
			}
			a, err := s.Create(ctx, na, bytes.NewReader(tt.content))
			skipUnsupported(t, err, "Create")
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := upstream.Attachment{
				ID: a.ID, Record: na.Record, Field: na.Field, Name: na.Name, Type: na.Type,
				Size: int64(len(tt.content)), SHA256: sha256Hex(tt.content), MD5: md5Hex(tt.content),
				Tags: na.Tags, Title: na.Title, Description: na.Description, Category: na.Category,
				Status: na.Status, ExternalID: na.ExternalID, Owner: na.Owner,
				HasContent: true, Position: a.Position,
			}
			if a.ID == "" {
				t.Fatal("Create returned no id")
			}
			if a.Created.IsZero() || a.Modified.IsZero() {
				t.Errorf("Create returned zero times: created %v, modified %v", a.Created, a.Modified)
			}
			sameAttachment(t, a, want)

			st, err := s.Stat(ctx, a.ID)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			sameAttachment(t, st, want)

			oa, c, err := s.Open(ctx, a.ID)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer c.Close()
			sameAttachment(t, oa, want)
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read content: %v", err)
			}
			if !bytes.Equal(got, tt.content) {
				t.Fatalf("content: got %d bytes, want %d (sha256 %s, want %s)",
					len(got), len(tt.content), sha256Hex(got), sha256Hex(tt.content))
			}
		})
	}
}

// testSeek checks that content serves ranges, as downloads with Range need.
func testSeek(t *testing.T, s upstream.Store, o Options) {
	content := patterned(100 << 10)
	a := create(t, s, o.ref("seek"), "files", "seek.bin", content)
	_, c, err := s.Open(context.Background(), a.ID)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()

	end, err := c.Seek(0, io.SeekEnd)
	if err != nil || end != int64(len(content)) {
		t.Fatalf("Seek to end: %d, %v; want %d", end, err, len(content))
	}
	const off, n = 70_000, 1000
	if _, err := c.Seek(off, io.SeekStart); err != nil {
		t.Fatalf("Seek to %d: %v", off, err)
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read after seek: %v", err)
	}
	if !bytes.Equal(got, content[off:off+n]) {
		t.Fatal("bytes after seek differ from the content at that offset")
	}
}

func testPlaceholder(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	a := create(t, s, o.ref("ph"), "files", "later.pdf", nil)
	if a.HasContent || a.Size != 0 || a.SHA256 != "" || a.MD5 != "" {
		t.Fatalf("placeholder: HasContent %v, Size %d, SHA256 %q, MD5 %q; want false, 0, empty, empty",
			a.HasContent, a.Size, a.SHA256, a.MD5)
	}
	st, err := s.Stat(ctx, a.ID)
	if err != nil {
		t.Fatalf("Stat placeholder: %v", err)
	}
	sameAttachment(t, st, a)
	_, _, err = s.Open(ctx, a.ID)
	wantKind(t, err, upstream.KindNotFound, "Open placeholder")
	wantIDs(t, list(t, s, o.ref("ph")), a.ID)
}
