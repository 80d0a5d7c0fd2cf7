package telemetry

import (
	"fmt"
	"sync"
	"testing"
)

// TestRingOrder: the ring keeps the last n records, newest first, each
// with its own path, however many went through it.
func TestRingOrder(t *testing.T) {
	for _, added := range []int{0, 1, 3, 5, 12} {
		r := newRing(5)
		for i := range added {
			r.add(Record{RequestID: fmt.Sprint(i)}, []byte("GET"), fmt.Appendf(nil, "/p/%d", i))
		}
		got := r.list()
		if want := min(added, 5); len(got) != want {
			t.Fatalf("%d added: %d listed, want %d", added, len(got), want)
		}
		for j, rec := range got {
			i := added - 1 - j
			if rec.RequestID != fmt.Sprint(i) || rec.Path != fmt.Sprintf("/p/%d", i) || rec.Method != "GET" {
				t.Errorf("%d added: entry %d is %s %s %s, want request %d", added, j, rec.RequestID, rec.Method, rec.Path, i)
			}
		}
	}
}

// TestRingConcurrent: adds from many goroutines at once leave the ring
// holding exactly its size of distinct records, each whole (its path
// the one added with its id). Run with -race.
func TestRingConcurrent(t *testing.T) {
	r := newRing(16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("%d-%d", g, i)
				r.add(Record{RequestID: id}, []byte("POST"), []byte("/p/"+id))
				if i%50 == 0 {
					for _, rec := range r.list() {
						if rec.Path != "/p/"+rec.RequestID {
							t.Errorf("listed %s with path %s", rec.RequestID, rec.Path)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	got := r.list()
	seen := map[string]bool{}
	for _, rec := range got {
		if rec.Path != "/p/"+rec.RequestID || seen[rec.RequestID] {
			t.Errorf("listed %s with path %s (seen before: %v)", rec.RequestID, rec.Path, seen[rec.RequestID])
		}
		seen[rec.RequestID] = true
	}
	if len(got) != 16 {
		t.Errorf("%d listed after the adds ended, want 16", len(got))
	}
}
