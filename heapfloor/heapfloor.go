// Package heapfloor keeps the garbage collector's heap goal at or above a
// floor.
//
// Go's collector lets the heap grow to twice the live heap (GOGC=100, and
// 4 MiB at least) before it collects again. A gateway's live heap is a few
// MiB while every request allocates a few KiB of garbage, so at the
// default it collects every few hundred requests, and on two cores that
// cost more than serving them: small-request throughput went up by a
// half with a 16 MiB floor (docs/decisions.md, docs/benchmarks.md). Raising GOGC
// alone would multiply large live heaps too (base64 bodies held whole);
// a floor raises only small ones, and above it the default pacing holds.
package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// basePercent is the pacing kept above the floor: Go's default GOGC.
const basePercent = 100

// minHeap is the runtime's least heap goal at GOGC=100.
const minHeap = 4 << 20

// Floor adjusts GOGC after each collection so that the next heap goal is at
// least its floor. It runs no goroutine of its own: the runtime calls it
// back once per collection, and Stop ends that.
type Floor struct {
	bytes uint64

	mu      sync.Mutex
	stopped bool
	percent int // last percent set
	prev    int // GOGC before Start, restored by Stop
	sample  []metrics.Sample
}

// Start begins keeping the heap goal at or above floor bytes.
func Start(floor uint64) *Floor {
	f := &Floor{bytes: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	f.prev = debug.SetGCPercent(basePercent)
	f.percent = basePercent
	f.adjust()
	f.arm()
	return f
}

// Stop ends the adjustments and restores the GOGC in force before Start.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	debug.SetGCPercent(f.prev)
}

// arm registers a callback for the next collection: a cleanup of a fresh
// object, which that collection finds unreachable.
func (f *Floor) arm() {
	runtime.AddCleanup(new(sentinel), func(f *Floor) { f.collected() }, f)
}

// sentinel is allocated only to be collected; it must not be zero-sized,
// since all zero-sized allocations share one address and never die.
type sentinel struct{ _ byte }

func (f *Floor) collected() {
	if f.adjust() {
		f.arm()
	}
}

// adjust sets GOGC for the live heap the last collection left, and reports
// whether the floor is still kept.
func (f *Floor) adjust() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.sample)
	p := Percent(f.sample[0].Value.Uint64(), f.bytes)
	if p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
	return true
}

// Percent is the GOGC that puts the heap goal for a live heap at the floor,
// or Go's default where that goal is above the floor already.
func Percent(live, floor uint64) int {
	if floor == 0 || live >= floor/2 {
		return basePercent
	}
	// The runtime's goal is never below its minimum heap, 4 MiB scaled by
	// GOGC/100: a percent above floor/4 MiB would put the goal above the
	// floor however small the live heap.
	limit := floor * 100 / minHeap
	p := limit
	if live > 0 {
		p = min((floor-live)*100/live, limit)
	}
	// Steps of a tenth keep small wobbles of the live heap from resetting
	// the pacer after every collection.
	p -= p % 10
	return max(int(p), basePercent)
}
