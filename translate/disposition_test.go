package translate

import (
	"mime"
	"strings"
	"testing"
)

func TestContentDisposition(t *testing.T) {
	cases := []struct {
		name, want string
	}{
		{"report.pdf", `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`},
		{"Relatório.pdf", `attachment; filename="Relatorio.pdf"; filename*=UTF-8''Relat%C3%B3rio.pdf`},
		// Precomposed and decomposed spellings give the same fallback.
		{"Relato\u0301rio.pdf", `attachment; filename="Relatorio.pdf"; filename*=UTF-8''Relato%CC%81rio.pdf`},
		{"Straße Ærø Łódź.txt", `attachment; filename="Strasse AEro Lodz.txt"; filename*=UTF-8''Stra%C3%9Fe%20%C3%86r%C3%B8%20%C5%81%C3%B3d%C5%BA.txt`},
		{"日本語.pdf", `attachment; filename="___.pdf"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.pdf`},
		{`say "hi"\now.txt`, `attachment; filename="say _hi__now.txt"; filename*=UTF-8''say%20%22hi%22%5Cnow.txt`},
		// Characters that are fine in a URL path but not in an ext-value.
		{"a(1);b=c,d'e*f@g:h.txt", `attachment; filename="a(1);b=c,d'e*f@g:h.txt"; filename*=UTF-8''a%281%29%3Bb%3Dc%2Cd%27e%2Af%40g%3Ah.txt`},
		{"50%_off!#$&+^`|~.txt", "attachment; filename=\"50%_off!#$&+^`|~.txt\"; filename*=UTF-8''50%25_off!#$&+^`|~.txt"},
		{"\u0301", `attachment; filename="download"; filename*=UTF-8''%CC%81`},
		// Compatibility forms: a ligature, an ordinal, full-width letters.
		{"ﬁnal 2º ＡＢ.txt", `attachment; filename="final 2o AB.txt"; filename*=UTF-8''%EF%AC%81nal%202%C2%BA%20%EF%BC%A1%EF%BC%A2.txt`},
	}
	for _, c := range cases {
		got := contentDisposition(c.name)
		if got != c.want {
			t.Errorf("contentDisposition(%q)\n got %s\nwant %s", c.name, got, c.want)
			continue
		}
		// Go's own parser reads filename* back as the exact name.
		_, params, err := mime.ParseMediaType(got)
		if err != nil || params["filename"] != c.name {
			t.Errorf("mime.ParseMediaType(%s) = %q, %v; want filename %q", got, params["filename"], err, c.name)
		}
	}
}

// FuzzContentDisposition: for any name a client may store, the header is
// printable ASCII, and a standard parser reads the exact name back from
// filename* and an ASCII one from filename.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"report.pdf", "Relatório.pdf", "日本語.pdf", `a"b\c.txt`, "a;b=c", "x%41.txt", "\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateName(name) != nil {
			return
		}
		cd := contentDisposition(name)
		for i := 0; i < len(cd); i++ {
			if cd[i] < 0x20 || cd[i] > 0x7e {
				t.Fatalf("contentDisposition(%q) = %q: byte %#x is not printable ASCII", name, cd, cd[i])
			}
		}
		_, params, err := mime.ParseMediaType(cd)
		if err != nil || params["filename"] != name {
			t.Fatalf("contentDisposition(%q) = %q reads back as %q, %v", name, cd, params["filename"], err)
		}
		fb := asciiFallback(name)
		if fb == "" || strings.ContainsAny(fb, "\"\\") {
			t.Fatalf("asciiFallback(%q) = %q", name, fb)
		}
	})
}

func BenchmarkContentDisposition(b *testing.B) {
	for b.Loop() {
		contentDisposition("Relatório de visita (2º).pdf")
	}
}
