package translate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// contentDisposition names a download for the client (RFC 6266): the
// exact name in filename* (UTF-8, percent-encoded), and before it an ASCII
// filename for clients that do not read filename*. The fallback keeps the
// letters a reader recognises ("Relatório.pdf" becomes "Relatorio.pdf",
// not "Relat__rio.pdf"): decomposed, its combining marks dropped.
// Compatibility decomposition (NFKD) also spells ligatures, ordinals and
// full-width forms in their letters: "ﬁ" is "fi", "2º" is "2o".
func contentDisposition(name string) string {
	var b strings.Builder
	b.Grow(len(`attachment; filename=""; filename*=UTF-8''`) + 4*len(name))
	b.WriteString(`attachment; filename="`)
	b.WriteString(asciiFallback(name))
	b.WriteString(`"; filename*=UTF-8''`)
	appendExtValue(&b, name)
	return b.String()
}

// letterSpellings are Latin letters that do not decompose into a base
// letter and marks, spelled as ASCII the way their languages do.
var letterSpellings = map[rune]string{
	'ß': "ss", 'ẞ': "SS", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE",
	'ø': "o", 'Ø': "O", 'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D",
	'ð': "d", 'Ð': "D", 'þ': "th", 'Þ': "Th", 'ı': "i", 'ħ': "h", 'Ħ': "H",
}

// asciiFallback spells name in printable ASCII for a quoted-string: marks
// dropped after compatibility decomposition, a few letters spelled out, and
// anything else (other scripts, quotes, backslashes, controls) as '_'.
func asciiFallback(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining mark: the letter before it is written already.
		case r == '"' || r == '\\':
			b.WriteByte('_')
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case letterSpellings[r] != "":
			b.WriteString(letterSpellings[r])
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "download"
	}
	return b.String()
}

// appendExtValue writes s as RFC 8187's value-chars: attr-chars as they
// are, every other byte of its UTF-8 percent-encoded.
func appendExtValue(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// isAttrChar is RFC 8187's attr-char: ALPHA, DIGIT and !#$&+-.^_`|~.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
