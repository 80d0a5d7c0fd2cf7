package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// CreateListed makes the same file Create makes, described from the
// create's answer as Stat describes it afterwards (but for its place), and
// checks the name against the listing it is given: where the dialect's
// upload replaces a file of the same name, a name in the listing is
// refused and the file there is kept.
func TestCreateListedThroughEachDialect(t *testing.T) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	// Nimblex addresses files by name: an upload of a name replaces.
	replaces := map[string]bool{"nimblex": true, "espocrm": false, "infolobby": false, "transactionlink": false}
	for _, dialect := range cfg.Dialects() {
		replacesByName, ok := replaces[dialect]
		if !ok {
			continue // Media Pocket's attachments carry no bytes
		}
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := loopbackWith(t, cfg, dialect, t.TempDir()).s
			rec := upstream.RecordRef{Collection: "c", ID: "7"}
			first, err := s.Create(ctx, upstream.NewAttachment{Record: rec, Name: "a.txt", Type: "text/plain"}, bytes.NewReader([]byte("first file")))
			if err != nil {
				t.Fatal(err)
			}
			listed, err := s.List(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("second file\n"), 100)
			sum := sha256.Sum256(data)
			a, err := s.CreateListed(ctx, upstream.NewAttachment{Record: rec, Name: "b.txt", Type: "text/plain", Tags: []string{"t"}}, bytes.NewReader(data), listed)
			if err != nil {
				t.Fatal(err)
			}
			if !upstream.ValidID(a.ID) || a.ID == first.ID || a.Name != "b.txt" || a.Record != rec || a.Field != first.Field ||
				!a.HasContent || a.Size != int64(len(data)) || a.SHA256 != hex.EncodeToString(sum[:]) || a.Position != -1 {
				t.Errorf("CreateListed answered %+v; want b.txt in %v/%s, %d bytes, its sha256, position -1", a, rec, first.Field, len(data))
			}
			st, err := s.Stat(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.ID != a.ID || st.Name != a.Name || st.Field != a.Field || st.Size != a.Size || st.SHA256 != a.SHA256 || st.Type != a.Type {
				t.Errorf("Stat says %+v; CreateListed said %+v", st, a)
			}
			_, c, err := s.Open(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(c)
			c.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("read back %d bytes, want the %d sent", len(got), len(data))
			}

			_, err = s.CreateListed(ctx, upstream.NewAttachment{Record: rec, Name: "a.txt"}, bytes.NewReader([]byte("would replace")), listed)
			if replacesByName && !upstream.IsKind(err, upstream.KindUnsupported) {
				t.Errorf("a listed name through a dialect that replaces by name: %v; want unsupported", err)
			}
			if !replacesByName && err != nil {
				t.Errorf("a second a.txt: %v; the dialect keeps both", err)
			}
			all, err := s.List(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, l := range all {
				if l.Name == "a.txt" {
					n++
				}
			}
			if want := map[bool]int{true: 1, false: 2}[replacesByName]; n != want {
				t.Errorf("%d files named a.txt at the upstream, want %d", n, want)
			}
			_, c, err = s.Open(ctx, first.ID)
			if err != nil {
				t.Fatalf("the first a.txt: %v", err)
			}
			got, _ = io.ReadAll(c)
			c.Close()
			if string(got) != "first file" {
				t.Errorf("the first a.txt holds %q now", got)
			}
		})
	}
}

// A store told NoMD5 uploads the same bytes and records their sha256, and
// no MD5; one without it records both.
func TestNoMD5LeavesTheMD5Out(t *testing.T) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	g := loopbackWith(t, cfg, "nimblex", t.TempDir())
	sp, err := cfg.Speaker("nimblex")
	if err != nil {
		t.Fatal(err)
	}
	lean, err := remote.New(remote.Options{Speaker: sp, URL: g.url, Token: upstreamToken, DataDir: t.TempDir(), NoMD5: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lean.Close()
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 100<<10)
	sum := sha256.Sum256(data)
	for _, tc := range []struct {
		s       *remote.Store
		name    string
		wantMD5 bool
	}{{g.s, "with.bin", true}, {lean, "without.bin", false}} {
		a, err := tc.s.Create(ctx, upstream.NewAttachment{Record: upstream.RecordRef{Collection: "c", ID: "1"}, Name: tc.name}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if a.SHA256 != hex.EncodeToString(sum[:]) || (a.MD5 != "") != tc.wantMD5 {
			t.Errorf("%s: sha256 %q, md5 %q; want the sha256, and an MD5: %v", tc.name, a.SHA256, a.MD5, tc.wantMD5)
		}
	}
}
