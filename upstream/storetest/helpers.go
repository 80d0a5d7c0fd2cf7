package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// ref names a record of the collection the cases write to; each case has a
// store of its own, so names never clash between cases.
func (o Options) ref(id string) upstream.RecordRef {
	return upstream.RecordRef{Collection: o.collection(), ID: id}
}

// unlinked is the place of an attachment linked to no record yet, in the
// collection the cases write to.
func (o Options) unlinked() upstream.RecordRef {
	return upstream.RecordRef{Collection: o.collection()}
}

func (o Options) collection() string {
	if o.Collection == "" {
		return "tables"
	}
	return o.Collection
}

// skipUnsupported skips the test when err says the store cannot do op.
func skipUnsupported(t *testing.T, err error, op string) {
	t.Helper()
	if upstream.IsKind(err, upstream.KindUnsupported) {
		t.Skipf("store does not support %s: %v", op, err)
	}
}

// wantKind fails the test unless err has the given kind.
func wantKind(t *testing.T, err error, kind upstream.Kind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %s", what, kind)
	}
	if got := upstream.KindOf(err); got != kind {
		t.Fatalf("%s: got kind %s (%v), want %s", what, got, err, kind)
	}
}

// create makes an attachment named name in rec's field with the given
// content (nil for a placeholder), failing the test on error.
func create(t *testing.T, s upstream.Store, rec upstream.RecordRef, field, name string, content []byte) upstream.Attachment {
	t.Helper()
	na := upstream.NewAttachment{Record: rec, Field: field, Name: name, Type: "application/octet-stream"}
	var r io.Reader
	if content != nil {
		r = bytes.NewReader(content)
	}
	a, err := s.Create(context.Background(), na, r)
	skipUnsupported(t, err, "Create")
	if err != nil {
		t.Fatalf("Create %s/%s %q: %v", rec.ID, field, name, err)
	}
	return a
}

func list(t *testing.T, s upstream.Store, rec upstream.RecordRef) []upstream.Attachment {
	t.Helper()
	atts, err := s.List(context.Background(), rec)
	if err != nil {
		t.Fatalf("List %s/%s: %v", rec.Collection, rec.ID, err)
	}
	return atts
}

func ids(atts []upstream.Attachment) []string {
	out := make([]string, len(atts))
	for i, a := range atts {
		out[i] = a.ID
	}
	return out
}

func wantIDs(t *testing.T, got []upstream.Attachment, want ...string) {
	t.Helper()
	if !slices.Equal(ids(got), want) {
		t.Fatalf("listed ids %v, want %v", ids(got), want)
	}
}

// read returns an attachment's content, failing the test on error.
func read(t *testing.T, s upstream.Store, id string) []byte {
	t.Helper()
	_, c, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return b
}

func sha256Hex(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
func md5Hex(b []byte) string    { h := md5.Sum(b); return hex.EncodeToString(h[:]) }

// sameAttachment compares everything but the times, which a remote store
// may round.
func sameAttachment(t *testing.T, got, want upstream.Attachment) {
	t.Helper()
	g, w := got, want
	g.Created, g.Modified = w.Created, w.Modified
	g.Tags, w.Tags = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("attachment\n got %+v\nwant %+v", got, want)
	}
	if !slices.Equal(got.Tags, want.Tags) {
		t.Fatalf("tags %q, want %q", got.Tags, want.Tags)
	}
}

// gone fails the test unless id is unknown to Stat and Open.
func gone(t *testing.T, s upstream.Store, id string) {
	t.Helper()
	_, err := s.Stat(context.Background(), id)
	wantKind(t, err, upstream.KindNotFound, "Stat "+id)
	_, _, err = s.Open(context.Background(), id)
	wantKind(t, err, upstream.KindNotFound, "Open "+id)
}

// patterned returns n bytes of a pattern that crosses buffer boundaries
// without repeating on them.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
