package translate

import (
	"strings"
	"testing"
)

// reservedByToUpper is isWindowsReserved as it was written first, with
// strings.ToUpper: the stack version must agree with it on every name.
func reservedByToUpper(s string) bool {
	base, _, _ := strings.Cut(s, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	if windowsReserved[base] {
		return true
	}
	if len(base) >= 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		switch base[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00B9", "\u00B2", "\u00B3":
			return true
		}
	}
	return false
}

func TestIsWindowsReserved(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"CON", true}, {"con", true}, {"con.txt", true}, {"Con  .txt", true}, {"nul", true},
		{"conin$", true}, {"CONOUT$.log", true}, {"com1", true}, {"LPT9.x", true}, {"com\u00B9", true},
		{"lpt\u00B3.txt", true},
		// U+0131 (dotless i) upper-cases to I: "conın" is CONIN, not CONIN$.
		{"con\u0131n$", true}, {"con\u0131n", false},
		{"console", false}, {"com10", false}, {"com", false}, {"file-03.txt", false},
		{"a-long-file-name.txt", false}, {"", false}, {"CONOUT$$", false}, {"\u00E9\u00E9\u00E9", false},
	} {
		if got := isWindowsReserved(tc.name); got != tc.want {
			t.Errorf("isWindowsReserved(%q) = %v, want %v", tc.name, got, tc.want)
		}
		if ref := reservedByToUpper(tc.name); ref != tc.want {
			t.Errorf("the ToUpper version says %v for %q: the table is wrong", ref, tc.name)
		}
	}
}

// FuzzIsWindowsReserved checks the stack version against the ToUpper one.
func FuzzIsWindowsReserved(f *testing.F) {
	for _, s := range []string{"CON", "con\u0131n$", "lpt\u00B3.txt", "file.txt", "COM1 .x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isWindowsReserved(s), reservedByToUpper(s); got != want {
			t.Fatalf("isWindowsReserved(%q) = %v, ToUpper's version %v", s, got, want)
		}
	})
}

func TestValidateFieldSegments(t *testing.T) {
	for _, tc := range []struct {
		field string
		ok    bool
	}{
		{"scans", true}, {"scans/2024", true}, {"a/b/c", true},
		{"a//b", false}, {"a/", false}, {"/a", false}, {"a/../b", false}, {"a/con", false}, {"a/b\u202E", false},
	} {
		if err := ValidateField(tc.field); (err == nil) != tc.ok {
			t.Errorf("ValidateField(%q) = %v, want ok %v", tc.field, err, tc.ok)
		}
	}
}
