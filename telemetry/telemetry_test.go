package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"", false},
		{"a", true},
		{"req-1.x_y:z", true},
		{strings.Repeat("z", 128), true},
		{strings.Repeat("z", 129), false},
		{"a b", false},
		{"a\nb", false},
		{"a/b", false},
		{"a\"b", false},
		{"\u00e9", false},
	} {
		if got := ValidRequestID([]byte(tc.id)); got != tc.want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// serve runs one request through Wrap(h) and returns the answer.
func serve(t *testing.T, tel *Telemetry, reqID string, h fasthttp.RequestHandler) *fasthttp.RequestCtx {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/x/y")
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetBodyString("12345")
	ctx.Request.Header.SetContentLength(5)
	if reqID != "" {
		ctx.Request.Header.Set(RequestIDHeader, reqID)
	}
	tel.Wrap(h)(&ctx)
	return &ctx
}

func TestWrapFillsAndEmitsTheRecord(t *testing.T) {
	var logs bytes.Buffer
	tel := New(Options{Metrics: true, AccessLog: slog.New(slog.NewTextHandler(&logs, nil))})
	rt := tel.Route("d", "r.one", "create", []int{201, 404})
	var seenID string
	ctx := serve(t, tel, "given-1", func(c *fasthttp.RequestCtx) {
		req := FromContext(c)
		seenID = req.ID()
		req.SetRoute(rt)
		req.SetKey("alice")
		ObserveUpstream(c, "up", 502, 3*time.Millisecond)
		ObserveUpstream(c, "up", 201, 2*time.Millisecond)
		c.SetStatusCode(201)
		c.SetBodyString("created")
	})
	if seenID != "given-1" || string(ctx.Response.Header.Peek(RequestIDHeader)) != "given-1" {
		t.Errorf("id inside %q, on the answer %q; want given-1", seenID, ctx.Response.Header.Peek(RequestIDHeader))
	}
	if ctx.UserValue(requestKey{}) != nil {
		t.Errorf("the Request outlived its request in the context")
	}
	recent := tel.Recent()
	if len(recent) != 1 {
		t.Fatalf("recent: %+v", recent)
	}
	r := recent[0]
	if r.Dialect != "d" || r.Route != "r.one" || r.Op != "create" || r.Status != 201 || r.BytesIn != 5 || r.BytesOut != 7 ||
		r.Key != "alice" || r.UpstreamCalls != 2 || r.UpstreamStatus != 201 || r.UpstreamDuration != 5*time.Millisecond ||
		r.Method != "POST" || r.Path != "/x/y" {
		t.Errorf("record %+v", r)
	}
	stats := tel.Routes()
	var found bool
	for _, s := range stats {
		if s.Route == "r.one" {
			found = true
			if s.Requests != 1 || s.Errors != 0 || s.BytesIn != 5 || s.BytesOut != 7 {
				t.Errorf("stats %+v", s)
			}
		}
	}
	if !found {
		t.Errorf("no stats for r.one: %+v", stats)
	}
	line := logs.String()
	for _, want := range []string{"request_id=given-1", "route=r.one", "status=201", "key=alice", "upstream_status=201", "upstream_calls=2"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
}

func TestWrapMakesIDsAndNamesUnroutedRequests(t *testing.T) {
	tel := New(Options{Metrics: true})
	a := serve(t, tel, "bad id!", func(*fasthttp.RequestCtx) {})
	b := serve(t, tel, "", func(*fasthttp.RequestCtx) {})
	ida, idb := string(a.Response.Header.Peek(RequestIDHeader)), string(b.Response.Header.Peek(RequestIDHeader))
	if ida == "" || ida == idb || !ValidRequestID([]byte(ida)) || !ValidRequestID([]byte(idb)) {
		t.Errorf("made ids %q and %q", ida, idb)
	}
	if r := tel.Recent(); len(r) != 2 || r[0].Route != RouteOther || r[0].RequestID != idb {
		t.Errorf("recent %+v", r)
	}
}

func TestOffKeepsIDsOnly(t *testing.T) {
	tel := New(Options{})
	ctx := serve(t, tel, "", func(c *fasthttp.RequestCtx) { ObserveUpstream(c, "up", 200, time.Millisecond) })
	if len(ctx.Response.Header.Peek(RequestIDHeader)) == 0 {
		t.Errorf("no id with telemetry off")
	}
	if tel.MetricsHandler() != nil || tel.Recent() != nil {
		t.Errorf("metrics off still serves metrics or keeps requests")
	}
	if RequestID(context.Background()) != "" || FromContext(nil) != nil {
		t.Errorf("a context outside any request has a request")
	}
}

func TestRingKeepsTheNewest(t *testing.T) {
	r := newRing(3)
	for i := 1; i <= 5; i++ {
		// A shorter path after a longer one in the same slot: the slot's
		// buffer must not keep the longer one's tail.
		r.add(Record{Status: i}, []byte("GET"), []byte(strings.Repeat("/p", 6-i)))
	}
	got := r.list()
	if len(got) != 3 || got[0].Status != 5 || got[1].Status != 4 || got[2].Status != 3 {
		t.Errorf("list %+v", got)
	}
	for _, rec := range got {
		if want := strings.Repeat("/p", 6-rec.Status); rec.Path != want || rec.Method != "GET" {
			t.Errorf("record %d: %s %q, want GET %q", rec.Status, rec.Method, rec.Path, want)
		}
	}
	r.add(Record{Status: 6}, []byte("PROPFIND"), []byte("/x"))
	if got := r.list()[0]; got.Method != "PROPFIND" || got.Path != "/x" {
		t.Errorf("an unusual method: %+v", got)
	}
}

func TestWriteLogLineIsTheAccessLogLine(t *testing.T) {
	var logs bytes.Buffer
	tel := New(Options{Metrics: true, AccessLog: slog.New(slog.NewJSONHandler(&logs, nil))})
	rt := tel.Route("d", "r.one", "create", []int{201})
	serve(t, tel, "line-1", func(c *fasthttp.RequestCtx) {
		FromContext(c).SetRoute(rt)
		FromContext(c).SetKey("alice")
		c.SetStatusCode(201)
	})
	var again bytes.Buffer
	if err := WriteLogLine(slog.NewJSONHandler(&again, nil), tel.Recent()[0]); err != nil {
		t.Fatal(err)
	}
	// The times differ by the moment each was written; all else is equal.
	strip := func(s string) string { return s[strings.Index(s, `"level"`):] }
	if strip(again.String()) != strip(logs.String()) {
		t.Errorf("rewritten line\n%s\nis not the access log's\n%s", again.String(), logs.String())
	}
	if tel.Gatherer() == nil || New(Options{}).Gatherer() != nil {
		t.Errorf("Gatherer: want the registry with metrics on, nil off")
	}
}

// TestRequestIDReplacesTheHandlers: an answer whose handler set its own
// X-Request-Id (a pass-through copies the upstream's) carries the
// request's id, once.
func TestRequestIDReplacesTheHandlers(t *testing.T) {
	for _, on := range []bool{false, true} {
		tel := New(Options{Metrics: on})
		ctx := serve(t, tel, "given-2", func(c *fasthttp.RequestCtx) {
			c.Response.Header.Set("x-request-id", "upstream-1")
			c.SetStatusCode(200)
		})
		var ids []string
		for k, v := range ctx.Response.Header.All() {
			if strings.EqualFold(string(k), RequestIDHeader) {
				ids = append(ids, string(k)+": "+string(v))
			}
		}
		if len(ids) != 1 || ids[0] != RequestIDHeader+": given-2" {
			t.Errorf("metrics %v: the answer's request id headers are %q, want only %s: given-2", on, ids, RequestIDHeader)
		}
	}
}
