package migrate

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/dragoman-gw/dragoman/upstream"
)

// The kinds of Difference.
const (
	MissingOnA = "missing_on_a"
	MissingOnB = "missing_on_b"
	Differs    = "differs"
	// Unreadable is a record one side could not list: nothing is known.
	Unreadable = "unreadable"
)

// Difference is one way two stores disagree about a record.
type Difference struct {
	Record string `json:"record"`
	Field  string `json:"field,omitempty"`
	Name   string `json:"name,omitempty"`
	Kind   string `json:"difference"`
	// Fields names what differs: size, sha256, type, tags, title,
	// description, category, status.
	Fields []string `json:"fields,omitempty"`
	AID    string   `json:"a_id,omitempty"`
	BID    string   `json:"b_id,omitempty"`
	// Repaired is set once --repair made b agree with a.
	Repaired bool   `json:"repaired,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ReconcileOptions configure Reconcile.
type ReconcileOptions struct {
	A, B upstream.Store
	// Records to compare; nil means every record of A and of B that can
	// list their records (A must).
	Records []upstream.RecordRef
	// Repair makes B agree with A: B's extra and differing files are
	// deleted, and A's missing ones copied (verified) to B.
	Repair   bool
	Parallel int
	Retry    Retry
	// Out receives each difference, one call at a time.
	Out func(Difference)
}

// ReconcileSummary counts what Reconcile found.
type ReconcileSummary struct {
	Records, Differences, Repaired, Remaining int
}

// Reconcile compares two stores record by record. Files are paired by
// field and name; a pair differs in size, in sha256 (read whole where a
// side does not know it), or in a piece of metadata both sides carry (a
// side whose dialect cannot carry it shows it empty, which is no
// difference).
func Reconcile(ctx context.Context, o ReconcileOptions) (ReconcileSummary, error) {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Retry.Attempts <= 0 {
		o.Retry = DefaultRetry()
	}
	records := o.Records
	if records == nil {
		en, ok := o.A.(Enumerator)
		if !ok {
			return ReconcileSummary{}, ErrNoRecords
		}
		var err error
		if records, err = en.Records(ctx); err != nil {
			return ReconcileSummary{}, fmt.Errorf("list a's records: %w", err)
		}
		if enb, ok := o.B.(Enumerator); ok {
			more, err := enb.Records(ctx)
			if err != nil {
				return ReconcileSummary{}, fmt.Errorf("list b's records: %w", err)
			}
			for _, r := range more {
				if !slices.Contains(records, r) {
					records = append(records, r)
				}
			}
		}
	}
	m := &migration{Options: Options{From: o.A, To: o.B, Retry: o.Retry}, t: &tally{}}
	var mu sync.Mutex
	sum := ReconcileSummary{Records: len(records)}
	recs := make(chan upstream.RecordRef)
	var wg sync.WaitGroup
	for range o.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rec := range recs {
				diffs := m.compare(ctx, rec)
				remaining := len(diffs)
				if o.Repair && len(diffs) > 0 {
					remaining = m.repair(ctx, rec, diffs)
				}
				mu.Lock()
				sum.Differences += len(diffs)
				sum.Remaining += remaining
				for _, d := range diffs {
					if d.Repaired {
						sum.Repaired++
					}
					if o.Out != nil {
						o.Out(d)
					}
				}
				mu.Unlock()
			}
		}()
	}
	feed(ctx, recs, records)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("reconcile interrupted: %w", err)
	}
	return sum, nil
}

// compare lists rec on both sides and returns their differences.
func (m *migration) compare(ctx context.Context, rec upstream.RecordRef) []Difference {
	name := recordName(rec)
	list := func(s upstream.Store) ([]upstream.Attachment, error) {
		var l []upstream.Attachment
		err := m.Retry.do(ctx, func() (err error) { l, err = s.List(ctx, rec); return err })
		if upstream.IsKind(err, upstream.KindNotFound) {
			return nil, nil
		}
		return l, err
	}
	la, err := list(m.From)
	if err != nil {
		return []Difference{{Record: name, Kind: Unreadable, Error: "list a: " + err.Error()}}
	}
	lb, err := list(m.To)
	if err != nil {
		return []Difference{{Record: name, Kind: Unreadable, Error: "list b: " + err.Error()}}
	}
	var diffs []Difference
	used := make([]bool, len(lb))
	pair := func(a upstream.Attachment, exact bool) int {
		for j, b := range lb {
			if used[j] || b.Field != a.Field || b.Name != a.Name {
				continue
			}
			if exact && (a.SHA256 == "" || a.SHA256 != b.SHA256) {
				continue
			}
			used[j] = true
			return j
		}
		return -1
	}
	paired := make([]int, len(la))
	for i, a := range la {
		paired[i] = pair(a, true)
	}
	for i, a := range la {
		if paired[i] < 0 {
			paired[i] = pair(a, false)
		}
	}
	for i, a := range la {
		if paired[i] < 0 {
			diffs = append(diffs, Difference{Record: name, Field: a.Field, Name: a.Name, Kind: MissingOnB, AID: a.ID})
			continue
		}
		b := lb[paired[i]]
		fields, err := m.differences(ctx, a, b)
		d := Difference{Record: name, Field: a.Field, Name: a.Name, Kind: Differs, Fields: fields, AID: a.ID, BID: b.ID}
		if err != nil {
			d.Kind, d.Error = Unreadable, err.Error()
		}
		if len(fields) > 0 || err != nil {
			diffs = append(diffs, d)
		}
	}
	for j, b := range lb {
		if !used[j] {
			diffs = append(diffs, Difference{Record: name, Field: b.Field, Name: b.Name, Kind: MissingOnA, BID: b.ID})
		}
	}
	return diffs
}

// differences names what differs between two files of one field and name.
func (m *migration) differences(ctx context.Context, a, b upstream.Attachment) ([]string, error) {
	var out []string
	if a.HasContent != b.HasContent || a.Size != b.Size {
		out = append(out, "size")
	} else if a.HasContent {
		sa, sb := a.SHA256, b.SHA256
		var err error
		if sa == "" {
			if sa, err = m.sumOf(ctx, m.From, a); err != nil {
				return nil, fmt.Errorf("read a: %w", err)
			}
		}
		if sb == "" {
			if sb, err = m.sumOf(ctx, m.To, b); err != nil {
				return nil, fmt.Errorf("read b: %w", err)
			}
		}
		if sa != sb {
			out = append(out, "sha256")
		}
	}
	carried := func(name, x, y string) {
		if x != "" && y != "" && x != y {
			out = append(out, name)
		}
	}
	carried("type", a.Type, b.Type)
	if len(a.Tags) > 0 && len(b.Tags) > 0 && !slices.Equal(a.Tags, b.Tags) {
		out = append(out, "tags")
	}
	carried("title", a.Title, b.Title)
	carried("description", a.Description, b.Description)
	carried("category", a.Category, b.Category)
	carried("status", a.Status, b.Status)
	return out, nil
}

// repair makes b's copy of rec agree with a's: b's extra and differing
// files go, then a's missing ones are copied and verified. It returns how
// many differences remain, comparing again.
func (m *migration) repair(ctx context.Context, rec upstream.RecordRef, diffs []Difference) int {
	for i, d := range diffs {
		if (d.Kind == MissingOnA || d.Kind == Differs) && d.BID != "" {
			err := m.Retry.do(ctx, func() error {
				err := m.To.Delete(ctx, d.BID)
				if upstream.IsKind(err, upstream.KindNotFound) {
					return nil
				}
				return err
			})
			if err != nil {
				diffs[i].Error = "delete from b: " + err.Error()
			}
		}
	}
	r, err := Run(ctx, Options{From: m.From, To: m.To, Records: []upstream.RecordRef{rec}, Parallel: 1, Retry: m.Retry})
	if err == nil && !r.OK() {
		err = fmt.Errorf("%s", r.Summary())
	}
	remaining := m.compare(ctx, rec)
	for i, d := range diffs {
		if d.Error != "" {
			continue
		}
		still := slices.ContainsFunc(remaining, func(x Difference) bool { return x.Field == d.Field && x.Name == d.Name })
		diffs[i].Repaired = !still
		if still && err != nil {
			diffs[i].Error = "copy to b: " + err.Error()
		}
	}
	return len(remaining)
}
