package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	clock := time.Unix(1000, 0)
	l := New(2, 3)
	l.now = func() time.Time { return clock }
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", true}, // the burst
		{0, "a", false},                     // empty
		{0, "b", true},                      // other keys have their own bucket
		{500 * time.Millisecond, "a", true}, // one token back at 2/s
		{0, "a", false},
		{10 * time.Second, "a", true}, // refills to the burst, not beyond
		{0, "a", true}, {0, "a", true}, {0, "a", false},
	}
	for i, s := range steps {
		clock = clock.Add(s.advance)
		if got := l.Allow(s.key); got != s.want {
			t.Fatalf("step %d: Allow(%q) = %v, want %v", i, s.key, got, s.want)
		}
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New(1e9, 1e9)
	for i := 0; i < b.N; i++ {
		l.Allow("key")
	}
}
