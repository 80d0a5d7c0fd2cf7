package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/connguard"
	"github.com/dragoman-gw/dragoman/keys"
)

// FuzzListenerFraming writes raw bytes to the whole server (listener,
// fasthttp, fiber, every dialect's routes, the bundled store), running
// in-process on loopback, and checks what a hostile client must never
// get: the server stopping, or its answer echoing request bytes. Each
// input is followed, on the same connection, by a request carrying a
// credential the fuzzer cannot guess (a pipelined victim); no answer may
// contain it. "KEY" in an input is replaced by a valid key.
func FuzzListenerFraming(f *testing.F) {
	addr, key := startInProcess(f)
	canary := make([]byte, 12)
	_, _ = rand.Read(canary)
	secret := "CANARY" + hex.EncodeToString(canary)
	victim := []byte("GET /jsonapi/records/a/b/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret + "\r\nConnection: close\r\n\r\n")

	for _, seed := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /jsonapi/records/a/b/attachments/content/f HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST /jsonapi/records/a/b/attachments/content/f HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
		"POST /jsonapi/records/a/b/attachments/content/f HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
		"POST /jsonapi/records/a/b/attachments/content/f HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /api/table/1/record/2/files/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"GET /tables/t/records/r/attachments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"GET /api/v1/Attachment HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n folded: value\r\n\r\n",
		"GET /\x00 HTTP/1.1\r\n\r\n",
		"\r\n\r\n\r\n",
		"GET /api/v2/assets/a/attachments HTTP/1.1\nHost: x\n\n",
		"POST /jsonapi/records/a/b/attachments/content/g HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"a\r\nb\"\r\nhello\r\n0\r\n\r\n",
		"POST /jsonapi/records/a/b/attachments/content/h HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		in = bytes.ReplaceAll(in, []byte("KEY"), []byte(key))
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("the server stopped accepting: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, _ = c.Write(append(append([]byte(nil), in...), victim...))
		// Until the server closes, or the header and body timeouts (300 ms
		// each) have had their turn.
		out, _ := io.ReadAll(io.LimitReader(c, 1<<20))
		if bytes.Contains(out, []byte(secret)) {
			t.Fatalf("an answer echoes the pipelined victim's credential:\n%q", out)
		}
		assertHealthy(t, addr)
	})
}

// startInProcess runs the server in this process on a free loopback port,
// with short timeouts, until the fuzz target ends; it returns the address
// and a key that may edit.
func startInProcess(f *testing.F) (addr, key string) {
	data := filepath.Join(f.TempDir(), "data")
	sc := serveConfig{
		listen: "127.0.0.1:0", data: data, upstream: "bundled", bufferLimit: 1 << 20,
		linkTTL: time.Minute,
		conn:    connguard.Limits{MaxConns: 1000, HeaderTimeout: 300 * time.Millisecond, BodyIdle: 300 * time.Millisecond},
	}
	listening := make(chan net.Addr, 1)
	sc.onListening = func(a net.Addr) { listening <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, sc, nil, slog.New(slog.DiscardHandler)) }()
	f.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.Errorf("server: %v", err)
		}
	})
	select {
	case a := <-listening:
		addr = a.String()
	case err := <-done:
		f.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		f.Fatal("server did not start within 10s")
	}
	key, err := keys.Create(data, "fuzz", false, nil)
	if err != nil {
		f.Fatal(err)
	}
	return addr, key
}

// assertHealthy fails unless a fresh connection gets 200 from /healthz.
func assertHealthy(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("the server stopped accepting: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	out, _ := io.ReadAll(c)
	if !bytes.HasPrefix(out, []byte("HTTP/1.1 200 ")) {
		t.Fatalf("the server stopped serving: /healthz answered %q", out)
	}
}
