package migrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/bundled"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// callsKey is where a request's store calls are counted (a fasthttp user
// value, which the gateway's store context hands on).
type callsKey struct{}

// storeCalls counts what one request asked of the store behind a gateway.
type storeCalls struct {
	mu                           sync.Mutex
	lists, creates, opens, stats int
}

// countingStore is a bundled store that counts its calls per request.
type countingStore struct{ *bundled.Store }

func callsOf(ctx context.Context) *storeCalls {
	c, _ := ctx.Value(callsKey{}).(*storeCalls)
	if c == nil {
		return &storeCalls{}
	}
	return c
}

func (s countingStore) count(ctx context.Context, f func(c *storeCalls)) {
	c := callsOf(ctx)
	c.mu.Lock()
	f(c)
	c.mu.Unlock()
}

func (s countingStore) List(ctx context.Context, rec upstream.RecordRef) ([]upstream.Attachment, error) {
	s.count(ctx, func(c *storeCalls) { c.lists++ })
	return s.Store.List(ctx, rec)
}

func (s countingStore) GetRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, error) {
	s.count(ctx, func(c *storeCalls) { c.lists++ })
	return s.Store.GetRecord(ctx, rec)
}

func (s countingStore) ReadRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, []upstream.Attachment, error) {
	s.count(ctx, func(c *storeCalls) { c.lists++ })
	return s.Store.ReadRecord(ctx, rec)
}

func (s countingStore) Create(ctx context.Context, na upstream.NewAttachment, r io.Reader) (upstream.Attachment, error) {
	s.count(ctx, func(c *storeCalls) { c.creates++ })
	return s.Store.Create(ctx, na, r)
}

func (s countingStore) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	s.count(ctx, func(c *storeCalls) { c.opens++ })
	return s.Store.Open(ctx, id)
}

// OpenListed is counted as the Open it stands for: the embedded store's
// own would pass uncounted, and a download look like a listing.
func (s countingStore) OpenListed(ctx context.Context, att upstream.Attachment) (upstream.Attachment, upstream.Content, error) {
	s.count(ctx, func(c *storeCalls) { c.opens++ })
	return s.Store.OpenListed(ctx, att)
}

func (s countingStore) Stat(ctx context.Context, id string) (upstream.Attachment, error) {
	s.count(ctx, func(c *storeCalls) { c.stats++ })
	return s.Store.Stat(ctx, id)
}

// requestTally sorts a gateway's requests by what they asked of its store.
type requestTally struct {
	mu sync.Mutex
	// listings are requests that only read a record or its listing;
	// requests are all of them.
	listings, requests int
}

func (t *requestTally) snapshot() (listings, requests int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listings, t.requests
}

// countedGateway serves dialect's routes over a fresh bundled store on
// loopback, counting its requests, and returns a remote store speaking
// dialect to it.
func countedGateway(t testing.TB, cfg *translate.Config, dialect string) (*remote.Store, *requestTally) {
	t.Helper()
	back, err := bundled.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tally := &requestTally{}
	app := fiber.New(fiber.Config{StreamRequestBody: true, DisablePreParseMultipartForm: true,
		DisableStartupMessage: true, BodyLimit: 1 << 20})
	app.Use(func(c *fiber.Ctx) error {
		calls := &storeCalls{}
		c.Context().SetUserValue(callsKey{}, calls)
		err := c.Next()
		calls.mu.Lock()
		listing := calls.lists > 0 && calls.creates == 0 && calls.opens == 0 && calls.stats == 0
		calls.mu.Unlock()
		tally.mu.Lock()
		tally.requests++
		if listing {
			tally.listings++
		}
		tally.mu.Unlock()
		return err
	})
	translate.NewGateway(cfg, translate.Options{Store: countingStore{back}, Auth: anyKey{},
		Signer: translate.NewSigner(make([]byte, 32), 60e9)}).Mount(app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	sp, err := cfg.Speaker(dialect)
	if err != nil {
		t.Fatal(err)
	}
	s, err := remote.New(remote.Options{Speaker: sp, URL: "http://" + ln.Addr().String(), Token: "secret", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		_ = app.Shutdown()
		ln.Close()
		<-done
		back.Close()
	})
	return s, tally
}

// anyKey accepts the one test credential, with every right.
type anyKey struct{}

func (anyKey) Authenticate(secret string) (translate.Caller, bool) {
	return anyCaller{}, secret == "secret"
}

type anyCaller struct{}

func (anyCaller) Name() string        { return "migrator" }
func (anyCaller) CanRead(string) bool { return true }
func (anyCaller) CanEdit(string) bool { return true }

// Migrating n files into one record of a remote destination lists that
// record a fixed number of times, not once or twice per file (the name
// check and the description of each new file came from a listing each,
// which made a record of n files cost O(n^2)), and sends a fixed number of
// requests per file: the create and the read-back.
func TestRunListsEachDestinationRecordOnce(t *testing.T) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	// Per file: the create, and the read-back's download (through a
	// presigned link where that is how the dialect hands out bytes).
	perFile := map[string]int{"nimblex": 2, "infolobby": 2, "espocrm": 2, "transactionlink": 3}
	for _, dialect := range cfg.Dialects() {
		want, ok := perFile[dialect]
		if !ok {
			continue // Media Pocket's attachments carry no bytes
		}
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			from := openBundled(t)
			rec := upstream.RecordRef{Collection: "c", ID: "1"}
			for i := range n {
				data := bytes.Repeat([]byte{byte(i)}, 100+i)
				if _, err := from.Create(context.Background(), upstream.NewAttachment{Record: rec, Name: fmt.Sprintf("f%02d.bin", i),
					Type: "application/octet-stream"}, bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
			}
			to, tally := countedGateway(t, cfg, dialect)
			r, err := Run(context.Background(), Options{From: from, To: to, Retry: fastRetry})
			if err != nil || r.Copied != n || !r.OK() {
				t.Fatalf("migration = %+v, %v; want %d copied", r, err, n)
			}
			listings, requests := tally.snapshot()
			t.Logf("%s: %d files into one record: %d listings of it, %d requests", dialect, n, listings, requests)
			if listings > 1 {
				t.Errorf("the destination's record was listed %d times for %d files; want once", listings, n)
			}
			if requests > want*n+1 {
				t.Errorf("%d requests for %d files; want at most %d a file and the listing", requests, n, want)
			}
			// A second run skips every file, from one listing again.
			r, err = Run(context.Background(), Options{From: from, To: to, Retry: fastRetry})
			if err != nil || r.Skipped != n || !r.OK() {
				t.Fatalf("second migration = %+v, %v; want %d skipped", r, err, n)
			}
			if l, _ := tally.snapshot(); l-listings > 1 {
				t.Errorf("the second run listed the record %d times; want once", l-listings)
			}
		})
	}
}

// Two source files of one name in one field, copied to a destination that
// keeps one file per name, are copied one after the other: the first is
// copied and verified, the second refused as a name the destination has
// (not written over the first, which would make both fail their check).
func TestRunCopiesSameNamedFilesOneAfterTheOther(t *testing.T) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	from := openBundled(t)
	rec := upstream.RecordRef{Collection: "c", ID: "1"}
	data := map[string]string{}
	for _, body := range []string{"one version", "another version"} {
		a, err := from.Create(ctx, upstream.NewAttachment{Record: rec, Name: "same.txt", Type: "text/plain"}, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		data[a.ID] = body
	}
	to, _ := countedGateway(t, cfg, "nimblex")
	r, err := Run(ctx, Options{From: from, To: to, Parallel: 4, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	if r.Copied != 1 || r.Failed != 1 || r.Mismatched != 0 || len(r.Failures) != 1 || !strings.Contains(r.Failures[0].Error, "two files named") {
		t.Fatalf("report %+v; want one copied, the other refused as a second file of the name", r)
	}
	list, err := to.List(ctx, rec)
	if err != nil || len(list) != 1 {
		t.Fatalf("destination holds %v, %v; want the one copy", list, err)
	}
	_, c, err := to.Open(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	c.Close()
	if len(r.IDs) != 1 || string(got) != data[r.IDs[0].From] {
		t.Errorf("destination holds %q, report %+v; want the copied file's bytes", got, r.IDs)
	}
}

// BenchmarkMigrateOneRecord migrates 200 small files into one record of a
// Nimblex destination (which describes a file only in its record's
// listing) per op, and reports what that costs the destination in
// requests: listings of the record per op, and requests per file.
func BenchmarkMigrateOneRecord(b *testing.B) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		b.Fatal(err)
	}
	const n = 200
	from, err := bundled.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer from.Close()
	for i := range n {
		if _, err := from.Create(context.Background(), upstream.NewAttachment{Record: upstream.RecordRef{Collection: "c", ID: "1"},
			Name: fmt.Sprintf("f%03d.bin", i)}, bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 1024))); err != nil {
			b.Fatal(err)
		}
	}
	var listings, requests int
	for b.Loop() {
		b.StopTimer()
		to, tally := countedGateway(b, cfg, "nimblex")
		b.StartTimer()
		r, err := Run(context.Background(), Options{From: from, To: to, Parallel: 8, Retry: fastRetry})
		if err != nil || r.Copied != n {
			b.Fatalf("migration = %+v, %v", r, err)
		}
		l, q := tally.snapshot()
		listings, requests = listings+l, requests+q
	}
	b.ReportMetric(float64(listings)/float64(b.N), "listings/op")
	b.ReportMetric(float64(requests)/float64(b.N*n), "requests/file")
}

// A run that finds half of a record's files at a destination that keeps
// one file per name (copied by an earlier run whose journal is gone) skips
// those by name and sha256, copies the rest from the same one listing, and
// refuses none as a second file of its name.
func TestRunFinishesAHalfCopiedRecordFromOneListing(t *testing.T) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	from := openBundled(t)
	rec := upstream.RecordRef{Collection: "c", ID: "1"}
	const n = 30
	for i := range n {
		if _, err := from.Create(ctx, upstream.NewAttachment{Record: rec, Name: fmt.Sprintf("f%02d.bin", i)},
			bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 500+i))); err != nil {
			t.Fatal(err)
		}
	}
	to, tally := countedGateway(t, cfg, "nimblex")
	half := onlyNames{Store: from, keep: func(name string) bool { return name < "f15" }}
	if r, err := Run(ctx, Options{From: half, To: to, Records: []upstream.RecordRef{rec}, Retry: fastRetry}); err != nil || r.Copied != n/2 {
		t.Fatalf("first run = %+v, %v; want %d copied", r, err, n/2)
	}
	before, _ := tally.snapshot()
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j"), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, err := Run(ctx, Options{From: from, To: to, Journal: j, Parallel: 4, Retry: fastRetry})
	if err != nil || r.Copied != n/2 || r.Skipped != n/2 || !r.OK() {
		t.Fatalf("second run = %+v, %v; want %d copied and %d skipped", r, err, n/2, n/2)
	}
	if l, _ := tally.snapshot(); l-before != 1 {
		t.Errorf("the second run listed the record %d times; want once", l-before)
	}
	list, err := to.List(ctx, rec)
	if err != nil || len(list) != n {
		t.Errorf("destination holds %d files, %v; want %d", len(list), err, n)
	}
}

// onlyNames is a source that shows only the files whose names keep says.
type onlyNames struct {
	upstream.Store
	keep func(name string) bool
}

func (o onlyNames) List(ctx context.Context, rec upstream.RecordRef) ([]upstream.Attachment, error) {
	all, err := o.Store.List(ctx, rec)
	return slices.DeleteFunc(all, func(a upstream.Attachment) bool { return !o.keep(a.Name) }), err
}
