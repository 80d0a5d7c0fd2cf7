package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// expirer returns s as an upstream.UnlinkedExpirer, skipping when it is
// not one.
func expirer(t *testing.T, s upstream.Store) upstream.UnlinkedExpirer {
	t.Helper()
	exp, ok := s.(upstream.UnlinkedExpirer)
	if !ok {
		t.Skipf("store %T does not implement upstream.UnlinkedExpirer", s)
	}
	return exp
}

func expire(t *testing.T, exp upstream.UnlinkedExpirer, cutoff time.Time, want int) {
	t.Helper()
	n, err := exp.ExpireUnlinked(context.Background(), cutoff)
	skipUnsupported(t, err, "ExpireUnlinked")
	if err != nil {
		t.Fatalf("ExpireUnlinked: %v", err)
	}
	if n != want {
		t.Fatalf("ExpireUnlinked(%v) deleted %d, want %d", cutoff, n, want)
	}
}

func testExpireUnlinked(t *testing.T, s upstream.Store, o Options) {
	exp := expirer(t, s)
	col := o.unlinked()
	rec := o.ref("kept")
	u1 := createUnlinked(t, s, col, "u1", []byte("u1"))
	u2 := createUnlinked(t, s, upstream.RecordRef{}, "u2", nil)
	l := create(t, s, rec, "files", "linked", []byte("linked"))
	ul := createUnlinked(t, s, col, "linked later", []byte("linked later"))
	update(t, s, rec, upstream.RecordUpdate{Fields: fields("docs", []string{ul.ID})})
	old := []upstream.Attachment{u1, u2, l, ul}

	// young is created once the store's clock has passed every old one,
	// whatever its resolution.
	latest := u1.Created
	for _, a := range old {
		if a.Created.After(latest) {
			latest = a.Created
		}
	}
	var young upstream.Attachment
	for deadline := time.Now().Add(5 * time.Second); ; {
		time.Sleep(2 * time.Millisecond)
		young = createUnlinked(t, s, col, "young", []byte("young"))
		if young.Created.After(latest) {
			break
		}
		if time.Now().After(deadline) {
			t.Skipf("the store's clock did not move past %v", latest)
		}
		if err := s.Delete(context.Background(), young.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}

	// Created before the cutoff, strictly: young, created at it, stays.
	expire(t, exp, young.Created, 2)
	gone(t, s, u1.ID)
	gone(t, s, u2.ID)
	if got := read(t, s, young.ID); string(got) != "young" {
		t.Fatalf("content of the young unlinked attachment %q", got)
	}
	wantIDs(t, list(t, s, rec), ul.ID, l.ID)
	expire(t, exp, young.Created, 0)

	expire(t, exp, young.Created.Add(time.Hour), 1)
	gone(t, s, young.ID)
	wantIDs(t, list(t, s, rec), ul.ID, l.ID)
	if got := read(t, s, l.ID); string(got) != "linked" {
		t.Fatalf("content of a linked attachment after expiry %q", got)
	}
	if got := read(t, s, ul.ID); string(got) != "linked later" {
		t.Fatalf("content of an attachment linked after upload, after expiry %q", got)
	}
	expire(t, exp, young.Created.Add(time.Hour), 0)
}
