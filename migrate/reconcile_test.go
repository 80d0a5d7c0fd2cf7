package migrate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func TestReconcileFindsAndRepairsEveryKindOfDifference(t *testing.T) {
	ctx := context.Background()
	a, b := openBundled(t), openBundled(t)
	rec := upstream.RecordRef{Collection: "c", ID: "1"}
	put := func(s upstream.Store, name, typ, data string) {
		t.Helper()
		if _, err := s.Create(ctx, upstream.NewAttachment{Record: rec, Name: name, Type: typ}, strings.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	put(a, "same", "text/plain", "same")
	put(b, "same", "text/plain", "same")
	put(a, "bytes", "text/plain", "aaaa")
	put(b, "bytes", "text/plain", "bbbb")
	put(a, "type", "text/plain", "t")
	put(b, "type", "image/png", "t")
	put(a, "only-a", "", "a")
	put(b, "only-b", "", "b")

	var got []string
	out := func(d Difference) {
		got = append(got, d.Name+":"+d.Kind+":"+strings.Join(d.Fields, "+"))
	}
	sum, err := Reconcile(ctx, ReconcileOptions{A: a, B: b, Retry: fastRetry, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"bytes:differs:sha256", "only-a:missing_on_b:", "only-b:missing_on_a:", "type:differs:type"}
	if !slices.Equal(got, want) || sum.Remaining != 4 || sum.Records != 1 {
		t.Fatalf("differences %v (%+v); want %v", got, sum, want)
	}

	got = nil
	sum, err = Reconcile(ctx, ReconcileOptions{A: a, B: b, Repair: true, Retry: fastRetry, Out: func(d Difference) {
		if !d.Repaired {
			t.Errorf("%+v not repaired", d)
		}
	}})
	if err != nil || sum.Differences != 4 || sum.Repaired != 4 || sum.Remaining != 0 {
		t.Fatalf("repair: %+v, %v; want 4 differences, all repaired", sum, err)
	}
	sum, err = Reconcile(ctx, ReconcileOptions{A: a, B: b, Retry: fastRetry, Out: out})
	if err != nil || sum.Differences != 0 || len(got) != 0 {
		t.Fatalf("after repair: %+v %v, %v; want no differences", sum, got, err)
	}
}
