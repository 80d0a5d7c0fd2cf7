package translate

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Names and fields reach other dialects' clients, which rebuild paths from
// them, so whatever the checks accept must be safe as a path below a
// directory. A ".." inside a segment ("v1..v2.pdf") is an ordinary name;
// only a segment that is "." or ".." climbs.

// unsafePathPart says what is wrong with one accepted segment, or "".
func unsafePathPart(seg string) string {
	switch {
	case seg == "":
		return "an empty segment"
	case seg == "." || seg == "..":
		return "a " + seg + " segment"
	case len(seg) > MaxNameBytes:
		return "a segment over MaxNameBytes"
	case !utf8.ValidString(seg):
		return "invalid UTF-8"
	case strings.ContainsRune(seg, '\\'):
		return "a backslash"
	case strings.ContainsFunc(seg, unicode.IsControl):
		return "a control character"
	}
	return ""
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a.pdf", "", ".", "..", "...", "v1..v2.pdf", "../x", "a/b", `a\b`, "a\x00b", "tab\there",
		"\x7f", "\u0085", "\xff", "résumé.pdf", strings.Repeat("n", 255), strings.Repeat("n", 256), " ", "\u202ecod.exe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName(name) != nil {
			return
		}
		if strings.ContainsRune(name, '/') {
			t.Fatalf("ValidateName accepted %q, which has a '/'", name)
		}
		if bad := unsafePathPart(name); bad != "" {
			t.Fatalf("ValidateName accepted %q, which has %s", name, bad)
		}
	})
}

func FuzzValidateField(f *testing.F) {
	for _, s := range []string{"contracts", "", "/", "/etc", "a/", "a//b", "a/./b", "a/../b", "..", "a/b/c", `a\b`, "a\x00",
		"a/\u0080", "\xc3", strings.Repeat("f/", 512) + "f", strings.Repeat("s", 256), "attachments", "contracts/2024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		if ValidateField(field) != nil {
			return
		}
		if len(field) > MaxFieldBytes {
			t.Fatalf("ValidateField accepted %d bytes, over MaxFieldBytes", len(field))
		}
		if strings.HasPrefix(field, "/") {
			t.Fatalf("ValidateField accepted %q, an absolute path", field)
		}
		for _, seg := range strings.Split(field, "/") {
			if bad := unsafePathPart(seg); bad != "" {
				t.Fatalf("ValidateField accepted %q, which has %s", field, bad)
			}
		}
	})
}
