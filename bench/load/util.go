package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target checks that raw is an http URL on 127.0.0.1 and returns it parsed.
func target(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("-url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		return nil, fmt.Errorf("%s: only http://127.0.0.1:PORT is allowed", raw)
	}
	return u, nil
}

// parseSize reads 1024, 10MB, 10MiB, 1GiB, ...
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mul    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mul {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mul, nil
}

// percentile is the nearest-rank percentile p (0..1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latencySummary renders p50, p90, p99 and max of samples (sorted in place).
func latencySummary(samples []time.Duration) string {
	slices.Sort(samples)
	ms := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1e3, 'f', 3, 64) }
	var mx time.Duration
	if len(samples) > 0 {
		mx = samples[len(samples)-1]
	}
	return fmt.Sprintf("p50_ms=%s p90_ms=%s p99_ms=%s max_ms=%s",
		ms(percentile(samples, .50)), ms(percentile(samples, .90)), ms(percentile(samples, .99)), ms(mx))
}

// pids is a flag holding process ids: "123" or "123,456" (an nginx's
// workers, say), whose CPU use is added up.
type pids []int

func (p *pids) String() string {
	s := make([]string, len(*p))
	for i, v := range *p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (p *pids) Set(v string) error {
	*p = (*p)[:0]
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad pid %q", f)
		}
		*p = append(*p, n)
	}
	return nil
}

// addPidFlags adds -pid (the server measured) and -upstream-pid (a server
// behind it, whose CPU is then not counted as other work on the machine).
func addPidFlags(fs *flag.FlagSet) (server, upstream *pids) {
	server, upstream = new(pids), new(pids)
	fs.Var(server, "pid", "server pid (or pids, comma-separated), to report its CPU use")
	fs.Var(upstream, "upstream-pid", "pid(s) of the server behind it, to report its CPU use too")
	return server, upstream
}

// prefixKeys puts prefix before every key of a line of key=value pairs.
func prefixKeys(prefix, kv string) string {
	f := strings.Fields(kv)
	for i := range f {
		f[i] = prefix + f[i]
	}
	return strings.Join(f, " ")
}

// cpuClock measures CPU seconds of this process and of the server (and
// of its upstream) between start and stop.
type cpuClock struct {
	server, upstream pids
	self, srv, up    float64
	sys              sysTimes
}

func startCPU(server, upstream pids) *cpuClock {
	return &cpuClock{server: server, upstream: upstream, self: selfCPU(),
		srv: procsCPU(server), up: procsCPU(upstream), sys: readSysTimes()}
}

// cpuUse is what a cpuClock measured, in CPU seconds.
type cpuUse struct {
	self, server, upstream float64 // server and upstream are -1 when unknown
	idle, steal            float64 // of the whole machine; -1 when unknown
}

// stop returns the CPU seconds used since start by this process, by the
// server and its upstream, and the machine's idle and stolen time.
func (c *cpuClock) stop() cpuUse {
	u := cpuUse{self: selfCPU() - c.self, server: -1, upstream: -1, idle: -1, steal: -1}
	if s := procsCPU(c.server); s >= 0 && c.srv >= 0 {
		u.server = s - c.srv
	}
	if s := procsCPU(c.upstream); s >= 0 && c.up >= 0 {
		u.upstream = s - c.up
	}
	if now := readSysTimes(); now.ok && c.sys.ok {
		u.idle, u.steal = now.idle-c.sys.idle, now.steal-c.sys.steal
	}
	return u
}

// procsCPU adds up procCPU over ps, or -1 if there are none or one is gone.
func procsCPU(ps pids) float64 {
	if len(ps) == 0 {
		return -1
	}
	var sum float64
	for _, p := range ps {
		s := procCPU(p)
		if s < 0 {
			return -1
		}
		sum += s
	}
	return sum
}

// sysTimes is the machine's idle (with iowait) and steal time from /proc/stat.
type sysTimes struct {
	idle, steal float64
	ok          bool
}

func readSysTimes() sysTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return sysTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return sysTimes{}
	}
	var v [8]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i+1], 64); err != nil {
			return sysTimes{}
		}
	}
	const clkTck = 100
	// user nice system idle iowait irq softirq steal
	return sysTimes{idle: (v[3] + v[4]) / clkTck, steal: v[7] / clkTck, ok: true}
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// procCPU reads utime+stime of pid from /proc, or -1.
func procCPU(pid int) float64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14 and stime 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const clkTck = 100 // USER_HZ on Linux
	return (ut + st) / clkTck
}

// cpuFields renders CPU use as cores (seconds of CPU per second of wall).
func cpuFields(u cpuUse, secs float64) string {
	s := fmt.Sprintf("client_cores=%.2f", u.self/secs)
	if u.server >= 0 {
		s += fmt.Sprintf(" server_cores=%.2f", u.server/secs)
	}
	if u.upstream >= 0 {
		s += fmt.Sprintf(" upstream_cores=%.2f", u.upstream/secs)
	}
	if u.idle >= 0 {
		s += fmt.Sprintf(" idle_cores=%.2f steal_cores=%.2f", u.idle/secs, u.steal/secs)
		if u.server >= 0 {
			// Busy time of none of the processes measured: the kernel's
			// own threads (writeback, journal) and anything else on the
			// machine.
			other := float64(runtime.NumCPU())*secs - u.idle - u.self - u.server - max(u.upstream, 0)
			s += fmt.Sprintf(" other_cores=%.2f", max(other, 0)/secs)
		}
	}
	return s
}

func runFreePort(args []string) error {
	if len(args) > 0 {
		return errors.New("freeport takes no arguments")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

func runWait(args []string) error {
	fs := newFlags("wait")
	base := fs.String("url", "", "base URL of the gateway")
	timeout := fs.Duration("timeout", 20*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := target(*base)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get(u.JoinPath("healthz").String())
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s/healthz did not answer 200 within %s", *base, *timeout)
}

func newFlags(mode string) *flag.FlagSet {
	return flag.NewFlagSet("load "+mode, flag.ContinueOnError)
}

// report prints a mode's result: key=value pairs on stdout for the
// script, the same line on stderr for a reader.
func report(mode, kv string) {
	fmt.Printf("mode=%s %s\n", mode, kv)
	fmt.Fprintf(os.Stderr, "  %s: %s\n", mode, kv)
}
