package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/internal/testbackends"
)

// backends is the PostgreSQL cluster and S3 server of the scale-out tests,
// started by the first of them and stopped by TestMain.
var backends testbackends.Servers

// startScaleOut starts n gateways on one fresh PostgreSQL schema and one
// bucket prefix, and makes a key in the database they share. It sets the
// AWS_* variables for the processes, so it must not run in parallel.
func startScaleOut(t *testing.T, n int) ([]*gateway, string) {
	t.Helper()
	b := backends.Get(t)
	for _, kv := range b.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// The key first, in the database alone (keys create makes the
	// schema): a key made later counts within a second (pgstore.KeyRefresh).
	key := (&gateway{data: t.TempDir()}).key(t, "scale", "--upstream", b.DatabaseURL)
	args := []string{"--upstream", b.DatabaseURL, "--blobs", b.BlobsURL, "--s3-endpoint", b.S3.Endpoint, "--rate-limit", "0"}
	var gws []*gateway
	for range n {
		gws = append(gws, startGateway(t, args...))
	}
	return gws, key
}

// TestScaleOutEveryDialect writes through each gateway in every dialect
// and reads through the others at once: no cache, no delay.
func TestScaleOutEveryDialect(t *testing.T) {
	gws, key := startScaleOut(t, 3)
	others := func(i int) []*gateway { return []*gateway{gws[(i+1)%3], gws[(i+2)%3]} }
	data := func(d string) []byte { return []byte("bytes written in " + d) }

	t.Run("transactionlink", func(t *testing.T) {
		a := tl{gws[0], key}.create(t, "t", "r1", "a.txt", "text/plain", data("tl"))
		for _, r := range others(0) {
			if st, body := fetchTL(t, tl{r, key}, "t", "r1", a.ID); st != http.StatusOK || body != string(data("tl")) {
				t.Fatalf("read through %s: %d %q", r.addr, st, body)
			}
		}
	})
	t.Run("infolobby", func(t *testing.T) {
		il{gws[1], key}.create(t, "t", "r2", "docs", "b.txt", "text/plain", data("il"))
		for _, r := range others(1) {
			files := il{r, key}.fieldFiles(t, "t", "r2", "docs")
			if len(files) != 1 {
				t.Fatalf("record get through %s: %v", r.addr, files)
			}
			if _, _, _, got := (il{r, key}).get(t, "t", "r2", "docs", files[0].Path); !bytes.Equal(got, data("il")) {
				t.Fatalf("files/get through %s: %q", r.addr, got)
			}
		}
	})
	t.Run("nimblex", func(t *testing.T) {
		nx{gws[2], key}.upload(t, "forms", "r3", "", "c.bin", data("nx"), "application/octet-stream")
		for _, r := range others(2) {
			if got := (nx{r, key}).content(t, "forms", "r3", "", "c.bin"); !bytes.Equal(got, data("nx")) {
				t.Fatalf("content through %s: %q", r.addr, got)
			}
		}
	})
	t.Run("espocrm", func(t *testing.T) {
		a := espo{gws[0], key}.upload(t, multipleBody("d.txt", "text/plain", data("espo")))
		for _, r := range others(0) {
			if _, got := (espo{r, key}).file(t, a.ID); !bytes.Equal(got, data("espo")) {
				t.Fatalf("file through %s: %q", r.addr, got)
			}
		}
	})
	t.Run("mediapocket", func(t *testing.T) {
		// The asset comes into being with a file through gateway 0.
		const asset = "bDzHAAxLXsSmhL4lax8D"
		nx{gws[0], key}.upload(t, "assets", asset, "", "first.txt", data("mp"), "text/plain")
		a := mp{gws[1], key}.createOK(t, "assets", asset, map[string]any{"title": "made on gateway 1"})
		for _, r := range others(1) {
			list := mp{r, key}.list(t, "assets", asset)
			i := slices.IndexFunc(list, func(x mpAsset) bool { return x.ID == a.ID })
			if len(list) != 2 || i < 0 || list[i].Title != "made on gateway 1" {
				t.Fatalf("list through %s: %+v", r.addr, list)
			}
		}
	})
}

// rawUpload is a Nimblex raw upload that reports rather than fails, for
// goroutines and for gateways killed under it: acknowledged is a 200.
func rawUpload(gw *gateway, key, record, name string, data []byte) (bool, error) {
	req, err := http.NewRequest(http.MethodPost, nx{gw, key}.contentURL("forms", record, "", name), bytes.NewReader(data))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// payload is the content of upload name, n bytes that differ by name.
func payload(name string, n int) []byte {
	b := bytes.Repeat([]byte(name+"|"), n/(len(name)+1)+1)
	return b[:n]
}

// TestScaleOutConcurrentOneRecord uploads to one record from three
// gateways at once: every file is listed once, through every gateway.
func TestScaleOutConcurrentOneRecord(t *testing.T) {
	gws, key := startScaleOut(t, 3)
	const each = 6
	var wg sync.WaitGroup
	errs := make(chan error, 3*each)
	for g := range gws {
		for i := range each {
			wg.Go(func() {
				name := fmt.Sprintf("g%d-%d.bin", g, i)
				if ok, err := rawUpload(gws[g], key, "shared", name, payload(name, 10_000+i)); !ok || err != nil {
					errs <- fmt.Errorf("upload %s: ok %v, %v", name, ok, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, gw := range gws {
		var names []string
		for _, it := range (nx{gw, key}).list(t, "forms", "shared") {
			names = append(names, it.ID)
		}
		if len(names) != 3*each || len(slices.Compact(slices.Sorted(slices.Values(names)))) != 3*each {
			t.Fatalf("listed through %s: %d files, %v; want %d distinct", gw.addr, len(names), names, 3*each)
		}
	}
}

// TestScaleOutKillLosesNothingAcknowledged kills one gateway with SIGKILL
// while uploads run through all three: every upload acknowledged by any
// gateway, the killed one included, is there in full through the others.
func TestScaleOutKillLosesNothingAcknowledged(t *testing.T) {
	gws, key := startScaleOut(t, 3)
	type result struct {
		name string
		size int
		ok   bool
	}
	var mu sync.Mutex
	var results []result
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range gws {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("k%d-%d.bin", g, i)
				size := 64<<10 + i*(3<<20) // some past one 5 MiB part
				if size > 12<<20 {
					size = 64 << 10
				}
				ok, _ := rawUpload(gws[g], key, "crash", name, payload(name, size))
				mu.Lock()
				results = append(results, result{name, size, ok})
				mu.Unlock()
				if !ok && g == 2 {
					return // its gateway is gone
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	gws[2].kill(t)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	acked := 0
	listed := map[string]int64{}
	for _, it := range (nx{gws[0], key}).list(t, "forms", "crash") {
		listed[it.ID] = *it.Attributes.Size
	}
	for _, r := range results {
		id := "forms/crash/attachments/" + r.name
		size, found := listed[id]
		if !r.ok {
			if found && size != int64(r.size) {
				t.Errorf("unacknowledged %s is listed with %d of its %d bytes", r.name, size, r.size)
			}
			continue
		}
		acked++
		if !found || size != int64(r.size) {
			t.Fatalf("acknowledged %s: listed %v with %d bytes, want %d", r.name, found, size, r.size)
		}
		if got := (nx{gws[1], key}).content(t, "forms", "crash", "", r.name); !bytes.Equal(got, payload(r.name, r.size)) {
			t.Fatalf("acknowledged %s: content differs (%d bytes)", r.name, len(got))
		}
	}
	if acked == 0 {
		t.Fatal("no upload was acknowledged before the kill")
	}
}

// TestScaleOutMigrateRoundTrip moves a bundled data dir into the
// PostgreSQL + S3 store with `dragoman migrate`, reads it through a gateway
// on that store, and moves it back into a fresh bundled data dir.
func TestScaleOutMigrateRoundTrip(t *testing.T) {
	b := backends.Get(t)
	for _, kv := range b.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	src := startGateway(t)
	srcKey := src.key(t, "writer")
	files := map[string][]byte{"a.txt": []byte("alpha"), "b.bin": payload("b.bin", 6<<20+5)}
	for name, data := range files {
		nx{src, srcKey}.upload(t, "forms", "moved", "", name, data, "application/octet-stream")
	}
	src.stop()

	dir := t.TempDir()
	pgArgs := []string{"--blobs", b.BlobsURL, "--s3-endpoint", b.S3.Endpoint}
	check := func(m migration, what string) {
		t.Helper()
		if m.code != 0 {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, m.code, m.stdout, m.stderr)
		}
		r := readReport(t, filepath.Join(dir, "report.json"))
		if r.Copied != len(files) || r.Failed != 0 || r.Mismatched != 0 {
			t.Fatalf("%s: report %+v, want %d copied", what, r, len(files))
		}
	}
	m := runCLI(t, dir, 2*time.Minute, append([]string{"migrate", "--from", "bundled:" + src.data, "--to", b.DatabaseURL,
		"--journal", filepath.Join(dir, "j1"), "--report", filepath.Join(dir, "report.json")}, pgArgs...)...)
	check(m, "migrate into PostgreSQL")

	key := (&gateway{data: t.TempDir()}).key(t, "reader", "--upstream", b.DatabaseURL)
	pg := startGateway(t, append([]string{"--upstream", b.DatabaseURL}, pgArgs...)...)
	for name, data := range files {
		if got := (nx{pg, key}).content(t, "forms", "moved", "", name); !bytes.Equal(got, data) {
			t.Fatalf("%s through the PostgreSQL gateway: %d bytes, want %d", name, len(got), len(data))
		}
	}
	pg.stop()

	back := filepath.Join(t.TempDir(), "data")
	m = runCLI(t, dir, 2*time.Minute, append([]string{"migrate", "--from", b.DatabaseURL, "--to", "bundled:" + back,
		"--journal", filepath.Join(dir, "j2"), "--report", filepath.Join(dir, "report.json")}, pgArgs...)...)
	check(m, "migrate back into a bundled data dir")
	gw := startGateway(t, "--data", back)
	backKey := (&gateway{data: back}).key(t, "reader")
	for name, data := range files {
		if got := (nx{gw, backKey}).content(t, "forms", "moved", "", name); !bytes.Equal(got, data) {
			t.Fatalf("%s after the way back: %d bytes, want %d", name, len(got), len(data))
		}
	}
}
