package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// procStatus reads one size (VmRSS, VmHWM) of a running process from
// /proc/PID/status, in bytes.
func procStatus(pid int, key string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", key, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// gatewayStatus is procStatus of a gateway, failing the test on error.
func gatewayStatus(t testing.TB, gw *gateway, key string) int64 {
	t.Helper()
	gw.mu.Lock()
	pid := gw.cmd.Process.Pid
	gw.mu.Unlock()
	n, err := procStatus(pid, key)
	if err != nil {
		t.Fatalf("the gateway's %s: %v", key, err)
	}
	return n
}

// peakRSS is the gateway process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T, gw *gateway) int64 { return gatewayStatus(t, gw, "VmHWM") }

// vmRSS is the gateway process's resident set now.
func vmRSS(t testing.TB, gw *gateway) int64 { return gatewayStatus(t, gw, "VmRSS") }

// vmHWM is a running process's peak resident set in bytes (0 once it is
// gone).
func vmHWM(pid int) int64 {
	n, _ := procStatus(pid, "VmHWM")
	return n
}
