package migrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/bundled"
)

func openBundled(t *testing.T) *bundled.Store {
	t.Helper()
	s, err := bundled.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seed puts n files of varied sizes in two records of s and returns their
// contents by "record/field/name".
func seed(t *testing.T, s upstream.Store, n int) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	for i := range n {
		rec := upstream.RecordRef{Collection: "c", ID: fmt.Sprint(i % 2)}
		field := []string{"attachments", "contracts"}[i%3%2]
		name := fmt.Sprintf("f%03d.bin", i)
		data := bytes.Repeat([]byte{byte(i)}, 1000+i*37)
		_, err := s.Create(context.Background(), upstream.NewAttachment{Record: rec, Field: field, Name: name,
			Type: "application/x-test", Tags: []string{"t" + fmt.Sprint(i)}, Title: "title " + name}, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want[rec.ID+"/"+field+"/"+name] = data
	}
	return want
}

// contents reads every file of records 0 and 1 of s.
func contents(t *testing.T, s upstream.Store) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for _, id := range []string{"0", "1"} {
		list, err := s.List(context.Background(), upstream.RecordRef{Collection: "c", ID: id})
		if upstream.IsKind(err, upstream.KindNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list {
			_, c, err := s.Open(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(c)
			c.Close()
			k := id + "/" + a.Field + "/" + a.Name
			if _, dup := got[k]; dup {
				t.Errorf("%s twice at the destination", k)
			}
			got[k] = b
			if a.Type != "application/x-test" || a.Title != "title "+a.Name || len(a.Tags) != 1 {
				t.Errorf("%s arrived with type %q, title %q, tags %v", k, a.Type, a.Title, a.Tags)
			}
		}
	}
	return got
}

func sameContents(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("destination holds %d files, want %d", len(got), len(want))
	}
	for k, w := range want {
		if !bytes.Equal(got[k], w) {
			t.Errorf("%s: %d bytes at the destination, want the %d of the source", k, len(got[k]), len(w))
		}
	}
}

var fastRetry = Retry{Attempts: 3, Backoff: time.Millisecond}

func TestRunCopiesThenSkips(t *testing.T) {
	from, to := openBundled(t), openBundled(t)
	want := seed(t, from, 30)
	jpath := filepath.Join(t.TempDir(), "j")
	for run, wantCopied := range []int{30, 0} {
		j, err := OpenJournal(jpath, "a", "b")
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run(context.Background(), Options{From: from, To: to, Journal: j, Retry: fastRetry})
		j.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r.Records != 2 || r.Copied != wantCopied || r.Skipped != 30-wantCopied || !r.OK() || len(r.IDs) != 30 {
			t.Errorf("run %d: %+v; want 2 records, %d copied, %d skipped, 30 ids", run, r, wantCopied, 30-wantCopied)
		}
	}
	sameContents(t, contents(t, to), want)
}

func TestRunSkipsWhatTheDestinationHasWithoutAJournal(t *testing.T) {
	from, to := openBundled(t), openBundled(t)
	want := seed(t, from, 10)
	if _, err := Run(context.Background(), Options{From: from, To: to, Records: []upstream.RecordRef{{Collection: "c", ID: "0"}}, Retry: fastRetry}); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), Options{From: from, To: to, Retry: fastRetry})
	if err != nil || r.Copied != 5 || r.Skipped != 5 || !r.OK() {
		t.Fatalf("second run = %+v, %v; want 5 copied, 5 skipped", r, err)
	}
	sameContents(t, contents(t, to), want)
}

func TestRunDryRunWritesNothing(t *testing.T) {
	from, to := openBundled(t), openBundled(t)
	seed(t, from, 4)
	var plan bytes.Buffer
	r, err := Run(context.Background(), Options{From: from, To: to, DryRun: true, Plan: &plan, Retry: fastRetry})
	if err != nil || r.Copied != 4 {
		t.Fatalf("dry run = %+v, %v; want 4 to copy", r, err)
	}
	if n := strings.Count(plan.String(), "\ncopy ") + strings.Count(plan.String()[:5], "copy "); n != 4 || !strings.Contains(plan.String(), "would copy 4 files") {
		t.Errorf("plan:\n%s\nwant 4 copy lines and the totals", plan.String())
	}
	if got := contents(t, to); len(got) != 0 {
		t.Errorf("dry run wrote %d files", len(got))
	}
}

func TestRunNeedsRecordsFromASourceThatCannotListThem(t *testing.T) {
	_, err := Run(context.Background(), Options{From: plainStore{openBundled(t)}, To: openBundled(t)})
	if err != ErrNoRecords {
		t.Fatalf("err = %v, want ErrNoRecords", err)
	}
}

// plainStore hides every optional interface of its store.
type plainStore struct{ upstream.Store }

// faultyStore fails creates of names holding "fail", the first try of
// names holding "flaky" (after it landed), and gives back changed bytes for
// names holding "bad".
type faultyStore struct {
	upstream.Store
	flaked map[string]bool
}

func (f *faultyStore) Create(ctx context.Context, na upstream.NewAttachment, r io.Reader) (upstream.Attachment, error) {
	if strings.Contains(na.Name, "fail") {
		io.Copy(io.Discard, r)
		return upstream.Attachment{}, upstream.Errorf(upstream.KindUnavailable, "down for %s", na.Name)
	}
	a, err := f.Store.Create(ctx, na, r)
	if err == nil && strings.Contains(na.Name, "flaky") && !f.flaked[na.Name] {
		f.flaked[na.Name] = true
		return upstream.Attachment{}, upstream.Errorf(upstream.KindTimeout, "answer lost")
	}
	return a, err
}

func (f *faultyStore) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	a, c, err := f.Store.Open(ctx, id)
	if err == nil && strings.Contains(a.Name, "bad") {
		c.Close()
		return a, nopCloser{strings.NewReader("changed")}, nil
	}
	return a, c, err
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

func TestRunReportsFailuresAndMismatchesAndGoesOn(t *testing.T) {
	from, dst := openBundled(t), openBundled(t)
	ctx := context.Background()
	rec := upstream.RecordRef{Collection: "c", ID: "0"}
	for _, name := range []string{"ok1", "fail-a", "flaky", "bad", "ok2"} {
		if _, err := from.Create(ctx, upstream.NewAttachment{Record: rec, Name: name}, strings.NewReader("data of "+name)); err != nil {
			t.Fatal(err)
		}
	}
	to := &faultyStore{Store: dst, flaked: map[string]bool{}}
	r, err := Run(ctx, Options{From: from, To: to, Parallel: 2, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	if r.Copied != 3 || r.Failed != 1 || r.Mismatched != 1 || r.OK() {
		t.Fatalf("report %+v; want 3 copied (ok1, ok2, flaky once), 1 failed, 1 mismatched", r)
	}
	names := map[string]string{}
	for _, f := range r.Failures {
		names[f.Name] = f.Error
	}
	if !strings.Contains(names["fail-a"], "down for fail-a") || !strings.Contains(names["bad"], "mismatched") {
		t.Errorf("failures %+v; want fail-a's error and bad's mismatch", r.Failures)
	}
	list, err := dst.List(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range list {
		got = append(got, a.Name)
	}
	slices.Sort(got)
	if strings.Join(got, ",") != "flaky,ok1,ok2" {
		t.Errorf("destination holds %v; want ok1, flaky (once: the lost answer's copy is found, not made again), ok2, and no mismatched copy", got)
	}
}

func TestJournalCutsATornLineAndRefusesOtherEndpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := OpenJournal(path, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{Record: upstream.RecordRef{Collection: "c", ID: "1"}, From: "x", To: "y", SHA256: "s"}
	if err := j.Add(e); err != nil {
		t.Fatal(err)
	}
	j.f.Write([]byte(`{"record":{"collection":"c","id":"2"},"fro`))
	j.Close()
	if _, err := OpenJournal(path, "a", "c"); err == nil || !strings.Contains(err.Error(), "--from a --to b") {
		t.Errorf("journal of a->b opened for a->c: %v", err)
	}
	j, err = OpenJournal(path, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if got, ok := j.Done(e.Record, "x"); !ok || got.To != "y" || len(j.Entries()) != 1 {
		t.Errorf("reopened journal: %+v %v, %d entries; want the one whole entry", got, ok, len(j.Entries()))
	}
}

func TestParseRecords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  string
	}{
		{in: "# comment\n\nc/1\n  c/2/x  \nc/1\n", want: "c/1 c/2/x"},
		{in: "c/1\nnoslash\n", err: "line 2"},
		{in: "/1\n", err: "line 1"},
		{in: "c/\n", err: "line 1"},
	} {
		refs, err := ParseRecords(strings.NewReader(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		var got []string
		for _, r := range refs {
			got = append(got, recordName(r))
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%q = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	from, to := openBundled(t), openBundled(t)
	seed(t, from, 20)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	recs := []upstream.RecordRef{{Collection: "c", ID: "0"}, {Collection: "c", ID: "1"}}
	r, err := Run(ctx, Options{From: from, To: to, Records: recs, Retry: fastRetry})
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Run with a cancelled context: %+v, %v; want the interruption", r, err)
	}
	if r.Copied != 0 {
		t.Errorf("copied %d files after the cancel", r.Copied)
	}
}
