package e2e

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// requestIDOf is the X-Request-Id header of a raw answer, or "".
func requestIDOf(answer []byte) string {
	head, _, _ := bytes.Cut(answer, []byte("\r\n\r\n"))
	for line := range strings.SplitSeq(string(head), "\r\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "X-Request-Id") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

var wellFormedID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// TestConnectionLevelErrorsCarryARequestID: what the connection guard
// answers (a header that times out, a request fasthttp cannot parse,
// framing refused, a connection over the per-IP cap) carries an
// X-Request-Id like every other answer, a fresh one each time, and
// TransactionLink's body has the same id as its fingerprint.
func TestConnectionLevelErrorsCarryARequestID(t *testing.T) {
	gw := startGateway(t, "--read-header-timeout", "1s", "--max-conns-per-ip", "4")
	key := gw.key(t, "w")
	seen := map[string]bool{}
	for _, tc := range []struct {
		name, req string
		status    int
		// fingerprint: TransactionLink's error body, whose fingerprint is
		// the request id.
		fingerprint bool
	}{
		{"header timeout, transactionlink", "GET /tables/t/records/r/attachments HTTP/1.1\r\nHost: x\r\nX-Slow: ",
			http.StatusRequestTimeout, true},
		{"header timeout, no path", "", http.StatusRequestTimeout, false},
		{"malformed, transactionlink", "POST /tables/t/records/r/attachments HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
			http.StatusBadRequest, true},
		{"malformed, infolobby", "POST /api/table/1/record/2/files/create HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
			http.StatusBadRequest, false},
		{"both framings, transactionlink", "POST /tables/t/records/r/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: " + key +
			"\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", http.StatusBadRequest, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := rawExchange(t, gw.addr, []byte(tc.req), 6*time.Second)
			if st := statusOf(got); st != tc.status {
				t.Fatalf("answer %s, want %d", snippet(got), tc.status)
			}
			id := requestIDOf(got)
			if !wellFormedID.MatchString(id) {
				t.Fatalf("X-Request-Id %q in %s", id, snippet(got))
			}
			if seen[id] {
				t.Errorf("request id %q given twice", id)
			}
			seen[id] = true
			if tc.fingerprint {
				if fp := gjson.GetBytes(bodyOf(got), "fingerprint").String(); fp != id {
					t.Errorf("fingerprint %q, X-Request-Id %q: %s", fp, id, snippet(got))
				}
			}
		})
	}
	t.Run("connection over the per-IP cap", func(t *testing.T) {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		time.Sleep(200 * time.Millisecond)
		conns := dialHeld(t, gw.addr, 4)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		got, closed := rawExchange(t, gw.addr, nil, 3*time.Second)
		if !closed || statusOf(got) != http.StatusTooManyRequests {
			t.Fatalf("closed=%v answer %s, want 429 and a close", closed, snippet(got))
		}
		id := requestIDOf(got)
		if !wellFormedID.MatchString(id) || seen[id] {
			t.Fatalf("X-Request-Id %q (seen before: %v) in %s", id, seen[id], snippet(got))
		}
	})
}
