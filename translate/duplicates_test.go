package translate

import (
	"slices"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func TestTagNameRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, id, tagged string }{
		{"report.pdf", "0f3a9c2b11d4e5f6", "report~0f3a9c2b.pdf"},
		{"archive.tar.gz", "aaaaaaaabbbbbbbb", "archive.tar~aaaaaaaa.gz"},
		{"README", "0123456789abcdef", "README~01234567"},
		{".env", "0123456789abcdef", ".env~01234567"},
		{"a~b.pdf", "0123456789abcdef", "a~b~01234567.pdf"},
	} {
		got := tagName(tc.name, tc.id)
		if got != tc.tagged {
			t.Errorf("tagName(%q, %q) = %q, want %q", tc.name, tc.id, got, tc.tagged)
		}
		base, tag, ok := untagName(got)
		if !ok || base != tc.name || tag != tc.id[:dupTagLen] {
			t.Errorf("untagName(%q) = %q %q %v, want %q %q", got, base, tag, ok, tc.name, tc.id[:dupTagLen])
		}
	}
	for _, plain := range []string{"report.pdf", "a~b.pdf", "~01234567.pdf", "x~0123.pdf", ""} {
		if base, tag, ok := untagName(plain); ok {
			t.Errorf("untagName(%q) = %q %q, want no tag", plain, base, tag)
		}
	}
}

func TestUniqueNames(t *testing.T) {
	att := func(id, field, name string) upstream.Attachment {
		return upstream.Attachment{ID: id, Field: field, Name: name}
	}
	in := []upstream.Attachment{
		att("1111111100000000", "a", "x.pdf"), att("2222222200000000", "a", "x.pdf"),
		att("3333333300000000", "a", "y.pdf"), att("4444444400000000", "b", "x.pdf"),
		att("5555555500000000", "a", "x.pdf"),
	}
	var got []string
	for _, a := range uniqueNames(in) {
		got = append(got, a.Field+"/"+a.Name)
	}
	want := []string{"a/x~11111111.pdf", "a/x~22222222.pdf", "a/y.pdf", "b/x.pdf", "a/x.pdf"}
	if !slices.Equal(got, want) {
		t.Errorf("uniqueNames: %v, want %v", got, want)
	}
	if in[0].Name != "x.pdf" {
		t.Errorf("uniqueNames changed its input: %q", in[0].Name)
	}
}
