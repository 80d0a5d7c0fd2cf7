package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/keys"
)

// BenchmarkServe drives the whole server (connguard, fasthttp, fiber, the
// telemetry wrapper, the memory budget, routing, auth with its keys.json
// stat, the bundled store and the dialect's rendering), run in this
// process on loopback with the flags' defaults as bench/run.sh starts it
// (--rate-limit 0 --access-log=false), one keep-alive connection, one
// request at a time. allocs/op counts the client too: a fasthttp
// HostClient, which allocates nothing per request (see healthz).
//
// The small-request rows of bench/run.sh, in process:
//   - healthz: no key, no metadata read: the HTTP stack and middleware alone;
//   - nimblex-list: GET /jsonapi/records/bench/small/attachments, 10 files;
//   - infolobby-get: GET /api/table/bench/record/small/get, the same record;
//   - nimblex-download: GET of one of those 1 KiB files' content;
//   - nimblex-upload: POST of a 1 KiB file under one name, each replacing
//     the last (a blob written and fsynced, the metadata committed: its
//     time is the disk's, its allocations are the server's);
//   - passthrough: A (--upstream espocrm+B) forwards an unmodelled path to B,
//     which answers 404: both gateways' work is counted;
//   - b-404: that request to B alone, to tell A's share of passthrough;
//   - ...-metrics=off: with --metrics=false, the cost of the metrics.
func BenchmarkServe(b *testing.B) {
	on := startBenchServer(b, "--metrics=true")
	off := startBenchServer(b, "--metrics=false")
	for _, s := range []benchServer{on, off} {
		seedBenchRecord(b, s)
	}
	a := startBenchServer(b, "--upstream", "espocrm+http://"+on.addr, "--upstream-token", on.key)

	for _, tc := range []struct {
		name   string
		s      benchServer
		method string // "" for GET
		path   string
		header string // the credential header; "" for none
		body   []byte
		status int
	}{
		{"healthz", on, "", "/healthz", "", nil, 200},
		{"nimblex-list", on, "", "/jsonapi/records/bench/small/attachments", "Authorization", nil, 200},
		{"nimblex-list-metrics=off", off, "", "/jsonapi/records/bench/small/attachments", "Authorization", nil, 200},
		{"infolobby-get", on, "", "/api/table/bench/record/small/get", "Authorization", nil, 200},
		{"infolobby-get-metrics=off", off, "", "/api/table/bench/record/small/get", "Authorization", nil, 200},
		{"nimblex-download", on, "", "/jsonapi/records/bench/small/attachments/content/file-03.txt", "Authorization", nil, 200},
		{"nimblex-download-metrics=off", off, "", "/jsonapi/records/bench/small/attachments/content/file-03.txt", "Authorization", nil, 200},
		{"nimblex-upload", on, "POST", "/jsonapi/records/bench/up/attachments/content/file.txt", "Authorization", benchFile, 200},
		{"nimblex-upload-metrics=off", off, "POST", "/jsonapi/records/bench/up/attachments/content/file.txt", "Authorization", benchFile, 200},
		{"b-404", on, "", "/api/v1/Account/abc/opportunities", "X-Api-Key", nil, 404},
		{"passthrough", a, "", "/api/v1/Account/abc/opportunities", "X-Api-Key", nil, 404},
	} {
		b.Run(tc.name, func(b *testing.B) {
			hc := &fasthttp.HostClient{Addr: tc.s.addr, MaxConns: 1, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
			defer hc.CloseIdleConnections()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + tc.s.addr + tc.path)
			if tc.method != "" {
				req.Header.SetMethod(tc.method)
				req.Header.SetContentType("text/plain")
				req.SetBody(tc.body)
			}
			switch tc.header {
			case "Authorization":
				req.Header.Set("Authorization", "Bearer "+tc.s.key)
			case "":
			default:
				req.Header.Set(tc.header, tc.s.key)
			}
			do := func() {
				if err := hc.Do(req, resp); err != nil {
					b.Fatal(err)
				}
				if resp.StatusCode() != tc.status {
					b.Fatalf("%s: %d, want %d: %s", tc.path, resp.StatusCode(), tc.status, resp.Body())
				}
			}
			do()
			want := len(resp.Body())
			b.ReportAllocs()
			for b.Loop() {
				do()
				if len(resp.Body()) != want {
					b.Fatalf("%s: answer of %d bytes, the first was %d", tc.path, len(resp.Body()), want)
				}
			}
		})
	}
}

// benchFile is the 1 KiB file of bench/load's seed.
var benchFile = bytes.Repeat([]byte("dragoman bench\n"), 1024/15+1)[:1024]

type benchServer struct{ addr, key string }

// startBenchServer runs `serve` in this process with the bench's flags and
// extra, on a free loopback port and a data directory of its own, until
// the benchmark ends; it returns the address and a key that may edit.
func startBenchServer(b *testing.B, extra ...string) benchServer {
	b.Helper()
	data := filepath.Join(b.TempDir(), "data")
	var sc serveConfig
	fs := serveFlags("serve", &sc, io.Discard, io.Discard)
	args := append([]string{"--listen", "127.0.0.1:0", "--data", data, "--rate-limit", "0", "--access-log=false"}, extra...)
	if _, _, ok := fs.parse(args); !ok {
		b.Fatalf("flags %q do not parse", args)
	}
	// The key exists before the server starts: a remote upstream is
	// checked at start.
	key, err := keys.Create(data, "bench", false, nil)
	if err != nil {
		b.Fatal(err)
	}
	listening := make(chan net.Addr, 1)
	sc.onListening = func(a net.Addr) { listening <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, sc, args, slog.New(slog.DiscardHandler)) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("server: %v", err)
		}
	})
	select {
	case a := <-listening:
		return benchServer{addr: a.String(), key: key}
	case err := <-done:
		b.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		b.Fatal("server did not start within 10s")
	}
	return benchServer{}
}

// seedBenchRecord uploads the ten 1 KiB files of bench/load's seed to
// bench/small, as the small-request rows read them.
func seedBenchRecord(b *testing.B, s benchServer) {
	b.Helper()
	for i := range 10 {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(fmt.Sprintf("http://%s/jsonapi/records/bench/small/attachments/content/file-%02d.txt", s.addr, i))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.SetContentType("text/plain")
		req.SetBody(benchFile)
		err := fasthttp.DoTimeout(req, resp, 10*time.Second)
		status := resp.StatusCode()
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
		if err != nil || status != 200 {
			b.Fatalf("seed file %d: %d %v", i, status, err)
		}
	}
}
