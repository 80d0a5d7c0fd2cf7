package translate

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// escapeByteByByte is appendJSONEscaped as it was before it copied runs
// whole: the reference the faster one must agree with.
func escapeByteByByte(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

func TestAppendJSONEscapedAgreesWithTheReference(t *testing.T) {
	for _, s := range []string{"", "plain name.pdf", `a"b\c`, "tab\there\nnew\rline", "<a href='x'>&amp;</a>",
		"\x00\x01\x1f\x7f", "héllo wörld 日本", "bad \xff utf8 \xc3", "sep\u2028and\u2029", "end\"", "\"start",
		"/records/a%20b/attachments/content/x.pdf"} {
		got := string(appendJSONEscaped([]byte("pre"), s))
		want := string(escapeByteByByte([]byte("pre"), s))
		if got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(`"`+got[3:]+`"`), &back); err != nil {
			t.Errorf("%q: %q is no JSON string: %v", s, got, err)
		}
	}
}

func FuzzAppendJSONEscaped(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff\u2028<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONEscaped(nil, s)), string(escapeByteByByte(nil, s)); got != want {
			t.Fatalf("%q: %q, want %q", s, got, want)
		}
	})
}
