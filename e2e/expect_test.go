package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// expectExchange sends a request's headers with Expect: 100-continue and
// returns the first answer the gateway gives before any body is sent, and
// the connection.
func expectExchange(t *testing.T, gw *gateway, method, path string, h hdr, length int64) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", gw.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n", method, path, gw.addr, length)
	for k, v := range h {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s: no answer before the body: %v", method, path, err)
	}
	return resp, conn, br
}

func TestExpectContinueRefusesEarly(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	ro := gw.key(t, "reader", "--read-only")
	sales := gw.key(t, "sales", "--collections", "Sales")
	const big = 26 << 20
	nxUpload := "/jsonapi/records/Case/E1/attachments/content/big.bin"
	cases := []struct {
		name   string
		method string
		path   string
		h      hdr
		length int64
		status int
	}{
		{"no credential", "POST", nxUpload, nil, big, 401},
		{"a wrong key", "POST", "/tables/T/records/R/attachments", hdr{"Authorization": "nope", "Content-Type": "multipart/form-data; boundary=x"}, big, 401},
		{"a read-only key", "POST", nxUpload, bearer(ro), big, 403},
		{"a key for other collections", "POST", nxUpload, bearer(sales), big, 403},
		{"an unknown route", "POST", "/jsonapi/no/such/route", bearer(key), big, 404},
		{"a declared size over the cap", "POST", "/api/table/T/record/R/files/create", bearer(key).with("Content-Type", "application/json"), 20 << 20, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, conn, br := expectExchange(t, gw, tc.method, tc.path, tc.h.with("X-Request-Id", "expect-"+fmt.Sprint(tc.status)+"-"+strings.ReplaceAll(tc.name, " ", "_")), tc.length)
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusContinue {
				t.Fatalf("answered 100 Continue, want the final %d at once", tc.status)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, snippet(body), tc.status)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("the refusal has no X-Request-Id")
			}
			// The gateway closes the connection: it never asked for the body.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := br.ReadByte(); err == nil {
				t.Errorf("the connection stayed open (read %q)", n)
			}
		})
	}
	t.Run("the refusal is in the dialect's shape", func(t *testing.T) {
		resp, _, _ := expectExchange(t, gw, "POST", "/tables/T/records/R/attachments", hdr{"Authorization": "nope", "X-Request-Id": "tl-expect"}, big)
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"fingerprint":"tl-expect"`) {
			t.Errorf("TransactionLink refusal body %s", snippet(body))
		}
		if l := waitLogLine(t, gw, "tl-expect"); !strings.Contains(l, "status=401") {
			t.Errorf("log line %s", l)
		}
	})
	t.Run("an acceptable request gets 100 Continue and is served once", func(t *testing.T) {
		data := strings.Repeat("x", 100000)
		resp, conn, br := expectExchange(t, gw, "POST", "/jsonapi/records/Case/E2/attachments/content/ok.bin", bearer(key).with("X-Request-Id", "expect-ok"), int64(len(data)))
		if resp.StatusCode != http.StatusContinue {
			t.Fatalf("status %d, want 100 Continue", resp.StatusCode)
		}
		if _, err := io.WriteString(conn, data); err != nil {
			t.Fatal(err)
		}
		final, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		final.Body.Close()
		if final.StatusCode != http.StatusOK {
			t.Fatalf("final status %d", final.StatusCode)
		}
		st, _, got := do(t, "GET", gw.url("/jsonapi/records/Case/E2/attachments/content/ok.bin"), bearer(key), nil)
		if st != 200 || string(got) != data {
			t.Errorf("read back %d, %d bytes", st, len(got))
		}
		waitLogLine(t, gw, "expect-ok") // fails if logged twice
	})
}
