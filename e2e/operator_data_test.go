package e2e

import (
	"bytes"
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestBackupWhileServingRestoresEveryFile takes a backup of a gateway
// that keeps taking uploads and deletes meanwhile, restores it into a
// fresh data dir, and reads every file acknowledged before the backup
// began back through a gateway on the restored dir, with the old key.
func TestBackupWhileServingRestoresEveryFile(t *testing.T) {
	gw := startGateway(t)
	c := nx{gw: gw, key: gw.key(t, "ops")}
	lobby := il{gw: gw, key: c.key}
	want := map[string][]byte{} // name -> bytes, in record inv/1
	for i := range 12 {
		data := randomBytes(t, 1+i*97_003) // up to ~1 MiB
		name := fmt.Sprintf("f%02d.bin", i)
		c.upload(t, "inv", "1", "", name, data, "application/octet-stream")
		want[name] = data
	}
	viaLobby := lobby.create(t, "101", "42", "contracts", "lobby.txt", "text/plain", []byte("from infolobby"))
	c.upload(t, "inv", "1", "", "doomed.bin", []byte("deleted during the backup"), "")
	want["doomed.bin"] = []byte("deleted during the backup")

	// Writers keep going while the backup runs: bounded, and stopped below.
	stop := make(chan struct{})
	var wrote atomic.Int64
	var writers sync.WaitGroup
	writers.Go(func() {
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			status, _, _ := do(t, http.MethodPost, c.contentURL("busy", "1", "", fmt.Sprintf("w%03d", i)), bearer(c.key), bytes.Repeat([]byte{byte(i)}, 64<<10))
			if status != http.StatusOK {
				t.Errorf("an upload during the backup: status %d", status)
				return
			}
			wrote.Add(1)
		}
	})
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		time.Sleep(20 * time.Millisecond)
		do(t, http.MethodDelete, c.deleteURL("inv", "1", "", "doomed.bin"), bearer(c.key), nil)
	}()
	out := filepath.Join(t.TempDir(), "backup.tar")
	code, stdout, stderr := dragoman(t, "backup", "--data", gw.data, "--out", out)
	close(stop)
	writers.Wait()
	<-deleted
	if code != 0 || stdout != "" || !strings.Contains(stderr, "online, from the running server") {
		t.Fatalf("backup: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	t.Logf("%d uploads ran beside the backup; %s", wrote.Load(), strings.TrimSpace(stderr))

	restored := filepath.Join(t.TempDir(), "restored")
	code, stdout, stderr = dragoman(t, "restore", "--from", out, "--data", restored)
	if code != 0 || !strings.Contains(stdout, "every one verified") {
		t.Fatalf("restore: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(restored, "store", "meta.db")); err != nil {
		t.Fatal(err)
	}
	// The old server is still running on its own dir; a second one serves
	// the restored copy, with the keys and link secret it carries.
	gw2 := startGateway(t, "--data", restored)
	c2 := nx{gw: gw2, key: c.key}
	items := c2.list(t, "inv", "1")
	got := map[string]bool{}
	for _, it := range items {
		name := it.ID[strings.LastIndex(it.ID, "/")+1:]
		got[name] = true
	}
	for name, data := range want {
		if name == "doomed.bin" && !got[name] {
			continue // deleted before the snapshot: fine either way
		}
		if !got[name] {
			t.Errorf("%s, acknowledged before the backup, is not in the restored store", name)
			continue
		}
		if back := c2.content(t, "inv", "1", "", name); !bytes.Equal(back, data) {
			t.Errorf("%s restored with %d bytes that differ from the %d uploaded", name, len(back), len(data))
		}
	}
	name, _, _, data := il{gw: gw2, key: c.key}.get(t, "101", "42", "contracts", viaLobby[0].Path)
	if name != "lobby.txt" || string(data) != "from infolobby" {
		t.Errorf("the InfoLobby file restored as %q %q", name, data)
	}
	// Uploads that ran beside the backup are whole or absent, never partial
	// (the record itself is absent if the snapshot came before the first).
	var busy []nxItem
	if status, _, _ := do(t, http.MethodGet, c2.attachments("busy", "1"), bearer(c.key), nil); status != http.StatusNotFound {
		busy = c2.list(t, "busy", "1")
	}
	for _, it := range busy {
		if it.Attributes.Size == nil || *it.Attributes.Size != 64<<10 {
			t.Errorf("an upload caught mid-backup restored as %+v", it)
		}
	}
	if code, stdout, _ := dragoman(t, "verify", "--data", restored); code != 0 {
		t.Errorf("verify of the restored dir: exit %d: %s", code, stdout)
	}
}

func TestBackupOfflineAndRestoreRefusals(t *testing.T) {
	gw := startGateway(t)
	c := nx{gw: gw, key: gw.key(t, "ops")}
	c.upload(t, "inv", "1", "", "a.txt", []byte("alpha"), "text/plain")
	gw.stop()
	out := filepath.Join(t.TempDir(), "offline.tar")
	code, _, stderr := dragoman(t, "backup", "--data", gw.data, "--out", out)
	if code != 0 || !strings.Contains(stderr, "offline: no server is running") {
		t.Fatalf("offline backup: exit %d stderr %q", code, stderr)
	}
	whole, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.tar")
	if err := os.WriteFile(cut, whole[:len(whole)-2048], 0o600); err != nil {
		t.Fatal(err)
	}
	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "something"), nil, 0o600)
	cases := []struct {
		name string
		from string
		data string
		want string
	}{
		{"a truncated backup", cut, filepath.Join(t.TempDir(), "new"), "incomplete"},
		{"a dir in use", out, busy, "is not empty"},
		{"no such backup", filepath.Join(t.TempDir(), "nope.tar"), filepath.Join(t.TempDir(), "new"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := dragoman(t, "restore", "--from", tc.from, "--data", tc.data)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d stderr %q, want 1 and %q", code, stderr, tc.want)
			}
			entries, _ := os.ReadDir(filepath.Dir(tc.data))
			for _, e := range entries {
				if strings.Contains(e.Name(), ".restore-") || (e.Name() == filepath.Base(tc.data) && tc.data != busy) {
					t.Errorf("a refused restore left %s behind", e.Name())
				}
			}
		})
	}
	// The whole backup restores, and a gateway serves it.
	restored := filepath.Join(t.TempDir(), "r")
	if code, stdout, stderr := dragoman(t, "restore", "--from", out, "--data", restored); code != 0 {
		t.Fatalf("restore: exit %d %s %s", code, stdout, stderr)
	}
	gw2 := startGateway(t, "--data", restored)
	if got := (nx{gw: gw2, key: c.key}).content(t, "inv", "1", "", "a.txt"); string(got) != "alpha" {
		t.Errorf("restored a.txt = %q", got)
	}
}

// TestVerifyAndReadyzReportDamage: a data dir that lost one blob and had
// another corrupted is reported by verify (exit 1), by /readyz (503), by
// the log of the read that found it, and at the next start.
func TestVerifyAndReadyzReportDamage(t *testing.T) {
	gw := startGateway(t)
	c := nx{gw: gw, key: gw.key(t, "ops")}
	for _, name := range []string{"keep.txt", "lose.txt", "flip.txt"} {
		c.upload(t, "inv", "1", "", name, []byte("content of "+name), "text/plain")
	}
	ready := func(want int, status string) {
		t.Helper()
		code, _, body := do(t, http.MethodGet, gw.url("/readyz"), nil, nil)
		var r struct {
			Status  string `json:"status"`
			Schema  int    `json:"schema"`
			Damaged int    `json:"damaged"`
		}
		if err := json.Unmarshal(body, &r); err != nil || code != want || r.Status != status || r.Schema != 2 {
			t.Errorf("/readyz: %d %s, want %d with status %q", code, body, want, status)
		}
	}
	ready(http.StatusOK, "ok")
	code, stdout, _ := dragoman(t, "verify", "--data", gw.data)
	if code != 0 || !strings.Contains(stdout, "verified 3 files") || !strings.Contains(stdout, "online") {
		t.Fatalf("verify of a sound dir: exit %d %q", code, stdout)
	}

	blobs := map[string]string{} // content -> blob path
	for rel := range listFiles(t, filepath.Join(gw.data, "store", "blobs")) {
		p := filepath.Join(gw.data, "store", "blobs", rel)
		b, _ := os.ReadFile(p)
		blobs[string(b)] = p
	}
	if err := os.Remove(blobs["content of lose.txt"]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobs["content of flip.txt"], []byte("CONTENT OF FLIP.TXT"), 0o600); err != nil {
		t.Fatal(err)
	}
	status, _, _ := c.fetch(t, c.contentURL("inv", "1", "", "lose.txt"), nil)
	if status != http.StatusInternalServerError {
		t.Errorf("downloading a lost file: status %d, want 500 (not a quiet 404)", status)
	}
	if !waitOutput(gw, "blob lost from the data dir") {
		t.Errorf("the read that found a lost blob logged nothing:\n%s", gw.out.String())
	}
	ready(http.StatusServiceUnavailable, "damaged")
	if code, _, _ := do(t, http.MethodGet, gw.url("/healthz"), nil, nil); code != http.StatusOK {
		t.Errorf("/healthz %d: the process is alive and should say so", code)
	}
	code, stdout, _ = dragoman(t, "verify", "--data", gw.data)
	if code != 1 || !strings.Contains(stdout, `missing `) || !strings.Contains(stdout, `"lose.txt"`) ||
		!strings.Contains(stdout, `corrupt `) || !strings.Contains(stdout, `"flip.txt"`) || !strings.Contains(stdout, "2 missing or corrupt") || strings.Contains(stdout, "keep.txt") {
		t.Errorf("verify of a damaged dir: exit %d:\n%s", code, stdout)
	}

	gw.restart(t)
	ready(http.StatusServiceUnavailable, "damaged") // the missing one is found at start
	if !waitOutput(gw, "store damaged") {
		t.Errorf("a start on a damaged dir logged nothing about it")
	}
	gw.stop()
	code, stdout, _ = dragoman(t, "verify", "--data", gw.data)
	if code != 1 || !strings.Contains(stdout, "offline") || !strings.Contains(stdout, "2 missing or corrupt") {
		t.Errorf("offline verify of a damaged dir: exit %d:\n%s", code, stdout)
	}
	if code, _, stderr := dragoman(t, "verify", "--data", t.TempDir()); code != 1 || !strings.Contains(stderr, "no bundled store") {
		t.Errorf("verify of an empty dir: exit %d %q", code, stderr)
	}

	// A backup of the damaged dir keeps what is whole and says what is not;
	// so does its restore.
	out := filepath.Join(t.TempDir(), "damaged.tar")
	code, _, stderr := dragoman(t, "backup", "--data", gw.data, "--out", out)
	if code != 1 || strings.Count(stderr, "damaged in the source") != 2 {
		t.Errorf("backup of a damaged dir: exit %d stderr %q", code, stderr)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	code, stdout, stderr = dragoman(t, "restore", "--from", out, "--data", restored)
	if code != 1 || strings.Count(stderr, "damaged when the backup was taken") != 2 {
		t.Errorf("restore of a damaged backup: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	gw2 := startGateway(t, "--data", restored)
	if got := (nx{gw: gw2, key: c.key}).content(t, "inv", "1", "", "keep.txt"); string(got) != "content of keep.txt" {
		t.Errorf("the sound file restored as %q", got)
	}
}

// TestNewerSchemaIsRefused: a data dir written by a newer dragoman (its
// schema version above this one's) is refused by serve and verify, with
// a message saying so, and left as it was.
func TestNewerSchemaIsRefused(t *testing.T) {
	gw := startGateway(t)
	c := nx{gw: gw, key: gw.key(t, "ops")}
	c.upload(t, "inv", "1", "", "a.txt", []byte("alpha"), "text/plain")
	gw.stop()
	meta := filepath.Join(gw.data, "store", "meta.db")
	db, err := bolt.Open(meta, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("schema"))
		if b == nil {
			return fmt.Errorf("meta.db has no schema bucket")
		}
		return b.Put([]byte("version"), binenc.BigEndian.AppendUint64(nil, 99))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(meta)
	for _, args := range [][]string{
		{"serve", "--listen", freeAddr(t), "--data", gw.data},
		{"verify", "--data", gw.data},
	} {
		code, _, stderr := dragoman(t, args...)
		if code != 1 || !strings.Contains(stderr, "store schema is newer than this dragoman: it is version 99") {
			t.Errorf("%s on a newer store: exit %d stderr %q", args[0], code, stderr)
		}
	}
	if after, _ := os.ReadFile(meta); !bytes.Equal(before, after) {
		t.Error("refusing a newer store changed meta.db")
	}
}

// waitOutput waits a little for the gateway's log to say want: the pipe
// from the process is copied by another goroutine.
func waitOutput(gw *gateway, want string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(gw.out.String(), want) {
			return true
		}
	}
	return false
}

// TestOperatorCommandsInFrontOfAnUpstream: a gateway with no bundled store
// is ready when its own state is, and verify and backup say there is no
// store of theirs to check or copy.
func TestOperatorCommandsInFrontOfAnUpstream(t *testing.T) {
	back := startGateway(t)
	front := startGateway(t, "--upstream", "nimblex+"+back.base, "--upstream-token", back.key(t, "front"))
	code, _, body := do(t, http.MethodGet, front.url("/readyz"), nil, nil)
	if code != http.StatusOK || string(body) != `{"status":"ok","store":"remote"}` {
		t.Errorf("/readyz in front of an upstream: %d %s", code, body)
	}
	for _, args := range [][]string{
		{"verify", "--data", front.data},
		{"backup", "--data", front.data, "--out", filepath.Join(t.TempDir(), "b.tar")},
	} {
		code, _, stderr := dragoman(t, args...)
		if code != 1 || !strings.Contains(stderr, "no bundled store in "+front.data) {
			t.Errorf("%s in front of an upstream: exit %d stderr %q", args[0], code, stderr)
		}
	}
}
