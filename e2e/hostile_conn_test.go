package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Issue 16: the connection layer holds up against hostile clients. Every
// test here speaks raw bytes over TCP, as such a client does.

// TestDescriptorExhaustionDoesNotStopTheServer holds more idle
// connections than the process has descriptors: the gateway must refuse
// the excess cleanly and keep serving, with the default cap (derived from
// the descriptor limit) and with a cap set above it, where accept itself
// runs out of descriptors.
func TestDescriptorExhaustionDoesNotStopTheServer(t *testing.T) {
	const nofile, dials = 256, 300
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default cap", nil},
		{"cap above the descriptor limit", []string{"--max-conns", "1000", "--max-conns-per-ip", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := startGatewayNofile(t, nofile, tc.args...)
			conns := dialHeld(t, gw.addr, dials)
			var mu sync.Mutex
			refused, held := 0, 0
			var wg sync.WaitGroup
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, closed := readUntilClosed(c, 3*time.Second)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case !closed:
						held++
					case statusOf(got) == http.StatusServiceUnavailable || len(got) == 0:
						refused++
					default:
						t.Errorf("a refused connection got %s, want 503 or a plain close", snippet(got))
					}
				}()
			}
			wg.Wait()
			gw.alive(t)
			if held == 0 || refused == 0 || held+refused != dials {
				t.Errorf("%d connections held and %d refused of %d, want some of each", held, refused, dials)
			}
			if tc.args == nil && held > (nofile-64)/2 {
				t.Errorf("%d connections held, want at most the default cap %d", held, (nofile-64)/2)
			}
			for _, c := range conns {
				c.Close()
			}
			waitStatus(t, gw, "/healthz", http.StatusOK, 10*time.Second)
			gw.alive(t)
		})
	}
}

// waitStatus polls a fresh connection's GET path until it answers want.
func waitStatus(t testing.TB, gw *gateway, path string, want int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last []byte
	for time.Now().Before(deadline) {
		got, _ := rawExchange(t, gw.addr, []byte("GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 2*time.Second)
		if statusOf(got) == want {
			return
		}
		last = got
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s never answered %d within %v; last answer %s", path, want, limit, snippet(last))
}

// TestConnectionsPerIPAreCapped: past --max-conns-per-ip, a new
// connection from the same address is answered 429 and closed; a freed
// slot is served again.
func TestConnectionsPerIPAreCapped(t *testing.T) {
	gw := startGateway(t, "--max-conns-per-ip", "4")
	// The health check's keep-alive connection would take a slot.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	conns := dialHeld(t, gw.addr, 4)
	fmt.Fprint(conns[3], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if got, _ := readUntilClosed(conns[3], 500*time.Millisecond); statusOf(got) != http.StatusOK {
		t.Fatalf("the fourth connection: %s, want it served", snippet(got))
	}
	got, closed := rawExchange(t, gw.addr, nil, 3*time.Second)
	if !closed || statusOf(got) != http.StatusTooManyRequests {
		t.Fatalf("fifth connection: closed=%v answer %s, want 429 and a close", closed, snippet(got))
	}
	if !bytes.Contains(got, []byte("Retry-After:")) {
		t.Errorf("429 without Retry-After: %s", snippet(got))
	}
	conns[0].Close()
	waitStatus(t, gw, "/healthz", http.StatusOK, 5*time.Second)
}

// TestSlowHeadersAreTimedOut: a connection that sends nothing, half a
// request line or half a header is answered 408 and closed once
// --read-header-timeout has passed, instead of being held forever.
func TestSlowHeadersAreTimedOut(t *testing.T) {
	gw := startGateway(t, "--read-header-timeout", "1s")
	for _, tc := range []struct{ name, payload string }{
		{"nothing", ""},
		{"half a request line", "GET /jsonapi/rec"},
		{"half a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got, closed := rawExchange(t, gw.addr, []byte(tc.payload), 6*time.Second)
			if !closed {
				t.Fatalf("connection still open after %v, want it closed after the 1s header timeout", time.Since(start))
			}
			if el := time.Since(start); el < 900*time.Millisecond || el > 4*time.Second {
				t.Errorf("closed after %v, want about 1s", el)
			}
			if st := statusOf(got); st != http.StatusRequestTimeout {
				t.Errorf("answer %s, want 408", snippet(got))
			}
		})
	}
	gw.alive(t)
}

// TestStalledBodiesAreTimedOut: a body that stops arriving (short of its
// Content-Length, or mid-chunk) is answered 408 once --body-idle-timeout
// passes with no byte, and its upload leaves nothing behind; a slow body
// that keeps moving is not cut off, however long it takes.
func TestStalledBodiesAreTimedOut(t *testing.T) {
	gw := startGateway(t, "--read-header-timeout", "1s", "--body-idle-timeout", "1s")
	key := gw.key(t, "w")
	path := "/jsonapi/records/stall/r1/attachments/content/"
	for _, tc := range []struct{ name, framing, partial string }{
		{"short of its Content-Length", "Content-Length: 100000\r\n", "0123456789"},
		{"mid-chunk", "Transfer-Encoding: chunked\r\n", "400\r\n0123456789"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-") + ".bin"
			req := "POST " + path + name + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n" + tc.framing + "\r\n" + tc.partial
			start := time.Now()
			got, closed := rawExchange(t, gw.addr, []byte(req), 8*time.Second)
			if !closed || statusOf(got) != http.StatusRequestTimeout {
				t.Fatalf("after %v: closed=%v answer %s, want 408 and a close", time.Since(start), closed, snippet(got))
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("answered after %v, want about 1s", el)
			}
			waitNoTmp(t, gw)
			st, _, _ := do(t, http.MethodGet, gw.url(path+name), bearer(key), nil)
			if st != http.StatusNotFound {
				t.Errorf("GET the stalled upload: %d, want 404", st)
			}
		})
	}
	t.Run("slow but moving", func(t *testing.T) {
		c, err := net.Dial("tcp", gw.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		const pieces = 6
		fmt.Fprintf(c, "POST %sslow.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", path, key, pieces*4)
		for i := 0; i < pieces; i++ { // 2.4 s in all: past both timeouts
			time.Sleep(400 * time.Millisecond)
			if _, err := c.Write([]byte("abcd")); err != nil {
				t.Fatalf("piece %d: %v", i, err)
			}
		}
		got, _ := readUntilClosed(c, 5*time.Second)
		if statusOf(got) != http.StatusOK {
			t.Fatalf("slow upload answered %s, want 200", snippet(got))
		}
		st, _, body := do(t, http.MethodGet, gw.url(path+"slow.bin"), bearer(key), nil)
		if st != http.StatusOK || string(body) != strings.Repeat("abcd", pieces) {
			t.Fatalf("GET slow upload: %d %s", st, snippet(body))
		}
	})
}

// waitNoTmp waits until the store has no upload in flight.
func waitNoTmp(t testing.TB, gw *gateway) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(tmpFiles(t, gw)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("temp files left behind: %v", tmpFiles(t, gw))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMalformedRequestsAreNotEchoed: fasthttp's own 400 quotes its raw
// buffer, which holds the client's headers and the next pipelined request
// (another client's credentials, behind a shared proxy connection). The
// answer is a fixed text, in the dialect's shape when the path is one of a
// dialect's.
func TestMalformedRequestsAreNotEchoed(t *testing.T) {
	gw := startGateway(t)
	victim := "GET /jsonapi/records/a/b/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer VICTIM-SECRET\r\n\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
		body      string // the whole expected body
	}{
		{"negative length, nimblex", "POST /jsonapi/records/a/b/attachments/content/f HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + victim,
			400, ""},
		{"negative length, infolobby", "POST /api/table/1/record/2/files/create HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + victim,
			400, `{"error":"malformed request","status":400}`},
		{"negative length, no dialect", "POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + victim,
			400, "malformed request\n"},
		{"unknown transfer coding, transactionlink", "POST /tables/t/records/r/attachments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + victim,
			400, ""},
		{"no route at all", "GET /nowhere-VICTIM HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			404, "Not Found"},
		{"header too large, infolobby", "POST /api/table/1/record/2/get HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("v", 20<<10) + "\r\n\r\n" + victim,
			431, `{"error":"request header too large","status":431}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := rawExchange(t, gw.addr, []byte(tc.req), 5*time.Second)
			if st := statusOf(got); st != tc.status {
				t.Fatalf("answer %s, want %d", snippet(got), tc.status)
			}
			for _, leak := range []string{"VICTIM", "Content-Length: -1", "gzip", "vvvvvvvv"} {
				if bytes.Contains(bodyOf(got), []byte(leak)) {
					t.Errorf("the answer echoes the request (%q): %s", leak, snippet(got))
				}
			}
			if tc.body != "" && string(bodyOf(got)) != tc.body {
				t.Errorf("body %q, want %q", bodyOf(got), tc.body)
			}
			if strings.HasSuffix(tc.name, "transactionlink") && !bytes.Contains(bodyOf(got), []byte(`"code":"INVALID"`)) {
				t.Errorf("TransactionLink error not in its shape: %s", snippet(got))
			}
		})
	}
	gw.alive(t)
}

// TestFramingIsStrict: a negative or oversized chunk size and a request
// with both Content-Length and Transfer-Encoding are refused with 400 and
// store nothing.
func TestFramingIsStrict(t *testing.T) {
	gw := startGateway(t)
	key := gw.key(t, "w")
	path := "/jsonapi/records/framing/r1/attachments/content/"
	for _, tc := range []struct{ name, framing, body string }{
		{"negative chunk size", "Transfer-Encoding: chunked\r\n", "-5\r\nhello\r\n0\r\n\r\n"},
		{"20 hex digit chunk size", "Transfer-Encoding: chunked\r\n", "00000000000000000005\r\nhello\r\n0\r\n\r\n"},
		{"chunk size with a sign", "Transfer-Encoding: chunked\r\n", "+5\r\nhello\r\n0\r\n\r\n"},
		{"Content-Length and Transfer-Encoding", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"},
		{"Transfer-Encoding and Content-Length", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "5\r\nhello\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			req := "POST " + path + name + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n" + tc.framing + "\r\n" + tc.body
			start := time.Now()
			got, closed := rawExchange(t, gw.addr, []byte(req), 5*time.Second)
			if statusOf(got) != http.StatusBadRequest {
				t.Fatalf("answer %s, want 400", snippet(got))
			}
			if !closed {
				t.Errorf("connection kept open after broken framing")
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("answered after %v", el)
			}
			st, _, body := do(t, http.MethodGet, gw.url(path+name), bearer(key), nil)
			if st != http.StatusNotFound {
				t.Errorf("GET %s: %d %s, want 404: nothing stored", name, st, snippet(body))
			}
		})
	}
}

// TestShutdownIsNotHeldByHalfOpenRequests: SIGTERM with a connection that
// never finishes its header, and an idle keep-alive one, exits 0 at once;
// a request whose header is in runs to its end first.
func TestShutdownIsNotHeldByHalfOpenRequests(t *testing.T) {
	t.Run("half-open only", func(t *testing.T) {
		gw := startGateway(t)
		half := dialHeld(t, gw.addr, 1)[0]
		fmt.Fprint(half, "GET /healthz HTTP/1.1\r\nHo")
		idle := dialHeld(t, gw.addr, 1)[0]
		fmt.Fprint(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if got, _ := readUntilClosed(idle, 500*time.Millisecond); statusOf(got) != http.StatusOK {
			t.Fatalf("keep-alive request: %s", snippet(got))
		}
		time.Sleep(100 * time.Millisecond)
		code, took := gw.signalAndWait(t, syscall.SIGTERM, 8*time.Second)
		if code != 0 || took > 3*time.Second {
			t.Fatalf("exit code %d after %v, want 0 at once", code, took)
		}
	})
	t.Run("request in progress", func(t *testing.T) {
		gw := startGateway(t)
		key := gw.key(t, "w")
		c := dialHeld(t, gw.addr, 1)[0]
		fmt.Fprintf(c, "POST /jsonapi/records/sd/r/attachments/content/f.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 10\r\n\r\n01234", key)
		time.Sleep(300 * time.Millisecond)
		type exit struct {
			code int
			took time.Duration
		}
		exited := make(chan exit, 1)
		go func() {
			code, took := gw.signalAndWait(t, syscall.SIGTERM, 8*time.Second)
			exited <- exit{code, took}
		}()
		time.Sleep(500 * time.Millisecond)
		fmt.Fprint(c, "56789")
		got, _ := readUntilClosed(c, 5*time.Second)
		if statusOf(got) != http.StatusOK {
			t.Fatalf("the upload in progress answered %s, want 200", snippet(got))
		}
		if e := <-exited; e.code != 0 {
			t.Fatalf("exit code %d after %v, want 0", e.code, e.took)
		}
	})
}

// TestConnectionDefaults: with no flags, a header is waited for 10 s and
// an address may hold 256 connections.
func TestConnectionDefaults(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	t.Run("header timeout 10s", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		got, closed := rawExchange(t, gw.addr, []byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"), 20*time.Second)
		el := time.Since(start)
		if !closed || statusOf(got) != http.StatusRequestTimeout || el < 9*time.Second || el > 15*time.Second {
			t.Fatalf("half a header: closed=%v after %v, answer %s; want 408 after about 10 s", closed, el, snippet(got))
		}
	})
	t.Run("256 connections per address", func(t *testing.T) {
		t.Parallel()
		gw := startGateway(t) // its own: the other subtest holds a connection
		// The health check's keep-alive connection would take a slot.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		time.Sleep(200 * time.Millisecond)
		held := dialHeld(t, gw.addr, 256)
		fmt.Fprint(held[255], "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if got, _ := readUntilClosed(held[255], 3*time.Second); statusOf(got) != http.StatusOK {
			t.Fatalf("connection 256: %s, want it served", snippet(got))
		}
		held[255].Close()
		held[255] = dialHeld(t, gw.addr, 1)[0]
		time.Sleep(300 * time.Millisecond)
		got, closed := rawExchange(t, gw.addr, nil, 3*time.Second)
		if !closed || statusOf(got) != http.StatusTooManyRequests {
			t.Fatalf("connection 257: closed=%v answer %s, want 429", closed, snippet(got))
		}
	})
}
