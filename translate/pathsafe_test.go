package translate

import (
	"net/url"
	"strings"
	"testing"
)

// TestPathSafe holds pathSafe to url.PathEscape for every byte, alone and
// between segments: safe exactly when escaping each segment changes
// nothing.
func TestPathSafe(t *testing.T) {
	escapeSegments := func(s string) string {
		segs := strings.Split(s, "/")
		for i, seg := range segs {
			segs[i] = url.PathEscape(seg)
		}
		return strings.Join(segs, "/")
	}
	for c := 0; c < 256; c++ {
		for _, s := range []string{string(rune(c)), "a" + string([]byte{byte(c)}) + "/b", "x/" + string([]byte{byte(c)})} {
			if s == string(rune(c)) && c >= 0x80 {
				s = string([]byte{byte(c)})
			}
			want := escapeSegments(s) == s
			if got := pathSafe(s); got != want {
				t.Errorf("pathSafe(%q) = %v, but escaping gives %q", s, got, escapeSegments(s))
			}
		}
	}
	for _, s := range []string{"", "Order/7/attachments/scans/2024", "a b", "ü", "%41", "a?b", "a#b"} {
		if got, want := pathSafe(s), escapeSegments(s) == s; got != want {
			t.Errorf("pathSafe(%q) = %v, want %v", s, got, want)
		}
	}
}
