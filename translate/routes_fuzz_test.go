package translate

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds routes files, the good and every bad one of
// testdata/routecheck/, mutated, to Load: it never panics, and what it
// refuses it refuses with Problems, each at a line of the file, in words
// that are not Go's or yaml.v3's.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/routecheck/*.yaml")
	seeds = append(seeds, "../routes.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Load(data)
		if err == nil {
			return
		}
		var problems Problems
		if !errors.As(err, &problems) || len(problems) == 0 {
			t.Fatalf("Load refused a file with %T, not Problems: %v", err, err)
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, p := range problems {
			if p.Line < 1 || p.Line > lines {
				t.Errorf("problem at line %d of a %d-line file: %s", p.Line, lines, p)
			}
			for _, bad := range []string{"translate.", "!!", "unmarshal", "%!"} {
				if strings.Contains(p.Message, bad) {
					t.Errorf("a message speaks Go or yaml.v3 (%q): %s", bad, p)
				}
			}
		}
	})
}

// TestStrictDecoderKnowsEveryFieldType walks every type the routes file
// decodes into: each must be one strictDecoder.decode handles, so that its
// panic for a new, unhandled type is caught here and not by an operator.
func TestStrictDecoderKnowsEveryFieldType(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		switch {
		case typ == byteSizeType || typ == templateType:
			return
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(typ.Elem(), path+"[]")
		case reflect.Map:
			if typ.Key().Kind() != reflect.String {
				t.Errorf("%s: a map keyed by %s; YAML keys decode as strings", path, typ.Key())
			}
			walk(typ.Elem(), path+".<key>")
		case reflect.Struct:
			for i := range typ.NumField() {
				fd := typ.Field(i)
				if fd.IsExported() {
					walk(fd.Type, path+"."+fd.Name)
				}
			}
		case reflect.String, reflect.Int, reflect.Int64, reflect.Bool:
		default:
			t.Errorf("%s is a %s, which strictDecoder.decode does not handle", path, typ)
		}
	}
	walk(reflect.TypeFor[File](), "File")
}
