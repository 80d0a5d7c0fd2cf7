package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/keys"
	"github.com/dragoman-gw/dragoman/upstream/pgstore"
)

// TestKeysAcrossGateways creates a key through one store and checks that
// another on the same database (another gateway) accepts it, then that a
// revoke through the second counts on the first within KeyRefresh.
func TestKeysAcrossGateways(t *testing.T) {
	b := servers.Get(t)
	a, other := openStore(t, b).KeyStore(), openStore(t, b).KeyStore()
	ctx := context.Background()
	ringA, err := a.Ring()
	if err != nil {
		t.Fatal(err)
	}
	ringB, err := other.Ring()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := a.CreateKey(ctx, "ci", true, []string{"tables", " ", "tables"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.CreateKey(ctx, "ci", false, nil); !errors.Is(err, keys.ErrNameTaken) {
		t.Fatalf("second key of the same name: %v, want ErrNameTaken", err)
	}
	if _, err := a.CreateKey(ctx, " bad", false, nil); !errors.Is(err, keys.ErrInvalidName) {
		t.Fatalf("bad name: %v, want ErrInvalidName", err)
	}
	var k keys.Key
	waitFor(t, "the new key on the other gateway", func() bool {
		var ok bool
		k, ok = ringB.Authenticate(secret)
		return ok
	})
	if k.Name != "ci" || !k.ReadOnly || len(k.Collections) != 1 || k.Collections[0] != "tables" {
		t.Fatalf("key %+v", k)
	}
	if _, ok := ringB.Authenticate(secret + "x"); ok {
		t.Fatal("a wrong secret authenticated")
	}
	if _, ok := ringA.Authenticate(secret); !ok {
		t.Fatal("the creating gateway refuses its own key")
	}
	if err := other.RevokeKey(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	if err := other.RevokeKey(ctx, "ci"); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Fatalf("revoke twice: %v, want ErrNoSuchKey", err)
	}
	waitFor(t, "the revoke on the first gateway", func() bool { _, ok := ringA.Authenticate(secret); return !ok })

	s1, err := a.Secret(ctx, "link")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := other.Secret(ctx, "link")
	if err != nil || string(s1) != string(s2) || len(s1) != 32 {
		t.Fatalf("link secrets differ between gateways (%v)", err)
	}
}

// waitFor polls cond for a few KeyRefresh periods.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * pgstore.KeyRefresh); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen after %v", what, 3*pgstore.KeyRefresh)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRateLimitAcrossGateways gives two gateways one key's burst: the
// requests they let through together are the burst, not twice it.
func TestRateLimitAcrossGateways(t *testing.T) {
	b := servers.Get(t)
	a, other := openStore(t, b).KeyStore(), openStore(t, b).KeyStore()
	const burst = 6
	la, lb := a.Limiter(0.001, burst, nil), other.Limiter(0.001, burst, nil)
	allowed := 0
	for i := range 2 * burst {
		l := la
		if i%2 == 1 {
			l = lb
		}
		if l.Allow("k") {
			allowed++
		}
	}
	if allowed != burst {
		t.Fatalf("two gateways allowed %d requests of one key, want the burst of %d", allowed, burst)
	}
	if !la.Allow("another key") {
		t.Fatal("another key was limited by the first's requests")
	}
	// Refill: at 50 a second, a token is back within 20ms.
	fa, fb := a.Limiter(50, 1, nil), other.Limiter(50, 1, nil)
	if !fa.Allow("r") || fb.Allow("r") {
		t.Fatal("burst of 1: want the first request through and the second refused")
	}
	time.Sleep(60 * time.Millisecond)
	if !fb.Allow("r") {
		t.Fatal("no token back after 60ms at 50 a second")
	}
}

// TestRateLimitLeases takes tokens from the shared bucket a lease at a
// time: a gateway spends its lease without the database (here, with the
// bucket already emptied by another gateway), and the two together still
// let through exactly the burst.
func TestRateLimitLeases(t *testing.T) {
	b := servers.Get(t)
	a, other := openStore(t, b).KeyStore(), openStore(t, b).KeyStore()
	const burst, lease = 10, 5
	la, lb := a.Limiter(0.001, burst, nil), other.Limiter(0.001, burst, nil)
	pgstore.SetLease(la, lease)
	pgstore.SetLease(lb, lease)
	if !la.Allow("k") {
		t.Fatal("the first request of a fresh key was refused")
	}
	allowedB := 0
	for range burst {
		if lb.Allow("k") {
			allowedB++
		}
	}
	if allowedB != burst-lease {
		t.Fatalf("the second gateway let through %d, want the %d the first one's lease left in the bucket", allowedB, burst-lease)
	}
	for i := range lease - 1 {
		if !la.Allow("k") {
			t.Fatalf("request %d of the first gateway's lease was refused: the lease is not spent locally", i+2)
		}
	}
	if la.Allow("k") || lb.Allow("k") {
		t.Fatal("a request past the burst was let through")
	}
}

// TestRateLimitRefusalsSpareTheDatabase: a key past its limit is refused
// without a statement per request, and so is a key whose database has
// stopped answering let through (the limiter fails open) without one.
func TestRateLimitRefusalsSpareTheDatabase(t *testing.T) {
	b := servers.Get(t)
	s := openStore(t, b)
	l := s.KeyStore().Limiter(0.001, 1, nil)
	if !l.Allow("hammer") {
		t.Fatal("the first request of a fresh key was refused")
	}
	before := pgstore.Takes(l)
	for i := range 100 {
		if l.Allow("hammer") {
			t.Fatalf("request %d past the burst of 1 was let through", i+2)
		}
	}
	if n := pgstore.Takes(l) - before; n > 10 {
		t.Errorf("100 refusals made %d statements; want a few", n)
	}

	s.Close()
	before = pgstore.Takes(l)
	for i := range 100 {
		if !l.Allow("other") {
			t.Fatalf("request %d was refused with the database gone; the limiter fails open", i+1)
		}
	}
	if n := pgstore.Takes(l) - before; n > 10 {
		t.Errorf("100 requests with the database gone made %d attempts; want a few", n)
	}
}

// TestRotateKeyAcrossGateways rotates a key through one store: the new
// secret authenticates on the other within KeyRefresh with the same name
// and scope, the old one stops, an HMAC key stays one, and an unknown
// name is ErrNoSuchKey.
func TestRotateKeyAcrossGateways(t *testing.T) {
	b := servers.Get(t)
	a, other := openStore(t, b).KeyStore(), openStore(t, b).KeyStore()
	ctx := context.Background()
	ring, err := other.Ring()
	if err != nil {
		t.Fatal(err)
	}
	old, err := a.CreateKey(ctx, "sync", true, []string{"docs"}, keys.WithHMAC())
	if err != nil {
		t.Fatal(err)
	}
	before, err := a.Keys(ctx)
	if err != nil || len(before) != 1 {
		t.Fatalf("keys %v, %v", before, err)
	}
	waitFor(t, "the new key on the other gateway", func() bool { _, ok := ring.Authenticate(old); return ok })
	secret, err := a.RotateKey(ctx, "sync")
	if err != nil || secret == old || len(secret) != len(old) {
		t.Fatalf("RotateKey: %q, %v (the old secret was %q)", secret, err, old)
	}
	var k keys.Key
	waitFor(t, "the rotated secret on the other gateway", func() bool {
		var ok bool
		k, ok = ring.Authenticate(secret)
		return ok
	})
	if _, ok := ring.Authenticate(old); ok {
		t.Error("the old secret still authenticates after the rotation")
	}
	want := before[0]
	if k.Name != want.Name || k.ReadOnly != want.ReadOnly || len(k.Collections) != 1 || k.Collections[0] != "docs" ||
		!k.Created.Equal(want.Created) || !k.HMAC || k.SecretSHA256 == want.SecretSHA256 {
		t.Errorf("rotated key %+v, was %+v", k, want)
	}
	if _, err := a.RotateKey(ctx, "nobody"); !errors.Is(err, keys.ErrNoSuchKey) {
		t.Errorf("rotate an unknown key: %v, want ErrNoSuchKey", err)
	}
}
