package migrate

import (
	"bytes"
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
