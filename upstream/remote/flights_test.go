package remote

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// gatedLister is a listing call that blocks until released and answers
// with the number of the call, so a test sees which listing it got.
type gatedLister struct {
	calls   atomic.Int64
	started chan int64
	release chan struct{}
}

func newGatedLister() *gatedLister {
	return &gatedLister{started: make(chan int64, 16), release: make(chan struct{}, 16)}
}

func (g *gatedLister) list(ctx context.Context) ([]translate.Remote, error) {
	n := g.calls.Add(1)
	g.started <- n
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctxError(ctx)
	}
	return []translate.Remote{{NativeID: strconv.FormatInt(n, 10)}}, nil
}

func callNumber(t *testing.T, rs []translate.Remote, err error) int64 {
	t.Helper()
	if err != nil {
		t.Fatalf("listing: %v", err)
	}
	if len(rs) != 1 {
		t.Fatalf("listing: %d files, want 1", len(rs))
	}
	n, _ := strconv.ParseInt(rs[0].NativeID, 10, 64)
	return n
}

func waitStarted(t *testing.T, g *gatedLister, want int64) {
	t.Helper()
	select {
	case n := <-g.started:
		if n != want {
			t.Fatalf("listing %d started, want %d", n, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("listing %d never started", want)
	}
}

// Callers arriving while a listing is in flight share the next one, and
// none of them is answered with the listing sent before it called.
func TestListingsShareTheNextListing(t *testing.T) {
	var l listings
	g := newGatedLister()
	key := listingKey{collection: "c", id: "r"}
	ctx := context.Background()

	first := make(chan int64, 1)
	go func() {
		rs, err := l.share(ctx, key, g.list)
		first <- callNumber(t, rs, err)
	}()
	waitStarted(t, g, 1)

	const later = 5
	got := make(chan int64, later)
	var wg sync.WaitGroup
	for range later {
		wg.Go(func() {
			rs, err := l.share(ctx, key, g.list)
			got <- callNumber(t, rs, err)
		})
	}
	// Let every later caller queue up behind the first listing.
	waitQueued(t, &l, key)
	time.Sleep(20 * time.Millisecond) // the rest join the queued one
	g.release <- struct{}{}
	if n := <-first; n != 1 {
		t.Fatalf("first caller got listing %d, want 1", n)
	}
	waitStarted(t, g, 2)
	g.release <- struct{}{}
	wg.Wait()
	close(got)
	for n := range got {
		if n != 2 {
			t.Errorf("a caller that came while listing 1 was in flight got listing %d, want 2", n)
		}
	}
	if c := g.calls.Load(); c != 2 {
		t.Errorf("%d listings sent for 1+%d callers, want 2", c, later)
	}
	l.mu.Lock()
	left := len(l.m)
	l.mu.Unlock()
	if left != 0 {
		t.Errorf("%d records still queued after every listing is back", left)
	}
}

// A caller who sends a shared listing and goes away does not fail those
// who joined it: they send their own.
func TestListingsOutliveTheCallerWhoSentThem(t *testing.T) {
	var l listings
	g := newGatedLister()
	key := listingKey{collection: "c", id: "r"}

	busy := make(chan struct{})
	go func() {
		defer close(busy)
		_, _ = l.share(context.Background(), key, g.list)
	}()
	waitStarted(t, g, 1)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := l.share(leaderCtx, key, g.list)
		leaderErr <- err
	}()
	waitQueued(t, &l, key)
	follower := make(chan int64, 1)
	go func() {
		rs, err := l.share(context.Background(), key, g.list)
		follower <- callNumber(t, rs, err)
	}()
	time.Sleep(20 * time.Millisecond)
	cancelLeader()
	if err := <-leaderErr; !upstream.IsKind(err, upstream.KindTimeout) {
		t.Fatalf("the caller who went away got %v, want a timeout kind", err)
	}
	g.release <- struct{}{} // listing 1
	<-busy
	waitStarted(t, g, 2)
	g.release <- struct{}{}
	if n := <-follower; n != 2 {
		t.Fatalf("follower got listing %d, want its own listing 2", n)
	}
}

func waitQueued(t *testing.T, l *listings, key listingKey) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		q := l.m[key]
		queued := q != nil && q.next != nil
		l.mu.Unlock()
		if queued {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no listing queued")
}

// Listings of different records do not wait for each other.
func TestListingsOfOtherRecordsRunAtOnce(t *testing.T) {
	var l listings
	g := newGatedLister()
	done := make(chan struct{}, 2)
	for _, id := range []string{"a", "b"} {
		go func() {
			_, _ = l.share(context.Background(), listingKey{collection: "c", id: id}, g.list)
			done <- struct{}{}
		}()
	}
	for range 2 {
		select {
		case <-g.started:
		case <-time.After(5 * time.Second):
			t.Fatal("the second record's listing waited for the first's")
		}
	}
	g.release <- struct{}{}
	g.release <- struct{}{}
	<-done
	<-done
}
