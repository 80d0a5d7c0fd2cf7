package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runSmall keeps -c connections busy with one request for -d, each
// connection sending its next request as soon as the previous answer is
// read (a closed loop), and reports throughput and latency.
//
// With -rate R the connections together send R requests a second on a
// fixed schedule (request k is due at start + k/R; a free connection takes
// the next due request and waits for its time), so the server sees a
// steady load below its peak. Latency is still measured from the moment a
// request is written; lag_p99_ms says how far behind schedule requests
// were sent (all connections busy, or the generator's timer late).
func runSmall(args []string) error {
	fs := newFlags("small")
	rawURL := fs.String("url", "", "full URL to GET")
	key := fs.String("key", "", "API key (Authorization: Bearer, or see -key-header)")
	keyHeader := fs.String("key-header", "", "send the key bare in this header (X-Api-Key, say) instead of Authorization: Bearer")
	rate := fs.Float64("rate", 0, "requests a second over all connections (0: as fast as they go)")
	conns := fs.Int("c", 64, "connections, each with one request in flight")
	dur := fs.Duration("d", 10*time.Second, "how long to measure")
	maxReqs := fs.Int64("max", 10_000_000, "stop after this many requests in all")
	want := fs.Int("status", 200, "the status every answer must have")
	pid, upPid := addPidFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := target(*rawURL)
	if err != nil {
		return err
	}
	if *conns < 1 || *conns > 1024 || *dur <= 0 || *dur > 5*time.Minute {
		return fmt.Errorf("-c must be 1..1024 and -d at most 5m")
	}
	if *rate < 0 || *rate > 1e6 {
		return fmt.Errorf("-rate must be 0..1000000")
	}
	cred := "Authorization: Bearer " + *key
	if *keyHeader != "" {
		if strings.ContainsAny(*keyHeader, ": \r\n") {
			return fmt.Errorf("-key-header %q: a header name", *keyHeader)
		}
		cred = *keyHeader + ": " + *key
	}
	req := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\nUser-Agent: dragoman-bench/load\r\n\r\n",
		u.RequestURI(), u.Host, cred)
	var interval time.Duration
	if *rate > 0 {
		interval = time.Duration(float64(time.Second) / *rate)
	}

	// Dial every connection first; the clock starts when all are open.
	hardStop := time.Now().Add(*dur + 30*time.Second)
	cs := make([]*rawConn, *conns)
	for i := range cs {
		if cs[i], err = dialKeepAlive(u.Host, hardStop); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
	}

	var (
		issued    atomic.Int64
		ioErrors  atomic.Int64
		badStatus atomic.Int64
		firstErr  atomic.Value
		slot      atomic.Int64 // with -rate: the next request due
		wg        sync.WaitGroup
	)
	lat := make([][]time.Duration, *conns)
	lags := make([][]time.Duration, *conns)
	start := time.Now()
	stopAt := start.Add(*dur)
	cpu := startCPU(*pid, *upPid)
	for i := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := cs[i]
			defer func() {
				if rc != nil {
					rc.Close()
				}
			}()
			samples := make([]time.Duration, 0, 1<<15)
			var late []time.Duration
			for issued.Add(1) <= *maxReqs {
				if interval > 0 {
					due := start.Add(time.Duration(slot.Add(1)-1) * interval)
					if !due.Before(stopAt) {
						break
					}
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					late = append(late, time.Since(due))
				}
				t0 := time.Now()
				if !t0.Before(stopAt) {
					break
				}
				status, closing, err := rc.do(req)
				if err != nil {
					ioErrors.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					closing = true
				} else {
					samples = append(samples, time.Since(t0))
					if status != *want {
						badStatus.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", status))
					}
				}
				if closing {
					rc.Close()
					if rc, err = dialKeepAlive(u.Host, hardStop); err != nil {
						ioErrors.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						break
					}
				}
			}
			lat[i], lags[i] = samples, late
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	use := cpu.stop()

	var all []time.Duration
	for _, s := range lat {
		all = append(all, s...)
	}
	done := int64(len(all))
	line := fmt.Sprintf("conns=%d reqs=%d errors=%d bad_status=%d secs=%.2f rps=%.0f %s %s",
		*conns, done, ioErrors.Load(), badStatus.Load(), secs, float64(done)/secs,
		latencySummary(all), cpuFields(use, secs))
	if interval > 0 {
		var late []time.Duration
		for _, l := range lags {
			late = append(late, l...)
		}
		slices.Sort(late)
		line += fmt.Sprintf(" rate=%.0f lag_p50_ms=%.3f lag_p99_ms=%.3f", *rate,
			percentile(late, .50).Seconds()*1e3, percentile(late, .99).Seconds()*1e3)
	}
	if e, ok := firstErr.Load().(string); ok {
		line += fmt.Sprintf(" first_error=%q", e)
	}
	report("small", line)
	return nil
}
