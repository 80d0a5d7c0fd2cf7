package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{live: 4 * mib, floor: 32 * mib, want: 700},      // goal 4 + 28 = 32
		{live: 6 * mib, floor: 32 * mib, want: 430},      // 433 rounded down to a tenth
		{live: 3 * mib, floor: 32 * mib, want: 800},      // 966 would lift the minimum heap to 38 MiB
		{live: 16 * mib, floor: 32 * mib, want: 100},     // the default goal reaches the floor
		{live: 200 * mib, floor: 32 * mib, want: 100},    // large heaps keep the default
		{live: 1, floor: 32 * mib, want: 800},            // minimum heap 4 MiB x 8 = the floor
		{live: 0, floor: 32 * mib, want: 800},            // nothing live yet
		{live: 0, floor: 2 * mib, want: 100},             // a floor under Go's own minimum
		{live: 4 * mib, floor: 0, want: 100},             // no floor
		{live: 15 * mib, floor: 32 * mib, want: 110},     // just under half
		{live: 31 * mib / 2, floor: 32 * mib, want: 100}, // 106 rounds to 100
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// gogc reads the GOGC in force without changing it.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestFloorFollowsCollectionsAndStops(t *testing.T) {
	prev := debug.SetGCPercent(150) // what Stop must give back
	defer debug.SetGCPercent(prev)

	// A floor of 1 TiB sets a GOGC far above 1000 for any live heap a
	// test has.
	const raised = 1000
	f := Start(1 << 40)
	if got := gogc(); got < raised {
		t.Fatalf("GOGC after Start = %d, want at least %d", got, raised)
	}
	// A collection calls the floor back, which sets GOGC again: reset it
	// by hand and see the callback raise it.
	debug.SetGCPercent(100)
	f.mu.Lock()
	f.percent = 100
	f.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for gogc() < raised {
		if time.Now().After(deadline) {
			t.Fatal("no collection called the floor back within 10 s")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}

	f.Stop()
	if got := gogc(); got != 150 {
		t.Fatalf("GOGC after Stop = %d, want the 150 from before Start", got)
	}
	// Stopped, it sets nothing after further collections.
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(); got != 150 {
		t.Fatalf("GOGC after Stop and collections = %d, want 150", got)
	}
	f.Stop() // twice is harmless
}
