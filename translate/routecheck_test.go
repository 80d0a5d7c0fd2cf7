package translate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// routeCheckWant starts the comment at the end of a case's routes file
// that holds the problems Load must report for it, one a "# " line, in full
// and in order; nothing after it means the file must load.
const routeCheckWant = "# want:\n"

// TestRoutesCheckMessages loads every routes file under
// testdata/routecheck/ and compares the problems Load reports with the
// ones written below the file, exactly: every message is in the file's own
// terms, at its line, and one mistake is one message (a stray follow-on
// error fails the case as surely as a missing one).
func TestRoutesCheckMessages(t *testing.T) {
	files, err := filepath.Glob("testdata/routecheck/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found %d cases under testdata/routecheck, want the whole set", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			i := strings.LastIndex(string(data), routeCheckWant)
			if i < 0 {
				t.Fatalf("%s has no %q comment", file, strings.TrimSpace(routeCheckWant))
			}
			var want []string
			for _, line := range strings.Split(strings.TrimSpace(string(data[i+len(routeCheckWant):])), "\n") {
				if line != "" {
					want = append(want, strings.TrimPrefix(line, "# "))
				}
			}
			_, err = Load(data)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if w := strings.Join(want, "\n"); got != w {
				t.Errorf("Load reported:\n%s\nwant:\n%s", orNothing(got), orNothing(w))
			}
			for _, bad := range []string{"translate.", "!!", "yaml:", "unmarshal", "%!"} {
				if strings.Contains(got, bad) {
					t.Errorf("a message speaks Go or yaml.v3 (%q):\n%s", bad, got)
				}
			}
		})
	}
}

func orNothing(s string) string {
	if s == "" {
		return "(nothing: the file loads)"
	}
	return s
}
