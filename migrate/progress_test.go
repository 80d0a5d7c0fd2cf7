package migrate

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func TestProgressDraws(t *testing.T) {
	for _, tc := range []struct {
		terminal bool
		want     []string
	}{
		{false, []string{"migrate: 3/4 files, 1.5 KiB/2.0 KiB", "1 failed\n"}},
		{true, []string{"\r\x1b[K[", "=", "3/4 files", "ETA"}},
	} {
		var out bytes.Buffer
		p := NewProgress(&out, tc.terminal)
		p.FilesTotal.Store(4)
		p.FilesDone.Store(3)
		p.BytesTotal.Store(2048)
		p.BytesDone.Store(1536)
		p.Failures.Store(1)
		stop := p.Start()
		stop()
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("terminal %v: %q does not contain %q", tc.terminal, out.String(), w)
			}
		}
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 200 << 20: "200.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestProgressWritesItsStatus(t *testing.T) {
	path := t.TempDir() + "/m.status"
	p := NewProgress(io.Discard, false)
	p.StatusFile, p.From, p.To = path, "bundled:a", "nimblex+http://b"
	p.FilesTotal.Store(4)
	p.FilesDone.Store(1)
	p.BytesTotal.Store(4000)
	p.BytesDone.Store(1000)
	p.Failures.Store(2)
	stop := p.Start()
	stop()
	st, err := ReadStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateRunning || st.From != "bundled:a" || st.To != "nimblex+http://b" || st.FilesTotal != 4 || st.FilesDone != 1 ||
		st.BytesTotal != 4000 || st.BytesDone != 1000 || st.Failures != 2 || st.PID != os.Getpid() || st.Started.IsZero() ||
		st.BytesPerSecond <= 0 || st.ETASeconds <= 0 {
		t.Errorf("status %+v", st)
	}
	if err := WriteStatus(path, p.Snapshot(StateDone)); err != nil {
		t.Fatal(err)
	}
	if st, _ := ReadStatus(path); st.State != StateDone {
		t.Errorf("final state %q", st.State)
	}
	if _, err := ReadStatus(path + ".none"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
