package migrate

import (
	"strings"
	"testing"
)

// FuzzParseRecords: any input either fails with a line number or gives
// records whose parts are non-empty and trimmed, and which read back the
// same when written out again.
func FuzzParseRecords(f *testing.F) {
	f.Add("c/1\n# comment\n\nc/2/x\n")
	f.Add("noslash\n")
	f.Add(" a / b \r\n")
	f.Fuzz(func(t *testing.T, in string) {
		refs, err := ParseRecords(strings.NewReader(in))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "read records") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		var b strings.Builder
		for _, r := range refs {
			if r.Collection == "" || r.ID == "" || strings.TrimSpace(r.Collection) != r.Collection || strings.TrimSpace(r.ID) != r.ID || strings.Contains(r.Collection, "/") {
				t.Fatalf("bad record %+v from %q", r, in)
			}
			b.WriteString(recordName(r) + "\n")
		}
		again, err := ParseRecords(strings.NewReader(b.String()))
		if err != nil || len(again) != len(refs) {
			t.Fatalf("written out and read again: %v, %d records, want %d", err, len(again), len(refs))
		}
	})
}
