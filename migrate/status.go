package migrate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Status is a migration's progress as `dragoman migrate --status FILE`
// writes it, every second while it runs and once more when it ends, for
// whoever watches (the console of a `serve --migrate-status FILE`).
type Status struct {
	// State is running, done (nothing failed), failed (some files failed
	// or mismatched, or the run could not go on) or cancelled.
	State      string    `json:"state"`
	PID        int       `json:"pid"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Started    time.Time `json:"started"`
	Updated    time.Time `json:"updated"`
	FilesTotal int64     `json:"files_total"`
	FilesDone  int64     `json:"files_done"`
	BytesTotal int64     `json:"bytes_total"`
	BytesDone  int64     `json:"bytes_done"`
	Failures   int64     `json:"failures"`
	// BytesPerSecond is the mean rate since the start; ETASeconds the time
	// the bytes left take at that rate (-1: unknown).
	BytesPerSecond float64 `json:"bytes_per_second"`
	ETASeconds     float64 `json:"eta_seconds"`
}

// The states of a Status.
const (
	StateRunning   = "running"
	StateDone      = "done"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Snapshot is the progress now, in state.
func (p *Progress) Snapshot(state string) Status {
	now := time.Now()
	st := Status{State: state, PID: os.Getpid(), From: p.From, To: p.To, Started: p.start, Updated: now,
		FilesTotal: p.FilesTotal.Load(), FilesDone: p.FilesDone.Load(), BytesTotal: p.BytesTotal.Load(),
		BytesDone: p.BytesDone.Load(), Failures: p.Failures.Load(), ETASeconds: -1}
	if !p.start.IsZero() {
		st.BytesPerSecond = float64(st.BytesDone) / max(now.Sub(p.start).Seconds(), 0.001)
	}
	if st.BytesPerSecond > 0 && st.BytesTotal >= st.BytesDone {
		st.ETASeconds = float64(st.BytesTotal-st.BytesDone) / st.BytesPerSecond
	}
	return st
}

// WriteStatus replaces the file at path with st, whole: a reader sees the
// old status or the new one, never half of one.
func WriteStatus(path string, st Status) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("migrate status: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("migrate status: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("migrate status: %w", err)
	}
	return nil
}

// ReadStatus reads a status file WriteStatus wrote.
func ReadStatus(path string) (Status, error) {
	var st Status
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("migrate status %s: %w", path, err)
	}
	return st, nil
}
