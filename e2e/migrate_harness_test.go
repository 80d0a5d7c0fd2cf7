package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// migrateReport is the --report document.
type migrateReport struct {
	Records    int   `json:"records"`
	Copied     int   `json:"copied"`
	Skipped    int   `json:"skipped"`
	Failed     int   `json:"failed"`
	Mismatched int   `json:"mismatched"`
	Bytes      int64 `json:"bytes"`
	IDs        []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"ids"`
	Failures []struct {
		Record string `json:"record"`
		Name   string `json:"name"`
		Error  string `json:"error"`
	} `json:"failures"`
}

// migration is one `dragoman migrate` (or reconcile) run in dir.
type migration struct {
	code           int
	stdout, stderr string
	// peakRSS is the process's peak resident memory, in bytes.
	peakRSS int64
}

// runCLI runs the binary with args in dir and waits (at most timeout).
func runCLI(t *testing.T, dir string, timeout time.Duration, args ...string) migration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("dragoman %s: %v", strings.Join(args, " "), err)
	}
	// The peak is the process's own high-water mark (VmHWM), read while it
	// runs: rusage's maxrss would start at the test binary's own peak,
	// which a child forked from it inherits across exec on Linux.
	var peak atomic.Int64
	sampled := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if hwm := vmHWM(cmd.Process.Pid); hwm > peak.Load() {
				peak.Store(hwm)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	<-sampled
	m := migration{stdout: stdout.String(), stderr: stderr.String(), peakRSS: peak.Load()}
	if cmd.ProcessState == nil {
		t.Fatalf("dragoman %s: %v", strings.Join(args, " "), err)
	}
	m.code = cmd.ProcessState.ExitCode()
	if ctx.Err() != nil {
		t.Fatalf("dragoman %s did not finish within %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), timeout, m.stdout, m.stderr)
	}
	return m
}

// readReport reads a --report file.
func readReport(t *testing.T, path string) migrateReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the report: %v", err)
	}
	var r migrateReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("the report is not JSON: %v: %s", err, snippet(b))
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(b, &keys)
	for _, k := range []string{"records", "copied", "skipped", "failed", "mismatched", "bytes", "ids", "failures"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("the report has no %q: %s", k, snippet(b))
		}
	}
	return r
}

// writeRecords writes a --records file and returns its path.
func writeRecords(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, "records.txt")
	if err := os.WriteFile(p, []byte("# records to migrate\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// journalLines counts the lines of a journal (header included).
func journalLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}
