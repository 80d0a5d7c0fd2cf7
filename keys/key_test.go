package keys

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestScopes(t *testing.T) {
	tests := []struct {
		name        string
		readOnly    bool
		collections []string
		collection  string
		wantRead    bool
		wantEdit    bool
	}{
		{"full key, any collection", false, nil, "invoices", true, true},
		{"read-only key reads", true, nil, "invoices", true, false},
		{"scoped key inside", false, []string{"invoices", "assets"}, "assets", true, true},
		{"scoped key outside", false, []string{"invoices", "assets"}, "projects", false, false},
		{"scoped read-only inside", true, []string{"invoices"}, "invoices", true, false},
		{"scoped read-only outside", true, []string{"invoices"}, "assets", false, false},
		{"scope is exact, not prefix", false, []string{"invoices"}, "invoices2", false, false},
		{"scope is case-sensitive", false, []string{"invoices"}, "Invoices", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			secret, err := Create(dir, "k", tt.readOnly, tt.collections)
			if err != nil {
				t.Fatal(err)
			}
			r, err := OpenRing(dir)
			if err != nil {
				t.Fatal(err)
			}
			k, ok := r.Authenticate(secret)
			if !ok {
				t.Fatal("Authenticate: no match")
			}
			if got := k.CanRead(tt.collection); got != tt.wantRead {
				t.Errorf("CanRead(%q) = %v, want %v", tt.collection, got, tt.wantRead)
			}
			if got := k.CanEdit(tt.collection); got != tt.wantEdit {
				t.Errorf("CanEdit(%q) = %v, want %v", tt.collection, got, tt.wantEdit)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"ci", true},
		{"deploy bot (prod)", true},
		{"ключ-1", true},
		{strings.Repeat("a", MaxNameLen), true},
		{strings.Repeat("é", MaxNameLen), true},
		{"", false},
		{strings.Repeat("a", MaxNameLen+1), false},
		{" padded", false},
		{"padded ", false},
		{"tab\there", false},
		{"new\nline", false},
		{"nul\x00", false},
		{"bad\xffutf8", false},
		{"nbsp\u00a0inside", false},
	}
	for _, tt := range tests {
		err := checkName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("checkName(%q) = %v, not ErrInvalidName", tt.name, err)
		}
	}
}

func TestCleanCollections(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"", "  "}, nil},
		{[]string{" a", "b ", "", " c "}, []string{"a", "b", "c"}},
		{[]string{"a", " a", "b"}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		if got := cleanCollections(tt.in); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("cleanCollections(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
