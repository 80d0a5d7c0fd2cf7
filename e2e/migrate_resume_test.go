package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestMigrateKilledAndRunAgain kills the migrator with SIGKILL midway
// through a bundled data dir and runs it again: the second run must finish
// the job, skipping what the first verified, with no file twice at the
// destination and every file byte-identical.
func TestMigrateKilledAndRunAgain(t *testing.T) {
	t.Parallel()
	const records, perRecord, size = 3, 100, 24 << 10
	src := startGateway(t, "--rate-limit", "0")
	sc := tl{src, src.key(t, "seed")}
	sums := map[string]string{}
	for r := range records {
		for i := range perRecord {
			name := fmt.Sprintf("doc-%03d.bin", i)
			data := make([]byte, size)
			rand.NewChaCha8([32]byte{byte(r), byte(i)}).Read(data)
			sc.create(t, "T", fmt.Sprint(r), name, "application/octet-stream", data)
			sum := sha256.Sum256(data)
			sums[fmt.Sprint(r)+"/"+name] = hex.EncodeToString(sum[:])
		}
	}
	src.stop() // a bundled source is a data dir no server holds open

	// No rate limit: the test reads back every file at once afterwards.
	dst := startGateway(t, "--rate-limit", "0")
	dk := dst.key(t, "migrator")
	dir := t.TempDir()
	journal := filepath.Join(dir, "dragoman-migrate.journal")
	args := []string{"migrate", "--from", "bundled:" + src.data, "--to", "transactionlink+" + dst.base, "--to-token", dk, "--parallel", "2"}

	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for journalLines(journal) < 41 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	done := journalLines(journal) - 1
	if done < 40 || done >= records*perRecord {
		t.Fatalf("killed after %d files were journalled; want midway (40 to %d)", done, records*perRecord-1)
	}

	report := filepath.Join(dir, "report.json")
	m := runCLI(t, dir, 2*time.Minute, append(args, "--report", report)...)
	r := readReport(t, report)
	if m.code != 0 || r.Failed != 0 || r.Mismatched != 0 || r.Copied+r.Skipped != records*perRecord || r.Skipped < done || len(r.IDs) != records*perRecord {
		t.Fatalf("run after SIGKILL: exit %d, %d copied, %d skipped, %d failed, %d mismatched, %d ids; want exit 0 and %d copied+skipped with at least the %d journalled skipped\nstdout: %s\nstderr: %s",
			m.code, r.Copied, r.Skipped, r.Failed, r.Mismatched, len(r.IDs), records*perRecord, done, m.stdout, m.stderr)
	}
	t.Logf("killed after %d files; the second run copied %d and skipped %d", done, r.Copied, r.Skipped)

	dc := tl{dst, dk}
	for rec := range records {
		list := dc.list(t, "T", fmt.Sprint(rec))
		var names []string
		for _, a := range list {
			names = append(names, a.Name)
			link := dc.link(t, "T", fmt.Sprint(rec), a.ID)
			st, _, body := fetchLink(t, link)
			sum := sha256.Sum256(body)
			if st != http.StatusOK || hex.EncodeToString(sum[:]) != sums[fmt.Sprint(rec)+"/"+a.Name] {
				t.Errorf("T/%d %s at the destination: status %d, %d bytes that differ from the source's", rec, a.Name, st, len(body))
			}
		}
		sort.Strings(names)
		if len(names) != perRecord || len(slices.Compact(slices.Clone(names))) != perRecord {
			t.Errorf("T/%d at the destination holds %d files (%d names), want each of the %d once", rec, len(names), len(slices.Compact(names)), perRecord)
		}
	}
}

// TestMigrateReportsFailedWrites puts a destination behind a proxy that
// fails every upload of some files and gives back other bytes for one: the
// run goes on, exits 1, lists exactly those files as failed or mismatched,
// and leaves no mismatched copy behind.
func TestMigrateReportsFailedWrites(t *testing.T) {
	t.Parallel()
	src, dst := startGateway(t), startGateway(t)
	sk, dk := src.key(t, "migrator"), dst.key(t, "migrator")
	nc := nx{src, sk}
	names := []string{"a.txt", "fail-1.txt", "b.txt", "c.txt", "fail-2.txt", "d.txt", "bad-1.txt"}
	for _, n := range names {
		nc.upload(t, "forms", "r1", "", n, []byte("content of "+n), "text/plain")
	}
	target, _ := url.Parse(dst.base)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/content/bad-") {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(bytes.ToUpper(body))) // same length, other bytes
		}
		return nil
	}
	ln := listenLoopback(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "fail-") {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	report := filepath.Join(dir, "report.json")
	m := runCLI(t, dir, 2*time.Minute, "migrate", "--from", "nimblex+"+src.base, "--from-token", sk,
		"--to", "nimblex+http://"+ln.Addr().String(), "--to-token", dk,
		"--records", writeRecords(t, dir, "forms/r1"), "--report", report)
	r := readReport(t, report)
	if m.code != 1 || r.Copied != 4 || r.Failed != 2 || r.Mismatched != 1 {
		t.Fatalf("exit %d, report %+v; want exit 1, 4 copied, 2 failed, 1 mismatched\nstderr: %s", m.code, r, m.stderr)
	}
	var failed []string
	for _, f := range r.Failures {
		failed = append(failed, f.Name)
		if f.Record != "forms/r1" || f.Error == "" {
			t.Errorf("failure %+v: want record forms/r1 and the error", f)
		}
		if f.Name == "bad-1.txt" && !strings.Contains(f.Error, "mismatched") {
			t.Errorf("bad-1.txt's failure says %q, want mismatched", f.Error)
		}
	}
	sort.Strings(failed)
	if !slices.Equal(failed, []string{"bad-1.txt", "fail-1.txt", "fail-2.txt"}) {
		t.Errorf("failures name %v, want bad-1.txt, fail-1.txt and fail-2.txt", failed)
	}
	if !strings.Contains(m.stdout, "2 failed") || !strings.Contains(m.stdout, "fail-1.txt") {
		t.Errorf("summary on stdout does not list the failures: %s", m.stdout)
	}
	got := ids(nx{dst, dk}.list(t, "forms", "r1"))
	if want := []string{"forms/r1/attachments/a.txt", "forms/r1/attachments/b.txt", "forms/r1/attachments/c.txt", "forms/r1/attachments/d.txt"}; !slices.Equal(got, want) {
		t.Errorf("destination lists %v, want %v", got, want)
	}
}

// TestMigrateRefusals covers the runs that must not start: a remote
// source with no --records, a journal of another migration, a bundled
// data dir a server holds open.
func TestMigrateRefusals(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	dir := t.TempDir()
	other := t.TempDir()
	m := runCLI(t, dir, time.Minute, "migrate", "--from", "nimblex+"+gw.base, "--to", "bundled:"+other)
	if m.code != 2 || !strings.Contains(m.stderr, "give --records FILE") {
		t.Errorf("remote source without --records: exit %d, stderr %q; want 2 and a hint to give --records", m.code, m.stderr)
	}
	m = runCLI(t, dir, time.Minute, "migrate", "--from", "bundled:"+gw.data, "--to", "bundled:"+other)
	if m.code != 2 || !strings.Contains(m.stderr, "locked by another process") {
		t.Errorf("bundled source held by a server: exit %d, stderr %q; want 2 and why", m.code, m.stderr)
	}
	empty := t.TempDir()
	m = runCLI(t, dir, time.Minute, "migrate", "--from", "bundled:"+empty, "--to", "bundled:"+other)
	if m.code != 0 {
		t.Errorf("empty source: exit %d, stderr %q; want 0", m.code, m.stderr)
	}
	m = runCLI(t, dir, time.Minute, "migrate", "--from", "bundled:"+empty, "--to", "bundled:"+t.TempDir())
	if m.code != 2 || !strings.Contains(m.stderr, "another --journal") {
		t.Errorf("journal of another migration: exit %d, stderr %q; want 2 and a hint to use another journal", m.code, m.stderr)
	}
}

// TestMigrateDryRunWritesNothing lists what would be copied, and the
// destination stays empty.
func TestMigrateDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	src, dst := startGateway(t), startGateway(t)
	sk, dk := src.key(t, "migrator"), dst.key(t, "migrator")
	for _, n := range []string{"one.txt", "two.txt"} {
		nx{src, sk}.upload(t, "forms", "r1", "docs", n, []byte("content of "+n), "text/plain")
	}
	dir := t.TempDir()
	m := runCLI(t, dir, time.Minute, "migrate", "--dry-run", "--from", "nimblex+"+src.base, "--from-token", sk,
		"--to", "transactionlink+"+dst.base, "--to-token", dk, "--records", writeRecords(t, dir, "forms/r1"))
	if m.code != 0 || !strings.Contains(m.stdout, "copy forms/r1 docs/one.txt") || !strings.Contains(m.stdout, "would copy 2 files") {
		t.Errorf("dry run: exit %d, stdout %q; want both files listed and the totals", m.code, m.stdout)
	}
	st, _, body := do(t, http.MethodGet, tl{dst, dk}.attachments("forms", "r1"), hdr{"Authorization": dk}, nil)
	if st != http.StatusNotFound {
		t.Errorf("after a dry run the destination answers %d %s for the record, want 404 (never written)", st, snippet(body))
	}
}
