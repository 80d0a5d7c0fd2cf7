package migrate

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// Progress counts what a migration has done and shows it: a bar redrawn
// in place on a terminal, a plain line every few seconds otherwise. Its
// counters are plain atomics, readable while the migration runs.
type Progress struct {
	FilesTotal, FilesDone atomic.Int64
	BytesTotal, BytesDone atomic.Int64
	Failures              atomic.Int64

	// StatusFile, if set, gets the Status every second while the
	// progress shows (the caller writes the final one); From and To name
	// the ends in it.
	StatusFile string
	From, To   string

	out      io.Writer
	terminal bool
	every    time.Duration
	start    time.Time
	// statusFailed is set once a status write failed (said once).
	statusFailed bool
}

// NewProgress shows progress on out; terminal says whether out is a
// terminal (a bar redrawn in place) or not (a line every few seconds).
func NewProgress(out io.Writer, terminal bool) *Progress {
	every := 5 * time.Second
	if terminal {
		every = 200 * time.Millisecond
	}
	return &Progress{out: out, terminal: terminal, every: every}
}

// Start shows progress until the returned stop is called; stop draws the
// final state and returns once nothing more will be written.
func (p *Progress) Start() (stop func()) {
	p.start = time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(p.every)
		defer t.Stop()
		// Without a status file the second ticker never fires.
		var status <-chan time.Time
		if p.StatusFile != "" {
			st := time.NewTicker(time.Second)
			defer st.Stop()
			status = st.C
			p.writeStatus()
		}
		for {
			select {
			case <-done:
				p.draw(true)
				return
			case <-t.C:
				p.draw(false)
			case <-status:
				p.writeStatus()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// writeStatus writes the running status; a failure is shown once on the
// progress's output and the migration goes on.
func (p *Progress) writeStatus() {
	if err := WriteStatus(p.StatusFile, p.Snapshot(StateRunning)); err != nil && !p.statusFailed {
		p.statusFailed = true
		fmt.Fprintf(p.out, "migrate: %v\n", err)
	}
}

// draw writes one view of the counters.
func (p *Progress) draw(final bool) {
	files, filesTotal := p.FilesDone.Load(), p.FilesTotal.Load()
	bytes, bytesTotal := p.BytesDone.Load(), p.BytesTotal.Load()
	elapsed := time.Since(p.start)
	rate := float64(bytes) / max(elapsed.Seconds(), 0.001)
	eta := "?"
	if rate > 0 && bytesTotal >= bytes {
		eta = time.Duration(float64(bytesTotal-bytes) / rate * float64(time.Second)).Round(time.Second).String()
	}
	status := fmt.Sprintf("%d/%d files, %s/%s, %s/s, ETA %s, %d failed",
		files, filesTotal, size(bytes), size(bytesTotal), size(int64(rate)), eta, p.Failures.Load())
	if !p.terminal {
		fmt.Fprintf(p.out, "migrate: %s\n", status)
		return
	}
	const width = 30
	filled := width
	if bytesTotal > 0 {
		filled = int(int64(width) * min(bytes, bytesTotal) / bytesTotal)
	} else if filesTotal > 0 {
		filled = int(int64(width) * min(files, filesTotal) / filesTotal)
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.out, "\r\x1b[K[%s] %s%s", bar, status, end)
}

// size renders a byte count for people.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
