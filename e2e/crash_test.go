package e2e

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Nothing acknowledged is lost; nothing unacknowledged is visible: a
// SIGKILL in the middle of a large upload, then a restart on the same data.
func TestCrashMidUploadKeepsAcknowledgedAndDropsPartial(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	ilc, nxc := il{gw, key}, nx{gw, key}

	type acked struct {
		folder, name string
		sum          [32]byte
		ilPath       string // set for InfoLobby uploads
	}
	var acks []acked
	for i, f := range []struct{ folder, name string }{{"", "a.bin"}, {"", "b.bin"}, {"inbox", "c.bin"}} {
		data := randomBytes(t, 1000+777*i)
		nxc.upload(t, "Vault", "1", f.folder, f.name, data, "")
		acks = append(acks, acked{f.folder, f.name, sha256.Sum256(data), ""})
	}
	for i, name := range []string{"d.bin", "e.bin"} {
		data := randomBytes(t, 2000+555*i)
		files := ilc.create(t, "Vault", "1", "ledger", name, "", data)
		acks = append(acks, acked{"ledger", name, sha256.Sum256(data), files[len(files)-1].Path})
	}

	// A 512 MiB raw upload fed through a pipe. The feeder stops after 96
	// MiB and waits, so the upload cannot finish before the kill.
	const (
		declared = 512 << 20
		feedCap  = 96 << 20
		killAt   = 64 << 20
	)
	pr, pw := io.Pipe()
	release := make(chan struct{})
	defer close(release)
	go func() {
		buf := make([]byte, 256<<10)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		for sent := 0; sent < feedCap; sent += len(buf) {
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		<-release
		pw.CloseWithError(errors.New("feeder released"))
	}()
	req, err := http.NewRequest(http.MethodPost, nxc.contentURL("Vault", "1", "", "big.iso"), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = declared
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/octet-stream")
	uploaded := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the interrupted upload was answered %d", resp.StatusCode)
		} else {
			err = nil
		}
		uploaded <- err
	}()

	// Kill once the server has written killAt bytes of it to disk.
	partial := waitForFile(t, gw.data, killAt, 15*time.Second)
	gw.kill(t)
	select {
	case err := <-uploaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the client's upload did not end after the server was killed")
	}
	t.Logf("killed with %s partly written", partial)

	gw.restart(t)

	// Every acknowledged file is listed, byte for byte; the partial one is not.
	var want []string
	for _, a := range acks {
		id := "Vault/1/attachments/" + a.name
		if a.folder != "" {
			id = "Vault/1/attachments/" + a.folder + "/" + a.name
		}
		want = append(want, id)
	}
	sort.Strings(want)
	if got := ids(nxc.list(t, "Vault", "1")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the crash the list is %v, want exactly %v", got, want)
	}
	for _, a := range acks {
		if got := sha256.Sum256(nxc.content(t, "Vault", "1", a.folder, a.name)); got != a.sum {
			t.Errorf("%s/%s: sha256 %x after the crash, want %x", a.folder, a.name, got, a.sum)
		}
		if a.ilPath != "" {
			if _, _, _, data := ilc.get(t, "Vault", "1", a.folder, a.ilPath); sha256.Sum256(data) != a.sum {
				t.Errorf("infolobby files/get %s: bytes changed by the crash", a.ilPath)
			}
		}
	}
	status, _, body := nxc.fetch(t, nxc.contentURL("Vault", "1", "", "big.iso"), nil)
	wantEmpty(t, "content of the interrupted upload", status, body, http.StatusNotFound)

	// On disk: no partial file anywhere, an empty tmp dir, and exactly the
	// acknowledged files' bytes among the blobs.
	if _, err := os.Stat(filepath.Join(gw.data, partial)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the partial upload %s is still on disk (stat: %v)", partial, err)
	}
	files := listFiles(t, gw.root)
	for p, size := range files {
		if size >= 16<<20 {
			t.Errorf("a %d-byte file was left behind: %s", size, p)
		}
	}
	tmp, err := os.ReadDir(filepath.Join(gw.data, "store", "tmp"))
	if err != nil {
		t.Errorf("read data/store/tmp: %v", err)
	}
	for _, e := range tmp {
		t.Errorf("data/store/tmp is not empty after the restart: %s", e.Name())
	}
	var blobSums, ackSums []string
	for p := range listFiles(t, filepath.Join(gw.data, "store", "blobs")) {
		data, err := os.ReadFile(filepath.Join(gw.data, "store", "blobs", p))
		if err != nil {
			t.Fatal(err)
		}
		blobSums = append(blobSums, fmt.Sprintf("%x", sha256.Sum256(data)))
	}
	for _, a := range acks {
		ackSums = append(ackSums, fmt.Sprintf("%x", a.sum))
	}
	sort.Strings(blobSums)
	sort.Strings(ackSums)
	if strings.Join(blobSums, ",") != strings.Join(ackSums, ",") {
		t.Errorf("blob files hold %d contents %v, want exactly the %d acknowledged %v", len(blobSums), blobSums, len(ackSums), ackSums)
	}
}

// waitForFile waits until some regular file under dir is at least size
// bytes and returns its path relative to dir.
func waitForFile(t *testing.T, dir string, size int64, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for p, n := range listFiles(t, dir) {
			if n >= size {
				return p
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no file under %s reached %d bytes within %v: %v", dir, size, timeout, listFiles(t, dir))
	return ""
}
