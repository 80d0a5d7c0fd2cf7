package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// appender returns s as an upstream.Appender, skipping when it is not one.
func appender(t *testing.T, s upstream.Store) upstream.Appender {
	t.Helper()
	app, ok := s.(upstream.Appender)
	if !ok {
		t.Skipf("store %T does not implement upstream.Appender", s)
	}
	return app
}

// createPartial makes a placeholder that Append fills up to expected bytes.
func createPartial(t *testing.T, s upstream.Store, rec upstream.RecordRef, name string, expected int64) upstream.Attachment {
	t.Helper()
	na := upstream.NewAttachment{Record: rec, Field: "files", Name: name, Type: "application/octet-stream", ExpectedSize: expected}
	a, err := s.Create(context.Background(), na, nil)
	skipUnsupported(t, err, "Create with ExpectedSize")
	if err != nil {
		t.Fatalf("Create %q with ExpectedSize %d: %v", name, expected, err)
	}
	if a.HasContent || a.Size != 0 || a.SHA256 != "" || a.MD5 != "" {
		t.Fatalf("new partial: HasContent %v, Size %d, SHA256 %q, MD5 %q; want false, 0, empty, empty",
			a.HasContent, a.Size, a.SHA256, a.MD5)
	}
	return a
}

// appendOK appends chunk, skipping when the store cannot and failing the
// test on any other error.
func appendOK(t *testing.T, app upstream.Appender, id string, chunk []byte) upstream.Attachment {
	t.Helper()
	a, err := app.Append(context.Background(), id, bytes.NewReader(chunk))
	skipUnsupported(t, err, "Append")
	if err != nil {
		t.Fatalf("Append %d bytes to %s: %v", len(chunk), id, err)
	}
	return a
}

// wantPartial checks that id is a partial of size bytes: Stat says so and
// Open finds no content.
func wantPartial(t *testing.T, s upstream.Store, id string, size int64) upstream.Attachment {
	t.Helper()
	st, err := s.Stat(context.Background(), id)
	if err != nil {
		t.Fatalf("Stat partial %s: %v", id, err)
	}
	if st.HasContent || st.Size != size || st.SHA256 != "" || st.MD5 != "" {
		t.Fatalf("partial %s: HasContent %v, Size %d, SHA256 %q, MD5 %q; want false, %d, empty, empty",
			id, st.HasContent, st.Size, st.SHA256, st.MD5, size)
	}
	_, _, err = s.Open(context.Background(), id)
	wantKind(t, err, upstream.KindNotFound, "Open a partial attachment")
	return st
}

// wantComplete checks that id holds exactly content, with its digests.
func wantComplete(t *testing.T, s upstream.Store, id string, content []byte) upstream.Attachment {
	t.Helper()
	st, err := s.Stat(context.Background(), id)
	if err != nil {
		t.Fatalf("Stat %s: %v", id, err)
	}
	if !st.HasContent || st.Size != int64(len(content)) || st.SHA256 != sha256Hex(content) || st.MD5 != md5Hex(content) {
		t.Fatalf("complete %s: HasContent %v, Size %d, SHA256 %s, MD5 %s; want true, %d, %s, %s",
			id, st.HasContent, st.Size, st.SHA256, st.MD5, len(content), sha256Hex(content), md5Hex(content))
	}
	if got := read(t, s, id); !bytes.Equal(got, content) {
		t.Fatalf("content of %s: %d bytes, sha256 %s; want %d, %s", id, len(got), sha256Hex(got), len(content), sha256Hex(content))
	}
	return st
}

func testAppendChunks(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	app := appender(t, s)
	rec := o.ref("chunked")
	content := patterned(300<<10 + 17)
	// The middle chunk is longer than one 256 KiB copy buffer.
	cuts := []int{1000, 1000 + 270<<10, len(content)}

	a := createPartial(t, s, rec, "chunked.bin", int64(len(content)))
	wantIDs(t, list(t, s, rec), a.ID)
	wantPartial(t, s, a.ID, 0)

	from := 0
	var last upstream.Attachment
	for i, to := range cuts {
		got := appendOK(t, app, a.ID, content[from:to])
		if got.ID != a.ID || got.Record != rec || got.Name != a.Name || got.Size != int64(to) {
			t.Fatalf("chunk %d: Append returned id %s record %+v name %q size %d; want %s %+v %q %d",
				i, got.ID, got.Record, got.Name, got.Size, a.ID, rec, a.Name, to)
		}
		if i < len(cuts)-1 {
			st := wantPartial(t, s, a.ID, int64(to))
			sameAttachment(t, st, got)
		}
		from, last = to, got
	}
	if !last.HasContent || last.SHA256 != sha256Hex(content) || last.MD5 != md5Hex(content) {
		t.Fatalf("last chunk: HasContent %v, SHA256 %s, MD5 %s; want true, %s, %s",
			last.HasContent, last.SHA256, last.MD5, sha256Hex(content), md5Hex(content))
	}
	st := wantComplete(t, s, a.ID, content)
	sameAttachment(t, st, last)
	listed := list(t, s, rec)
	wantIDs(t, listed, a.ID)
	sameAttachment(t, listed[0], last)

	_, err := app.Append(ctx, a.ID, bytes.NewReader([]byte("more")))
	wantKind(t, err, upstream.KindConflict, "Append to a complete attachment")
	_, err = app.Append(ctx, a.ID, bytes.NewReader(nil))
	wantKind(t, err, upstream.KindConflict, "Append nothing to a complete attachment")
	wantComplete(t, s, a.ID, content)
}

func testAppendRefused(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	app := appender(t, s)
	rec := o.ref("append-refused")
	plain := create(t, s, rec, "files", "plain placeholder", nil)
	full := create(t, s, rec, "files", "with content", []byte("full"))
	deleted := createPartial(t, s, rec, "deleted", 10)
	if err := s.Delete(ctx, deleted.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	_, err := app.Append(ctx, plain.ID, bytes.NewReader([]byte("x")))
	skipUnsupported(t, err, "Append")
	wantKind(t, err, upstream.KindConflict, "Append to a placeholder made without ExpectedSize")
	st, err := s.Stat(ctx, plain.ID)
	if err != nil || st.Size != 0 || st.HasContent {
		t.Fatalf("placeholder after a refused Append: size %d, has content %v, %v", st.Size, st.HasContent, err)
	}
	_, err = app.Append(ctx, full.ID, bytes.NewReader([]byte("x")))
	wantKind(t, err, upstream.KindConflict, "Append to an attachment made with content")
	if got := read(t, s, full.ID); string(got) != "full" {
		t.Fatalf("content after a refused Append %q", got)
	}
	_, err = app.Append(ctx, deleted.ID, bytes.NewReader([]byte("x")))
	wantKind(t, err, upstream.KindNotFound, "Append to a deleted attachment")
	gone(t, s, deleted.ID)
	for _, id := range []string{"", "..", "../" + full.ID, full.ID + "0"} {
		_, err = app.Append(ctx, id, bytes.NewReader([]byte("x")))
		wantKind(t, err, upstream.KindNotFound, fmt.Sprintf("Append to %q", id))
	}
}

// testAppendOver checks that a chunk passing ExpectedSize, or failing on
// the way, appends nothing.
func testAppendOver(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	app := appender(t, s)
	content := patterned(1000)
	a := createPartial(t, s, o.ref("over"), "over.bin", int64(len(content)))
	appendOK(t, app, a.ID, content[:600])

	tests := []struct {
		name  string
		chunk io.Reader
		kind  upstream.Kind // "" when the contract does not fix one
	}{
		{"one byte over", bytes.NewReader(patterned(401)), upstream.KindTooLarge},
		{"far over", bytes.NewReader(patterned(1 << 20)), upstream.KindTooLarge},
		{"failing reader", &failingReader{n: 300, err: errors.New("reset")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := app.Append(ctx, a.ID, tt.chunk)
			skipUnsupported(t, err, "Append")
			if err == nil {
				t.Fatal("Append succeeded")
			}
			if tt.kind != "" {
				wantKind(t, err, tt.kind, "Append "+tt.name)
			}
			wantPartial(t, s, a.ID, 600)
		})
	}
	last := appendOK(t, app, a.ID, content[600:])
	if !last.HasContent || last.Size != 1000 {
		t.Fatalf("last chunk: HasContent %v, Size %d", last.HasContent, last.Size)
	}
	wantComplete(t, s, a.ID, content)
}

// testAppendConcurrent appends distinct chunks from several goroutines at
// once: each must land whole, once, in some order.
func testAppendConcurrent(t *testing.T, s upstream.Store, o Options) {
	const n, size = 4, 1 << 10
	app := appender(t, s)
	chunks := make([][]byte, n)
	for i := range chunks {
		chunks[i] = make([]byte, size)
		for j := range chunks[i] {
			chunks[i][j] = byte(i*61 + j*7 + j/251)
		}
	}
	a := createPartial(t, s, o.ref("append-race"), "race.bin", n*size)
	var wg sync.WaitGroup
	for i := range chunks {
		wg.Go(func() {
			if _, err := app.Append(context.Background(), a.ID, bytes.NewReader(chunks[i])); err != nil {
				t.Errorf("Append chunk %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	st, err := s.Stat(context.Background(), a.ID)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if !st.HasContent || st.Size != n*size {
		t.Fatalf("after %d concurrent chunks: HasContent %v, Size %d; want true, %d", n, st.HasContent, st.Size, n*size)
	}
	got := read(t, s, a.ID)
	if len(got) != n*size {
		t.Fatalf("read %d bytes, want %d", len(got), n*size)
	}
	if st.SHA256 != sha256Hex(got) || st.MD5 != md5Hex(got) {
		t.Fatalf("digests %s %s do not match the content (%s %s)", st.SHA256, st.MD5, sha256Hex(got), md5Hex(got))
	}
	seen := make([]int, n)
	for k := range n {
		piece := got[k*size : (k+1)*size]
		found := false
		for i, c := range chunks {
			if bytes.Equal(piece, c) {
				seen[i]++
				found = true
			}
		}
		if !found {
			t.Fatalf("bytes %d-%d are no chunk: chunks interleaved", k*size, (k+1)*size-1)
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("chunk %d appears %d times, want once", i, c)
		}
	}
}

// testAppendUnlinked is EspoCRM's chunked upload: an unlinked partial,
// filled, then linked to its record.
func testAppendUnlinked(t *testing.T, s upstream.Store, o Options) {
	app := appender(t, s)
	col := o.unlinked()
	na := upstream.NewAttachment{Record: col, Field: "files", Name: "chunked", ExpectedSize: 10}
	a, err := s.Create(context.Background(), na, nil)
	skipUnsupported(t, err, "unlinked Create with ExpectedSize")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	appendOK(t, app, a.ID, []byte("0123"))
	wantPartial(t, s, a.ID, 4)
	last := appendOK(t, app, a.ID, []byte("456789"))
	if last.Record != col || !last.HasContent {
		t.Fatalf("last chunk: record %+v has content %v; want %+v, true", last.Record, last.HasContent, col)
	}
	wantNoRecord(t, s, col)

	rec := o.ref("chunked-then-linked")
	update(t, s, rec, upstream.RecordUpdate{Fields: fields("files", []string{a.ID})})
	wantIDs(t, list(t, s, rec), a.ID)
	st := wantComplete(t, s, a.ID, []byte("0123456789"))
	if st.Record != rec {
		t.Fatalf("linked: record %+v, want %+v", st.Record, rec)
	}
}

// testAppendMoved links a partial before it is complete: appends go on
// where it now lives.
func testAppendMoved(t *testing.T, s upstream.Store, o Options) {
	app := appender(t, s)
	a := createPartial(t, s, o.ref("moved-from"), "moving", 6)
	appendOK(t, app, a.ID, []byte("abc"))
	update(t, s, o.ref("moved-to"), upstream.RecordUpdate{Fields: fields("docs", []string{a.ID})})
	wantPartial(t, s, a.ID, 3)
	last := appendOK(t, app, a.ID, []byte("def"))
	if last.Record != o.ref("moved-to") || last.Field != "docs" {
		t.Fatalf("last chunk: record %+v field %q; want %+v docs", last.Record, last.Field, o.ref("moved-to"))
	}
	wantComplete(t, s, a.ID, []byte("abcdef"))
	wantIDs(t, list(t, s, o.ref("moved-to")), a.ID)
	wantIDs(t, list(t, s, o.ref("moved-from")))
}
