package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 16 item 5: EspoCRM's non-chunked upload holds its whole JSON body
// in memory. Such bodies are held within --memory-budget: one larger than
// the budget is refused at once, requests past it wait and are then
// refused with 503 and Retry-After, and a burst of them keeps the
// process's peak RSS near the budget instead of the sum of the bodies.
func TestMemoryBudget(t *testing.T) {
	const budget = 48 << 20
	gw := startGateway(t, "--memory-budget", "48MiB")
	c := espo{gw: gw, key: gw.key(t, "w")}
	body := func(fileBytes int) []byte {
		return jsonBody(t, fileFieldBody("f.bin", "application/octet-stream", bytes.Repeat([]byte{'z'}, fileBytes)))
	}

	t.Run("a body larger than the budget", func(t *testing.T) {
		st, h, _ := do(t, http.MethodPost, c.url("Attachment"), c.headers(), body(40<<20)) // 53 MiB of JSON
		if st != http.StatusForbidden || !strings.Contains(h.Get("X-Status-Reason"), "memory") {
			t.Fatalf("%d (%s), want EspoCRM's 403 for too large, naming memory", st, h.Get("X-Status-Reason"))
		}
	})

	t.Run("past the budget: wait, then 503 with Retry-After", func(t *testing.T) {
		// A slow client holds 40 MiB of the budget from its Content-Length on.
		hold := body(30 << 20)
		conn, err := net.Dial("tcp", gw.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/Attachment HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", c.key, len(hold))
		conn.Write(hold[:1<<20])
		time.Sleep(300 * time.Millisecond)

		start := time.Now()
		st, h, _ := do(t, http.MethodPost, c.url("Attachment"), c.headers(), body(15<<20))
		if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || h.Get("X-Status-Reason") == "" {
			t.Fatalf("upload past the budget: %d, Retry-After %q, X-Status-Reason %q; want 503 with both", st, h.Get("Retry-After"), h.Get("X-Status-Reason"))
		}
		if el := time.Since(start); el < 4*time.Second {
			t.Errorf("refused after %v, want it to wait for room first", el)
		}
		// The holder finishes, and is stored.
		conn.Write(hold[1<<20:])
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("the held upload: %v %v", resp, err)
		}
		resp.Body.Close()
		// With room again, the other one goes through.
		if st, _, got := do(t, http.MethodPost, c.url("Attachment"), c.headers(), body(15<<20)); st != http.StatusOK {
			t.Fatalf("upload with room again: %d %s", st, snippet(got))
		}
	})

	t.Run("a burst stays near the budget", func(t *testing.T) {
		const uploads, fileBytes = 8, 18 << 20 // 24 MiB of JSON each, 192 MiB in all
		payload := body(fileBytes)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, busy := 0, 0
		for i := 0; i < uploads; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, c.url("Attachment"), bytes.NewReader(payload))
				for k, v := range c.headers() {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("upload: %v", err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				switch resp.StatusCode {
				case http.StatusOK:
					ok++
				case http.StatusServiceUnavailable:
					busy++
				default:
					t.Errorf("upload: status %d", resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		peak := peakRSS(t, gw)
		t.Logf("%d stored, %d refused as busy; peak RSS %d MiB with a %d MiB budget", ok, busy, peak>>20, budget>>20)
		if ok == 0 {
			t.Errorf("no upload of the burst was stored")
		}
		if limit := int64(budget + 96<<20); peak > limit {
			t.Errorf("peak RSS %d MiB, want at most the budget plus 96 MiB (%d MiB)", peak>>20, limit>>20)
		}
		// Once the burst is over, its memory goes back.
		deadline := time.Now().Add(10 * time.Second)
		rss := vmRSS(t, gw)
		for rss > 40<<20 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			rss = vmRSS(t, gw)
		}
		if rss > 40<<20 {
			t.Errorf("RSS %d MiB 10 s after the burst, want it back under 40 MiB", rss>>20)
		}
	})
}
