package membudget

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestReserve(t *testing.T) {
	b := New(100, 200*time.Millisecond)
	ctx := context.Background()
	if err := b.Reserve(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if err := b.Reserve(ctx, 101); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a reservation over the whole budget: %v, want ErrTooLarge", err)
	}
	start := time.Now()
	if err := b.Reserve(ctx, 50); !errors.Is(err, ErrExhausted) {
		t.Fatalf("past the budget: %v, want ErrExhausted", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("gave up after %v, want it to wait about 200ms", el)
	}
	got := make(chan error, 1)
	go func() { got <- b.Reserve(ctx, 50) }()
	time.Sleep(50 * time.Millisecond)
	if left := b.Release(60); left != 0 {
		t.Fatalf("in use after release: %d", left)
	}
	if err := <-got; err != nil {
		t.Fatalf("a waiting reservation was not woken by a release: %v", err)
	}
	if b.InUse() != 50 {
		t.Fatalf("in use %d, want 50", b.InUse())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Reserve(cctx, 60); !errors.Is(err, context.Canceled) {
		t.Fatalf("with an ended context: %v", err)
	}
}
