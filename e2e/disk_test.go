package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 16 item 10: a full disk answers the dialect's 503 and leaves
// nothing partial behind, reads are still served, and space freed by the
// failed upload is usable again. The data directory is a small tmpfs the
// test mounts; that needs root, which CI has.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("TestDiskFull must run as root to mount the small tmpfs it fills; CI runs as root")
		}
		t.Skip("not root: cannot mount the small tmpfs this test fills (CI runs it as root)")
	}
	const fsSize = 8 << 20
	gw := startGatewayCustom(t, 0, func(data string) {
		if err := syscall.Mount("tmpfs", data, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", fsSize)); err != nil {
			t.Fatalf("mount a %d-byte tmpfs on %s: %v", fsSize, data, err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(data, syscall.MNT_DETACH) })
	})
	key := gw.key(t, "w")
	n := nx{gw: gw, key: key}
	n.upload(t, "Disk", "1", "", "keep.txt", []byte("kept"), "text/plain")

	big := bytes.Repeat([]byte("0123456789abcdef"), 2*fsSize/16)
	for _, tc := range []struct {
		name  string
		send  func() (int, http.Header, []byte)
		check func(h http.Header, body []byte) string
	}{
		{"nimblex raw", func() (int, http.Header, []byte) {
			return do(t, http.MethodPost, n.contentURL("Disk", "1", "", "big.bin"), bearer(key), big)
		}, func(h http.Header, body []byte) string {
			if len(body) != 0 {
				return "a nimblex error has an empty body"
			}
			return ""
		}},
		{"transactionlink multipart", func() (int, http.Header, []byte) {
			c := tl{gw: gw, key: key}
			return c.post(t, "Disk", "1", c.auth(), filePart("big.bin", "application/octet-stream", big))
		}, func(h http.Header, body []byte) string {
			if !bytes.Contains(body, []byte(`"code":"UNAVAILABLE"`)) {
				return "not TransactionLink's error shape"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, body := tc.send()
			if st != http.StatusServiceUnavailable && st != http.StatusInsufficientStorage {
				t.Fatalf("upload on a full disk: %d %s, want 503 or 507", st, snippet(body))
			}
			if msg := tc.check(h, body); msg != "" {
				t.Errorf("%s: %s", msg, snippet(body))
			}
			waitNoTmp(t, gw)
			st, _, got := do(t, http.MethodGet, n.contentURL("Disk", "1", "", "keep.txt"), bearer(key), nil)
			if st != http.StatusOK || string(got) != "kept" {
				t.Fatalf("a read after the full disk: %d %q", st, got)
			}
			waitStatus(t, gw, "/healthz", http.StatusOK, 5*time.Second)
		})
	}
	for _, it := range n.list(t, "Disk", "1") {
		if !strings.HasSuffix(it.ID, "/keep.txt") && (it.Attributes.Size == nil || *it.Attributes.Size != 0) {
			t.Errorf("a failed upload is visible: %+v", it)
		}
	}
	if blobs := listFiles(t, filepath.Join(gw.data, "store", "blobs")); len(blobs) != 1 {
		t.Errorf("blobs left behind: %v, want keep.txt's alone", blobs)
	}
	// The space the failed uploads took is free again.
	n.upload(t, "Disk", "1", "", "after.bin", bytes.Repeat([]byte("x"), fsSize/4), "")

	// EspoCRM's chunks are each acknowledged, so they stay; the chunk that
	// found the disk full is refused, and reads go on.
	e := espo{gw: gw, key: key}
	p := e.upload(t, map[string]any{"name": "big.bin", "relatedType": "Document", "field": "file", "isBeingUploaded": true, "size": len(big)})
	chunk := "data:application/octet-stream;base64," + strings.Repeat("QUJD", (3<<20)/3)
	st, h := http.StatusOK, http.Header{}
	for i := 0; st == http.StatusOK && i < 10; i++ {
		st, h, _ = e.call(t, http.MethodPost, "Attachment/chunk/"+p.ID, chunk)
	}
	if st != http.StatusServiceUnavailable || h.Get("X-Status-Reason") == "" {
		t.Fatalf("EspoCRM chunk on a full disk: %d (%s), want 503 with X-Status-Reason", st, h.Get("X-Status-Reason"))
	}
	waitNoTmp(t, gw)
	if st, _, got := do(t, http.MethodGet, n.contentURL("Disk", "1", "", "keep.txt"), bearer(key), nil); st != http.StatusOK || string(got) != "kept" {
		t.Fatalf("a read after the full disk: %d %q", st, got)
	}

}

// TestRawUploadsAreCapped: a Nimblex raw upload larger than its route's
// cap is refused with 413 from its Content-Length, before the body is
// read.
func TestRawUploadsAreCapped(t *testing.T) {
	gw := startGateway(t)
	key := gw.key(t, "w")
	req := "POST /jsonapi/records/Cap/1/attachments/content/huge.iso HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
		"\r\nContent-Length: " + fmt.Sprint(int64(6)<<30) + "\r\n\r\n" + strings.Repeat("x", 16<<10) // past fasthttp's 8 KiB pre-read
	got, _ := rawExchange(t, gw.addr, []byte(req), 5*time.Second)
	if statusOf(got) != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 6 GiB raw upload: %s, want 413 at once", snippet(got))
	}
	waitNoTmp(t, gw)
}
