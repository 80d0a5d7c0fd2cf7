package console

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/migrate"
	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/bundled"
	"github.com/dragoman-gw/dragoman/upstream/mirror"
)

// testKey is a key of the fake ring: its collections (none: all) and
// whether it is read-only.
type testKey struct {
	name        string
	readOnly    bool
	collections []string
}

func (k testKey) Name() string { return k.name }
func (k testKey) CanRead(c string) bool {
	if len(k.collections) == 0 {
		return true
	}
	for _, x := range k.collections {
		if x == c {
			return true
		}
	}
	return false
}
func (k testKey) CanEdit(c string) bool { return !k.readOnly && k.CanRead(c) }
func (k testKey) ReadOnly() bool        { return k.readOnly }

type testRing map[string]testKey

func (r testRing) Authenticate(secret string) (translate.Caller, bool) {
	k, ok := r[secret]
	return k, ok
}

var ring = testRing{
	"edit":    {name: "ops"},
	"viewer":  {name: "viewer", readOnly: true},
	"limited": {name: "limited", collections: []string{"invoices"}},
}

// fixture is a console over a real bundled store and telemetry.
type fixture struct {
	app   *fiber.App
	c     *Console
	store *bundled.Store
	tel   *telemetry.Telemetry
	now   time.Time
}

func newFixture(t *testing.T, change func(*Options)) *fixture {
	t.Helper()
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	st, err := bundled.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx := &fixture{store: st, tel: telemetry.New(telemetry.Options{Metrics: true}), now: time.Now()}
	o := Options{Auth: ring, Routes: func() *translate.Config { return cfg }, Telemetry: fx.tel, Store: st,
		Now: func() time.Time { return fx.now }}
	if change != nil {
		change(&o)
	}
	fx.c = New(o)
	fx.app = fiber.New()
	fx.c.Mount(fx.app)
	return fx
}

// call makes one request as key ("" sends none) and returns the status
// and body.
func (fx *fixture) call(t *testing.T, method, path, key string) (int, []byte, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := fx.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

// get decodes a 200 answer into v.
func (fx *fixture) get(t *testing.T, path, key string, v any) {
	t.Helper()
	status, b, _ := fx.call(t, http.MethodGet, path, key)
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

func (fx *fixture) upload(t *testing.T, collection, record, name, owner, data string) upstream.Attachment {
	t.Helper()
	a, err := fx.store.Create(context.Background(), upstream.NewAttachment{Record: upstream.RecordRef{Collection: collection, ID: record},
		Field: upstream.DefaultField, Name: name, Type: "text/plain", Owner: owner}, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTheAPINeedsAKey(t *testing.T) {
	fx := newFixture(t, nil)
	for _, tc := range []struct {
		path, key string
		want      int
	}{
		{"/console/api/session", "", 401},
		{"/console/api/session", "nope", 401},
		{"/console/api/dialects", "", 401},
		{"/console/api/store", "nope", 401},
		{"/console/api/session", "edit", 200},
		{"/console/api/nosuch", "edit", 404},
		// The page and its assets load without a key: the page asks for it.
		{"/console/", "", 200},
		{"/console/assets/app.js", "", 200},
		{"/console/assets/app.css", "", 200},
		{"/console/assets/console.go", "", 404},
		{"/console", "", 302},
	} {
		status, b, h := fx.call(t, http.MethodGet, tc.path, tc.key)
		if status != tc.want {
			t.Errorf("GET %s with key %q: %d %s, want %d", tc.path, tc.key, status, b, tc.want)
		}
		if status == 401 && h.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", tc.path)
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, h.Get("Content-Security-Policy"))
		}
	}
	var s struct {
		Key      string
		ReadOnly bool `json:"read_only"`
	}
	fx.get(t, "/console/api/session", "viewer", &s)
	if s.Key != "viewer" || !s.ReadOnly {
		t.Errorf("session of the viewer: %+v", s)
	}
}

func TestDialectsAreTheLoadedRoutes(t *testing.T) {
	for _, tc := range []struct {
		upstream, shown string
		// gaps is how many transactionlink routes do not fully work.
		gaps int
	}{
		{"", "bundled", 0},
		{"mediapocket+http://user:secret@mp.example/api", "mediapocket+http://mp.example/api", 3},
		{"transactionlink+http://tl.example", "transactionlink+http://tl.example", 0},
	} {
		fx := newFixture(t, func(o *Options) { o.Upstream = tc.upstream })
		var ans dialectsAnswer
		fx.get(t, "/console/api/dialects", "viewer", &ans)
		if ans.Upstream.Name != tc.shown {
			t.Errorf("upstream %q shown as %q, want %q", tc.upstream, ans.Upstream.Name, tc.shown)
		}
		desc := fx.c.o.Routes().Describe()
		if len(ans.Dialects) != len(desc) {
			t.Fatalf("%d dialects, routes.yaml has %d", len(ans.Dialects), len(desc))
		}
		for i, d := range desc {
			got := ans.Dialects[i]
			if got.Name != d.Name || got.Mount != d.Mount || got.Header != d.Credential.Header || len(got.Routes) != len(d.Routes) {
				t.Errorf("dialect %s: %+v", d.Name, got)
			}
			for j, r := range d.Routes {
				if g := got.Routes[j]; g.Name != r.Name || g.Method != r.Method || g.Path != r.Path || g.Op != r.Op || g.Scope != r.Scope {
					t.Errorf("route %s/%s: %+v", d.Name, r.Name, g)
				}
			}
			if d.Name == "transactionlink" && len(got.Gaps) != tc.gaps {
				t.Errorf("in front of %q transactionlink has gaps %+v, want %d", tc.upstream, got.Gaps, tc.gaps)
			}
		}
		if tc.upstream != "" && len(ans.Upstream.Capabilities) == 0 {
			t.Errorf("upstream %q: no capabilities", tc.upstream)
		}
	}
}

// serveThrough runs one request through the telemetry as the gateway
// would, answered by status.
func serveThrough(tel *telemetry.Telemetry, rt *telemetry.Route, path, key string, status int) {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(path)
	tel.Wrap(func(c *fasthttp.RequestCtx) {
		r := telemetry.FromContext(c)
		if rt != nil {
			r.SetRoute(rt)
		}
		r.SetKey(key)
		c.SetStatusCode(status)
	})(&ctx)
}

func TestTrafficIsWhatMetricsCount(t *testing.T) {
	fx := newFixture(t, nil)
	rt := fx.tel.Route("tl", "files.create", "create", []int{201, 400})
	for _, s := range []int{201, 201, 201, 400} {
		serveThrough(fx.tel, rt, "/tables/t/records/r/attachments", "ops", s)
	}
	serveThrough(fx.tel, nil, "/console/api/traffic", "ops", 200)
	var ans trafficAnswer
	fx.get(t, "/console/api/traffic", "edit", &ans)
	var row *trafficRow
	for i := range ans.Routes {
		if ans.Routes[i].Dialect == "tl" && ans.Routes[i].Route == "files.create" {
			row = &ans.Routes[i]
		}
	}
	if !ans.Metrics || row == nil || row.Requests != 4 || row.Errors != 1 || row.P50ms == nil || row.P99ms == nil {
		t.Fatalf("traffic %+v; row %+v", ans, row)
	}
	var dialect *trafficRow
	for i := range ans.Dialects {
		if ans.Dialects[i].Dialect == "tl" {
			dialect = &ans.Dialects[i]
		}
	}
	if dialect == nil || dialect.Requests != 4 || dialect.Errors != 1 {
		t.Errorf("dialect row %+v", dialect)
	}
	if ans.WindowS != nil {
		t.Errorf("the first answer's quantiles cover %v s, want since start (null)", *ans.WindowS)
	}
	if len(ans.Recent) != 4 || ans.Recent[0].Status != 400 || ans.Recent[0].Key != "ops" || ans.Recent[0].Route != "files.create" {
		t.Errorf("recent without the console's own: %+v", ans.Recent)
	}
	fx.get(t, "/console/api/traffic?all=1", "edit", &ans)
	if len(ans.Recent) != 5 || ans.Recent[0].Path != "/console/api/traffic" {
		t.Errorf("recent with the console's own: %+v", ans.Recent)
	}
	// Two seconds on, the quantiles cover the two seconds since the first
	// answer, which hold one request (TestQuantilesAreOfTheLastMinute
	// shows the requests before the window leave the quantiles).
	fx.now = fx.now.Add(2 * time.Second)
	serveThrough(fx.tel, rt, "/tables/t/records/r/attachments", "ops", 201)
	var later trafficAnswer
	fx.get(t, "/console/api/traffic", "edit", &later)
	for _, r := range later.Routes {
		if r.Dialect == "tl" && r.Route == "files.create" && (r.Requests != 5 || r.P99ms == nil) {
			t.Errorf("two seconds on, the route's row is %+v", r)
		}
	}
	if later.WindowS == nil || *later.WindowS != 2 {
		t.Errorf("two seconds on, the quantiles cover %v s, want 2", later.WindowS)
	}
	id := ans.Recent[1].RequestID
	var line struct{ Line string }
	fx.get(t, "/console/api/requests/"+id, "edit", &line)
	for _, want := range []string{"msg=request", "request_id=" + id, "route=files.create", "status=400", "key=ops"} {
		if !strings.Contains(line.Line, want) {
			t.Errorf("log line %q lacks %q", line.Line, want)
		}
	}
	if status, _, _ := fx.call(t, http.MethodGet, "/console/api/requests/unknown-1", "edit"); status != 404 {
		t.Errorf("an unknown request id: %d", status)
	}
	off := newFixture(t, func(o *Options) { o.Telemetry = telemetry.New(telemetry.Options{}) })
	off.get(t, "/console/api/traffic", "edit", &ans)
	if ans.Metrics || len(ans.Routes) != 0 {
		t.Errorf("metrics off: %+v", ans)
	}
}

func TestQuantileInterpolatesAsPrometheusDoes(t *testing.T) {
	b := func(counts ...uint64) []bucket {
		bounds := []float64{0.001, 0.01, 0.1}
		out := make([]bucket, len(counts))
		for i, c := range counts {
			if i < len(bounds) {
				out[i] = bucket{bounds[i], c}
			} else {
				out[i] = bucket{math.Inf(1), c}
			}
		}
		return out
	}
	for _, tc := range []struct {
		q       float64
		buckets []bucket
		want    float64 // ms; -1: nil
	}{
		{0.5, nil, -1},
		{0.5, b(0, 0, 0, 0), -1},
		{0.5, b(10, 10, 10, 10), 0.5},   // all in the first bucket: half of 1 ms
		{0.5, b(0, 10, 10, 10), 5.5},    // in (1 ms, 10 ms]: the middle
		{0.99, b(0, 0, 50, 100), 100},   // in +Inf: the highest finite bound
		{0.99, b(0, 0, 100, 100), 99.1}, // 99th of 100 in (10, 100]
	} {
		got := quantileMS(tc.q, tc.buckets)
		switch {
		case tc.want < 0 && got != nil:
			t.Errorf("q%v of %v: %v, want nil", tc.q, tc.buckets, *got)
		case tc.want >= 0 && (got == nil || *got < tc.want-1e-9 || *got > tc.want+1e-9):
			t.Errorf("q%v of %v: %v, want %v", tc.q, tc.buckets, got, tc.want)
		}
	}
}

func TestStoreBrowser(t *testing.T) {
	fx := newFixture(t, nil)
	inv := fx.upload(t, "invoices", "r-1", "invoice-1.pdf", "ops", "one")
	fx.upload(t, "invoices", "r-2", "notes.txt", "ops", "two")
	other := fx.upload(t, "orders", "o-1", "receipt.txt", "ops", "three")

	var cols collectionsAnswer
	fx.get(t, "/console/api/store", "edit", &cols)
	if !cols.CanList || !cols.CanDelete || len(cols.Collections) != 2 || cols.Collections[0] != (collectionView{"invoices", 2}) {
		t.Errorf("collections for the edit key: %+v", cols)
	}
	fx.get(t, "/console/api/store", "limited", &cols)
	if len(cols.Collections) != 1 || cols.Collections[0].Name != "invoices" {
		t.Errorf("collections for a key limited to invoices: %+v", cols)
	}
	fx.get(t, "/console/api/store", "viewer", &cols)
	if cols.CanDelete {
		t.Errorf("a read-only key may delete: %+v", cols)
	}
	for _, tc := range []struct {
		query string
		want  []string // record ids
	}{
		{"collection=invoices", []string{"r-1", "r-2"}},
		{"collection=invoices&q=INVOICE", []string{"r-1"}},
		{"collection=invoices&q=r-2", []string{"r-2"}},
		{"collection=invoices&q=receipt", nil},
		{"collection=invoices&offset=1", []string{"r-2"}},
	} {
		var recs recordsAnswer
		fx.get(t, "/console/api/store/records?"+tc.query, "edit", &recs)
		var ids []string
		for _, r := range recs.Records {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: records %v, want %v", tc.query, ids, tc.want)
		}
	}
	var recs recordsAnswer
	fx.get(t, "/console/api/store/records?collection=invoices&q=invoice-1", "edit", &recs)
	if f := recs.Records[0].Files[0]; f.ID != inv.ID || f.SHA256 != inv.SHA256 || f.Owner != "ops" || f.Size != 3 {
		t.Errorf("file %+v, want %+v", f, inv)
	}
	for _, tc := range []struct {
		method, path, key string
		want              int
	}{
		{http.MethodGet, "/console/api/store/records", "edit", 400},
		{http.MethodGet, "/console/api/store/records?collection=orders", "limited", 404},
		{http.MethodGet, "/console/api/store/attachments/" + other.ID, "limited", 404},
		{http.MethodPost, "/console/api/store/attachments/" + other.ID + "/link", "limited", 404},
		{http.MethodDelete, "/console/api/store/attachments/" + other.ID, "limited", 404},
		{http.MethodDelete, "/console/api/store/attachments/" + inv.ID, "viewer", 403},
		{http.MethodGet, "/console/api/store/attachments/" + inv.ID, "viewer", 200},
		{http.MethodGet, "/console/api/store/attachments/0000000000000000", "edit", 404},
		{http.MethodGet, "/console/download/bogus", "", 404},
	} {
		if status, b, _ := fx.call(t, tc.method, tc.path, tc.key); status != tc.want {
			t.Errorf("%s %s as %s: %d %s, want %d", tc.method, tc.path, tc.key, status, b, tc.want)
		}
	}

	// A download link works without the key, until it expires.
	status, b, _ := fx.call(t, http.MethodPost, "/console/api/store/attachments/"+inv.ID+"/link", "viewer")
	var link struct{ URL string }
	if err := json.Unmarshal(b, &link); status != 200 || err != nil || !strings.HasPrefix(link.URL, Prefix+"/download/") {
		t.Fatalf("link: %d %s", status, b)
	}
	status, b, h := fx.call(t, http.MethodGet, link.URL, "")
	if status != 200 || string(b) != "one" || !strings.Contains(h.Get("Content-Disposition"), `filename=invoice-1.pdf`) {
		t.Errorf("download: %d %q %v", status, b, h)
	}
	if status, _, _ := fx.call(t, http.MethodGet, link.URL+"x", ""); status != 404 {
		t.Errorf("a tampered link: %d", status)
	}
	fx.now = fx.now.Add(6 * time.Minute)
	if status, _, _ := fx.call(t, http.MethodGet, link.URL, ""); status != 404 {
		t.Errorf("an expired link: %d", status)
	}

	if status, b, _ := fx.call(t, http.MethodDelete, "/console/api/store/attachments/"+inv.ID, "edit"); status != 204 {
		t.Fatalf("delete: %d %s", status, b)
	}
	if _, err := fx.store.Stat(context.Background(), inv.ID); upstream.KindOf(err) != upstream.KindNotFound {
		t.Errorf("after delete the store has it: %v", err)
	}
}

// recordOnlyStore is a store that cannot list (a remote one).
type recordOnlyStore struct{ upstream.Store }

func TestAStoreThatCannotListIsSearchedByRecordID(t *testing.T) {
	fx := newFixture(t, nil)
	fx.upload(t, "invoices", "r-1", "invoice-1.pdf", "ops", "one")
	remoteLike := newFixture(t, func(o *Options) { o.Store = recordOnlyStore{fx.store} })
	var cols collectionsAnswer
	remoteLike.get(t, "/console/api/store", "edit", &cols)
	if cols.CanList || len(cols.Collections) != 0 {
		t.Errorf("collections of a store that cannot list: %+v", cols)
	}
	var recs recordsAnswer
	remoteLike.get(t, "/console/api/store/records?collection=invoices&q=r-1", "edit", &recs)
	if recs.Total != 1 || len(recs.Records) != 1 || recs.Records[0].Files[0].Name != "invoice-1.pdf" {
		t.Errorf("record r-1: %+v", recs)
	}
	remoteLike.get(t, "/console/api/store/records?collection=invoices&q=r-9", "edit", &recs)
	if recs.Total != 0 {
		t.Errorf("record r-9: %+v", recs)
	}
	if status, _, _ := remoteLike.call(t, http.MethodGet, "/console/api/store/records?collection=invoices", "edit"); status != 400 {
		t.Errorf("no record id for a store that cannot list: %d", status)
	}
}

func TestMigrationStatus(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.status")
	now := time.Now()
	write := func(st migrate.Status) {
		if err := migrate.WriteStatus(file, st); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name                          string
		file                          string
		prepare                       func()
		configured, found, run, stale bool
		state                         string
	}{
		{name: "no flag", file: ""},
		{name: "no file yet", file: file, configured: true},
		{name: "running", file: file, prepare: func() {
			write(migrate.Status{State: migrate.StateRunning, Updated: now, FilesTotal: 10, FilesDone: 3})
		}, configured: true, found: true, run: true, state: "running"},
		{name: "killed", file: file, prepare: func() {
			write(migrate.Status{State: migrate.StateRunning, Updated: now.Add(-time.Minute)})
		}, configured: true, found: true, stale: true, state: "running"},
		{name: "done", file: file, prepare: func() { write(migrate.Status{State: migrate.StateDone, Updated: now}) },
			configured: true, found: true, state: "done"},
	} {
		if tc.prepare != nil {
			tc.prepare()
		}
		fx := newFixture(t, func(o *Options) { o.MigrateStatus = tc.file })
		var ans migrationStatus
		fx.get(t, "/console/api/migration", "viewer", &ans)
		state := ""
		if ans.Status != nil {
			state = ans.Status.State
		}
		if ans.Configured != tc.configured || ans.Found != tc.found || ans.Running != tc.run || ans.Stale != tc.stale || state != tc.state {
			t.Errorf("%s: %+v", tc.name, ans)
		}
	}
	if err := os.WriteFile(file, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ans migrationStatus
	newFixture(t, func(o *Options) { o.MigrateStatus = file }).get(t, "/console/api/migration", "viewer", &ans)
	if ans.Error == "" || ans.Running {
		t.Errorf("a broken status file: %+v", ans)
	}
}

type stubMirror mirror.Stats

func (s stubMirror) Stats() mirror.Stats { return mirror.Stats(s) }

func TestMirrorStatus(t *testing.T) {
	var ans mirrorAnswer
	newFixture(t, nil).get(t, "/console/api/mirror", "viewer", &ans)
	if ans.Configured {
		t.Errorf("no mirror: %+v", ans)
	}
	st := stubMirror{QueueDepth: 7, QueueOldest: 90 * time.Second, Applied: 3, Compared: map[string]uint64{"list": 5}, Diffs: map[string]uint64{"list": 2}}
	newFixture(t, func(o *Options) {
		o.Mirror, o.MirrorURL, o.MirrorMode = st, "nimblex+http://u:p@m.example", "dual-write"
	}).get(t, "/console/api/mirror", "viewer", &ans)
	if !ans.Configured || ans.URL != "nimblex+http://m.example" || ans.Mode != "dual-write" || ans.QueueDepth != 7 ||
		ans.OldestSeconds != 90 || ans.Applied != 3 || ans.Compared["list"] != 5 || ans.Diffs["list"] != 2 {
		t.Errorf("mirror: %+v", ans)
	}
}

// TestQuantilesAreOfTheLastMinute drives the traffic rows with a real
// duration histogram and a clock the test moves: a burst of slow requests
// shows in the windowed p99, then leaves it once it is older than the
// window; the first call, with nothing to diff, is since start.
func TestQuantilesAreOfTheLastMinute(t *testing.T) {
	reg := prometheus.NewRegistry()
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: durationFamily, Buckets: []float64{.001, .0025, .01, .1, 1, 2.5}},
		[]string{"dialect", "route"})
	reg.MustRegister(dur)
	w := newLatencyWindow(quantileWindow, snapshotSpacing)
	t0 := time.Unix(1_800_000_000, 0)
	const fast, slow = 0.002, 2.0 // seconds: in (1, 2.5] ms and (1, 2.5] s
	type want struct {
		window float64 // -1: null, since start
		p99    string  // "fast", "slow", "none"
	}
	for _, tc := range []struct {
		name       string
		at         time.Duration
		fast, slow int // requests of tl/files.create since the step before
		born       int // fast requests of tl/files.get, a route born at 10 s
		route      want
		dialectP99 string
	}{
		{"the first call is since start", 0, 100, 0, 0, want{-1, "fast"}, "fast"},
		{"a burst of slow requests shows", 10 * time.Second, 90, 10, 50, want{10, "slow"}, "slow"},
		{"and stays within the minute", 20 * time.Second, 100, 0, 0, want{20, "slow"}, "slow"},
		{"then leaves it", 65 * time.Second, 100, 0, 0, want{55, "fast"}, "fast"},
		{"a quiet minute has no quantile", 125 * time.Second, 0, 0, 0, want{60, "none"}, "none"},
		{"after a gap, the window is the gap", 400 * time.Second, 100, 5, 0, want{275, "slow"}, "slow"},
		{"a second poll of the same moment diffs the same", 400 * time.Second, 0, 0, 0, want{275, "slow"}, "slow"},
	} {
		for range tc.fast {
			dur.WithLabelValues("tl", "files.create").Observe(fast)
		}
		for range tc.slow {
			dur.WithLabelValues("tl", "files.create").Observe(slow)
		}
		for range tc.born {
			dur.WithLabelValues("tl", "files.get").Observe(fast)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		routes, dialects, _, window := trafficRows(families, w, t0.Add(tc.at))
		switch {
		case tc.route.window < 0 && window != nil:
			t.Errorf("%s: window %v s, want since start", tc.name, *window)
		case tc.route.window >= 0 && (window == nil || *window != tc.route.window):
			t.Errorf("%s: window %v, want %v s", tc.name, window, tc.route.window)
		}
		var create *trafficRow
		for i := range routes {
			if routes[i].Route == "files.create" {
				create = &routes[i]
			}
		}
		if create == nil || len(dialects) != 1 {
			t.Fatalf("%s: routes %+v, dialects %+v", tc.name, routes, dialects)
		}
		if got := speed(create.P99ms); got != tc.route.p99 {
			t.Errorf("%s: route p99 %s (%v ms), want %s", tc.name, got, create.P99ms, tc.route.p99)
		}
		if got := speed(dialects[0].P99ms); got != tc.dialectP99 {
			t.Errorf("%s: dialect p99 %s (%v ms), want %s", tc.name, got, dialects[0].P99ms, tc.dialectP99)
		}
		if tc.route.p99 != "none" {
			if got := speed(create.P50ms); got != "fast" {
				t.Errorf("%s: route p50 %s (%v ms), want fast", tc.name, got, create.P50ms)
			}
		}
	}
}

// speed names the bucket a quantile in ms fell in.
func speed(ms *float64) string {
	switch {
	case ms == nil:
		return "none"
	case *ms > 1 && *ms <= 2.5:
		return "fast"
	case *ms > 1000 && *ms <= 2500:
		return "slow"
	}
	return "other"
}

// TestTheLatencyWindowStaysSmall polls far more often than the spacing:
// the ring keeps about a window's worth of snapshots, not one per call.
func TestTheLatencyWindowStaysSmall(t *testing.T) {
	w := newLatencyWindow(quantileWindow, snapshotSpacing)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 10_000 {
		w.narrow(t0.Add(time.Duration(i)*50*time.Millisecond), nil)
	}
	if max := int(quantileWindow/snapshotSpacing) + 2; len(w.snaps) > max {
		t.Errorf("%d snapshots kept after 500 s of polls every 50 ms, want at most %d", len(w.snaps), max)
	}
}
