package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Report is what a migration did. Its JSON form is the --report document.
type Report struct {
	Records    int       `json:"records"`
	Copied     int       `json:"copied"`
	Skipped    int       `json:"skipped"`
	Failed     int       `json:"failed"`
	Mismatched int       `json:"mismatched"`
	Bytes      int64     `json:"bytes"`
	IDs        []IDPair  `json:"ids"`
	Failures   []Failure `json:"failures"`
}

// IDPair maps a file's id at the source to its id at the destination, as
// each system's clients know it.
type IDPair struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Failure is one file (or, with no name, one record) that did not arrive.
type Failure struct {
	Record string `json:"record"`
	Name   string `json:"name"`
	Error  string `json:"error"`
}

// OK reports whether everything arrived and verified.
func (r *Report) OK() bool { return r.Failed == 0 && r.Mismatched == 0 }

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	if out.IDs == nil {
		out.IDs = []IDPair{}
	}
	if out.Failures == nil {
		out.Failures = []Failure{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Summary is the report in one line for people.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d records: %d copied, %d skipped, %d failed, %d mismatched, %s copied",
		r.Records, r.Copied, r.Skipped, r.Failed, r.Mismatched, size(r.Bytes))
	for _, f := range r.Failures {
		name := f.Name
		if name == "" {
			name = "(record)"
		}
		fmt.Fprintf(&b, "\n  failed: %s %s: %s", f.Record, name, f.Error)
	}
	return b.String()
}

// tally collects a report from concurrent workers.
type tally struct {
	mu sync.Mutex
	r  Report
	p  *Progress
}

func recordName(rec upstream.RecordRef) string { return rec.Collection + "/" + rec.ID }

func (t *tally) copied(e Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Copied++
	t.r.Bytes += e.Size
	t.r.IDs = append(t.r.IDs, IDPair{From: e.FromID, To: e.ToID})
	t.done()
}

func (t *tally) skipped(e Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Skipped++
	t.r.IDs = append(t.r.IDs, IDPair{From: e.FromID, To: e.ToID})
	t.done()
}

func (t *tally) failed(rec upstream.RecordRef, name string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Failed++
	t.r.Failures = append(t.r.Failures, Failure{Record: recordName(rec), Name: name, Error: err.Error()})
	if t.p != nil {
		t.p.Failures.Add(1)
	}
	if name != "" {
		t.done()
	}
}

func (t *tally) mismatched(rec upstream.RecordRef, name, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Mismatched++
	t.r.Failures = append(t.r.Failures, Failure{Record: recordName(rec), Name: name, Error: "mismatched: " + why})
	if t.p != nil {
		t.p.Failures.Add(1)
	}
	t.done()
}

func (t *tally) done() {
	if t.p != nil {
		t.p.FilesDone.Add(1)
	}
}

// report returns the final report, its lists in a stable order.
func (t *tally) report() Report {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.r
	slices.SortFunc(r.IDs, func(a, b IDPair) int { return strings.Compare(a.From, b.From) })
	slices.SortStableFunc(r.Failures, func(a, b Failure) int {
		if c := strings.Compare(a.Record, b.Record); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return r
}
