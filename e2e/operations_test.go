package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Operating the gateway (issue 11): request ids, metrics, the access log,
// CORS. Shutdown, reload and the config file are in lifecycle_test.go.

// nxList is the Nimblex list URL of a record.
func nxList(gw *gateway, record string) string {
	return gw.url("/jsonapi/records/Case/" + record + "/attachments")
}

// nxSeed makes record Case/record exist, with one small file.
func nxSeed(t *testing.T, gw *gateway, key, record string) {
	t.Helper()
	st, _, body := do(t, http.MethodPost, gw.url("/jsonapi/records/Case/"+record+"/attachments/content/seed.txt"), bearer(key), []byte("seed"))
	if st != http.StatusOK {
		t.Fatalf("seed %s: %d %s", record, st, snippet(body))
	}
}

// logLines returns the access-log lines of the gateway's output so far
// whose request_id is id, in text form (key=value).
func logLines(gw *gateway, id string) []string {
	var out []string
	for _, l := range strings.Split(gw.out.String(), "\n") {
		if strings.Contains(l, "msg=request ") && strings.Contains(l, "request_id="+id+" ") {
			out = append(out, l)
		}
	}
	return out
}

// waitLogLine waits for the access-log line of request id (the line is
// written once the answer is on its way, so a client may see it first).
func waitLogLine(t *testing.T, gw *gateway, id string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if ls := logLines(gw, id); len(ls) > 0 {
			if len(ls) > 1 {
				t.Errorf("request %s logged %d times: %q", id, len(ls), ls)
			}
			return ls[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no access-log line for request %s in:\n%s", id, gw.out.String())
	return ""
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "ids")
	nxSeed(t, gw, key, "1")
	idRE := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

	t.Run("every answer carries one, new ones are unique", func(t *testing.T) {
		seen := map[string]bool{}
		for _, h := range []hdr{bearer(key), {}, bearer("wrong")} {
			for range 2 {
				_, resp, _ := do(t, http.MethodGet, nxList(gw, "1"), h, nil)
				id := resp.Get("X-Request-Id")
				if !idRE.MatchString(id) || seen[id] {
					t.Fatalf("X-Request-Id %q: malformed or repeated (seen %v)", id, seen)
				}
				seen[id] = true
			}
		}
		_, resp, _ := do(t, http.MethodGet, gw.url("/healthz"), nil, nil)
		if resp.Get("X-Request-Id") == "" {
			t.Errorf("/healthz has no X-Request-Id")
		}
	})

	for _, tc := range []struct {
		name, in string
		kept     bool
	}{
		{"a well-formed id is kept", "req-42.a_b:c", true},
		{"128 characters are kept", strings.Repeat("a", 128), true},
		{"129 characters are replaced", strings.Repeat("a", 129), false},
		{"a space is replaced", "two words", false},
		{"a slash is replaced", "a/b", false},
		{"non-ASCII is replaced", "caf\u00e9", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, _ := do(t, http.MethodGet, nxList(gw, "1"), bearer(key).with("X-Request-Id", tc.in), nil)
			got := resp.Get("X-Request-Id")
			if (got == tc.in) != tc.kept || !idRE.MatchString(got) {
				t.Errorf("sent %q, answer says %q; want kept=%v and well-formed", tc.in, got, tc.kept)
			}
		})
	}

	t.Run("TransactionLink's fingerprint is the request id", func(t *testing.T) {
		st, resp, body := do(t, http.MethodGet, gw.url("/tables/T/records/R/attachments/not-a-uuid"), hdr{"Authorization": key, "X-Request-Id": "tl-fp-1"}, nil)
		var e struct {
			Fingerprint string `json:"fingerprint"`
		}
		if err := json.Unmarshal(body, &e); err != nil || st < 400 {
			t.Fatalf("status %d body %s: want an error body (%v)", st, snippet(body), err)
		}
		if e.Fingerprint != "tl-fp-1" || resp.Get("X-Request-Id") != "tl-fp-1" {
			t.Errorf("fingerprint %q, header %q; want both tl-fp-1", e.Fingerprint, resp.Get("X-Request-Id"))
		}
		if line := waitLogLine(t, gw, "tl-fp-1"); !strings.Contains(line, "error=") {
			t.Errorf("the log line of an error names no error kind: %s", line)
		}
	})

	t.Run("upstream calls carry it", func(t *testing.T) {
		front, back, fk, _ := chain(t, "nimblex")
		nxSeed(t, front, fk, "9")
		st, _, body := do(t, http.MethodGet, nxList(front, "9"), bearer(fk).with("X-Request-Id", "chain-7"), nil)
		if st != http.StatusOK {
			t.Fatalf("list through the front: %d %s", st, snippet(body))
		}
		// The upstream (a dragoman too) keeps the id it was sent.
		line := waitLogLine(t, back, "chain-7")
		if !strings.Contains(line, "route=attachments.list") {
			t.Errorf("upstream's line: %s", line)
		}
		fl := waitLogLine(t, front, "chain-7")
		if !strings.Contains(fl, "upstream_status=200") || !strings.Contains(fl, "upstream_duration_ms=") {
			t.Errorf("front's line has no upstream status and duration: %s", fl)
		}
	})
}

// metricsText fetches url and returns its body, failing on anything but a
// Prometheus text answer.
func metricsText(t *testing.T, url string) string {
	t.Helper()
	st, resp, body := do(t, http.MethodGet, url, nil, nil)
	if st != http.StatusOK || !strings.HasPrefix(resp.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s %s", url, st, resp.Get("Content-Type"), snippet(body))
	}
	return string(body)
}

// sample finds the value of one sample line, name{labels} value.
func sample(text, series string) (string, bool) {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v, true
		}
	}
	return "", false
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "metrics")
	if st, _, _ := do(t, http.MethodPost, gw.url("/jsonapi/records/Case/m1/attachments/content/a.txt"), bearer(key), []byte("hello metrics")); st != http.StatusOK {
		t.Fatalf("upload: %d", st)
	}
	for range 3 {
		if st, _, body := do(t, http.MethodGet, nxList(gw, "m1"), bearer(key), nil); st != http.StatusOK {
			t.Fatalf("list: %d %s", st, snippet(body))
		}
	}
	do(t, http.MethodGet, nxList(gw, "m1"), nil, nil)                             // 401
	do(t, http.MethodGet, gw.url("/jsonapi/no/such/path/4711"), bearer(key), nil) // unmatched
	text := metricsText(t, gw.url("/metrics"))

	for _, want := range []struct{ series, value string }{
		{`dragoman_requests_total{dialect="nimblex",route="attachments.list",status="200"}`, "3"},
		{`dragoman_requests_total{dialect="nimblex",route="attachments.list",status="401"}`, "1"},
		{`dragoman_requests_total{dialect="nimblex",route="attachments.content.upload",status="200"}`, "1"},
		{`dragoman_requests_total{dialect="nimblex",route="_unmatched",status="404"}`, "1"},
		{`dragoman_request_duration_seconds_count{dialect="nimblex",route="attachments.list"}`, "4"},
		{`dragoman_request_bytes_total{dialect="nimblex"}`, "13"},
		{`dragoman_store_attachments`, "1"},
		{`dragoman_store_bytes`, "13"},
		{`dragoman_config_reloads_total{result="ok"}`, "0"},
	} {
		if got, ok := sample(text, want.series); !ok || got != want.value {
			t.Errorf("%s = %q (present %v), want %s", want.series, got, ok, want.value)
		}
	}
	for _, family := range []string{"dragoman_response_bytes_total{", "dragoman_inflight_requests ",
		"go_goroutines ", "process_resident_memory_bytes ", "# TYPE dragoman_request_duration_seconds histogram"} {
		if !strings.Contains(text, family) {
			t.Errorf("no %s in /metrics", family)
		}
	}
	if strings.Contains(text, "m1") || strings.Contains(text, "4711") || strings.Contains(text, "a.txt") {
		t.Errorf("a raw path made it into a label:\n%s", text)
	}

	t.Run("upstream families count calls", func(t *testing.T) {
		front, _, fk, _ := chain(t, "nimblex")
		nxSeed(t, front, fk, "u1")
		do(t, http.MethodGet, nxList(front, "u1"), bearer(fk), nil)
		text := metricsText(t, front.url("/metrics"))
		if got, ok := sample(text, `dragoman_upstream_requests_total{status="200",upstream="nimblex"}`); !ok || got == "0" {
			t.Errorf("upstream calls: %q (present %v)\n%s", got, ok, grepLines(text, "dragoman_upstream"))
		}
		if got, ok := sample(text, `dragoman_upstream_duration_seconds_count{upstream="nimblex"}`); !ok || got == "0" {
			t.Errorf("upstream durations: %q (present %v)", got, ok)
		}
	})

	t.Run("--admin takes /metrics off the main listener", func(t *testing.T) {
		admin := freeAddr(t)
		gw := startGateway(t, "--admin", admin)
		if st, _, _ := do(t, http.MethodGet, gw.url("/metrics"), nil, nil); st == http.StatusOK {
			t.Errorf("/metrics on the main listener answered 200 with --admin")
		}
		if !strings.Contains(metricsText(t, "http://"+admin+"/metrics"), "dragoman_requests_total") {
			t.Errorf("no dragoman_requests_total on the admin listener")
		}
	})

	t.Run("--metrics=false turns them off", func(t *testing.T) {
		gw := startGateway(t, "--metrics=false")
		if st, _, _ := do(t, http.MethodGet, gw.url("/metrics"), nil, nil); st == http.StatusOK {
			t.Errorf("/metrics answered 200 with --metrics=false")
		}
	})
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	t.Run("text", func(t *testing.T) {
		gw := startGateway(t)
		key := gw.key(t, "alice")
		do(t, http.MethodPost, gw.url("/jsonapi/records/Case/L1/attachments/content/x.bin"), bearer(key).with("X-Request-Id", "log-up"), []byte("0123456789"))
		line := waitLogLine(t, gw, "log-up")
		for _, want := range []string{"dialect=nimblex", "route=attachments.content.upload", "op=create", "method=POST",
			"path=/jsonapi/records/Case/L1/attachments/content/x.bin", "status=200", "bytes_in=10", "bytes_out=0",
			"duration_ms=", "key=alice", "time="} {
			if !strings.Contains(line, want) {
				t.Errorf("no %s in %s", want, line)
			}
		}
		if strings.Contains(gw.out.String(), key) {
			t.Errorf("the key's secret is in the log")
		}
		do(t, http.MethodGet, nxList(gw, "L1"), bearer("nope").with("X-Request-Id", "log-401"), nil)
		if line := waitLogLine(t, gw, "log-401"); !strings.Contains(line, "status=401") || !strings.Contains(line, "error=unauthorized") || !strings.Contains(line, "key=\"\"") {
			t.Errorf("a refused request's line: %s", line)
		}
	})
	t.Run("json", func(t *testing.T) {
		gw := startGateway(t, "--log-format", "json")
		key := gw.key(t, "bob")
		nxSeed(t, gw, key, "J1")
		do(t, http.MethodGet, nxList(gw, "J1"), bearer(key).with("X-Request-Id", "log-json"), nil)
		deadline := time.Now().Add(5 * time.Second)
		for {
			var found map[string]any
			sc := bufio.NewScanner(strings.NewReader(gw.out.String()))
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil && m["request_id"] == "log-json" {
					found = m
				}
			}
			if found != nil {
				want := map[string]any{"msg": "request", "dialect": "nimblex", "route": "attachments.list", "op": "list",
					"method": "GET", "status": float64(200), "key": "bob", "bytes_in": float64(0)}
				for k, v := range want {
					if found[k] != v {
						t.Errorf("%s = %v, want %v (%v)", k, found[k], v, found)
					}
				}
				for _, k := range []string{"time", "path", "bytes_out", "duration_ms"} {
					if _, ok := found[k]; !ok {
						t.Errorf("no %s in %v", k, found)
					}
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no JSON access-log line in:\n%s", gw.out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("off", func(t *testing.T) {
		gw := startGateway(t, "--access-log=false")
		key := gw.key(t, "carol")
		do(t, http.MethodGet, nxList(gw, "O1"), bearer(key).with("X-Request-Id", "log-off"), nil)
		time.Sleep(200 * time.Millisecond)
		if strings.Contains(gw.out.String(), "log-off") {
			t.Errorf("--access-log=false still logged:\n%s", gw.out.String())
		}
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	gw := startGateway(t, "--cors-origins", "https://app.example.com, http://localhost:3000")
	key := gw.key(t, "browser")
	nxSeed(t, gw, key, "C1")
	preflight := func(t *testing.T, gw *gateway, url, origin string) (int, http.Header) {
		st, h, _ := do(t, http.MethodOptions, url, hdr{"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization, content-type"}, nil)
		return st, h
	}

	t.Run("a preflight is answered for an allowed origin", func(t *testing.T) {
		st, h := preflight(t, gw, gw.url("/jsonapi/records/Case/C1/attachments/content/a.txt"), "https://app.example.com")
		if st != http.StatusNoContent {
			t.Fatalf("preflight: %d", st)
		}
		if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Errorf("Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
		}
		for _, m := range []string{"GET", "POST"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
				t.Errorf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), m)
			}
		}
		for _, hd := range []string{"Authorization", "Content-Type"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), hd) {
				t.Errorf("Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), hd)
			}
		}
		if h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("no Max-Age")
		}
		// The credential header is each dialect's own.
		_, h = preflight(t, gw, gw.url("/api/v1/Attachment"), "http://localhost:3000")
		if !strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Api-Key") {
			t.Errorf("EspoCRM's Allow-Headers %q lacks X-Api-Key", h.Get("Access-Control-Allow-Headers"))
		}
	})
	t.Run("answers carry Allow-Origin and Expose-Headers", func(t *testing.T) {
		st, h, _ := do(t, http.MethodGet, nxList(gw, "C1"), bearer(key).with("Origin", "https://app.example.com"), nil)
		if st != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("%d, Allow-Origin %q", st, h.Get("Access-Control-Allow-Origin"))
		}
		for _, e := range []string{"X-Request-Id", "X-Status-Reason", "Content-Disposition", "ETag", "Content-Length"} {
			if !strings.Contains(h.Get("Access-Control-Expose-Headers"), e) {
				t.Errorf("Expose-Headers %q lacks %s", h.Get("Access-Control-Expose-Headers"), e)
			}
		}
		// Errors too: a browser script must be able to read them.
		_, h, _ = do(t, http.MethodGet, nxList(gw, "C1"), hdr{"Origin": "https://app.example.com"}, nil)
		if h.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("a 401 has no Allow-Origin")
		}
	})
	t.Run("another origin gets nothing", func(t *testing.T) {
		_, h := preflight(t, gw, nxList(gw, "C1"), "https://evil.example.com")
		_, h2, _ := do(t, http.MethodGet, nxList(gw, "C1"), bearer(key).with("Origin", "https://evil.example.com"), nil)
		if h.Get("Access-Control-Allow-Origin") != "" || h2.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("a foreign origin was allowed: %q %q", h.Get("Access-Control-Allow-Origin"), h2.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("* allows any origin", func(t *testing.T) {
		gw := startGateway(t, "--cors-origins", "*")
		st, h := preflight(t, gw, nxList(gw, "C1"), "https://any.example.org")
		if st != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%d, Allow-Origin %q", st, h.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("off by default", func(t *testing.T) {
		gw := startGateway(t)
		key := gw.key(t, "k")
		nxSeed(t, gw, key, "C1")
		_, h, _ := do(t, http.MethodGet, nxList(gw, "C1"), bearer(key).with("Origin", "https://app.example.com"), nil)
		st, h2 := preflight(t, gw, nxList(gw, "C1"), "https://app.example.com")
		if h.Get("Access-Control-Allow-Origin") != "" || h2.Get("Access-Control-Allow-Origin") != "" || st == http.StatusNoContent {
			t.Errorf("CORS answered without --cors-origins: %d %q %q", st, h.Get("Access-Control-Allow-Origin"), h2.Get("Access-Control-Allow-Origin"))
		}
	})
}

// signal sends sig to the running gateway.
func (gw *gateway) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	gw.mu.Lock()
	cmd := gw.cmd
	gw.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits for the process to end and returns how it ended, as the
// harness logged it.
func (gw *gateway) waitExit(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case <-gw.exited():
	case <-time.After(within):
		t.Fatalf("the gateway did not exit within %v", within)
	}
	out := gw.out.String()
	i := strings.LastIndex(out, "--- exited: ")
	return strings.TrimSpace(out[i+len("--- exited: "):])
}
