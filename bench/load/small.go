package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// runSmall keeps -c connections busy with one request for -d, each
// connection sending its next request as soon as the previous answer is
// read (a closed loop), and reports throughput and latency.
func runSmall(args []string) error {
	fs := newFlags("small")
	rawURL := fs.String("url", "", "full URL to GET")
	key := fs.String("key", "", "API key (Authorization: Bearer)")
	conns := fs.Int("c", 64, "connections, each with one request in flight")
	dur := fs.Duration("d", 10*time.Second, "how long to measure")
	maxReqs := fs.Int64("max", 10_000_000, "stop after this many requests in all")
	want := fs.Int("status", 200, "the status every answer must have")
	pid := fs.Int("pid", 0, "server pid, to report its CPU use")
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
	req := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nUser-Agent: dragoman-bench/load\r\n\r\n",
		u.RequestURI(), u.Host, *key)

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
		wg        sync.WaitGroup
	)
	lat := make([][]time.Duration, *conns)
	start := time.Now()
	stopAt := start.Add(*dur)
	cpu := startCPU(*pid)
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
			for issued.Add(1) <= *maxReqs {
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
			lat[i] = samples
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
	if e, ok := firstErr.Load().(string); ok {
		line += fmt.Sprintf(" first_error=%q", e)
	}
	report("small", line)
	return nil
}
