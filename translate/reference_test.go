package translate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// TestRoutesReferenceMatchesCode keeps docs/routes.md complete and true:
// each of its reference tables lists exactly the names the code accepts,
// compared both ways. The code's side is read from its tables (operations,
// error kinds, canonical values, codecs, template names), from the routes
// file's struct tags (keys), or, where the compiler holds a list as a
// switch, from the literals that switch compares with, so that a value
// added to the code without the doc, or to the doc without the code, fails
// here.
func TestRoutesReferenceMatchesCode(t *testing.T) {
	doc := readReference(t, "../docs/routes.md")
	cases := []struct {
		table string
		code  []string
		// stem, when set, maps a documented form to the name the code
		// compares with ("path.P" -> "path", "time:LAYOUT" -> "time").
		stem func(string) string
	}{
		{table: "File", code: yamlKeys(reflect.TypeFor[File](), "")},
		{table: "Dialect", code: yamlKeys(reflect.TypeFor[Dialect](), "")},
		{table: "Route", code: yamlKeys(reflect.TypeFor[RouteSpec](), "")},
		{table: "Binding", code: yamlKeys(reflect.TypeFor[BindSpec](), "")},
		{table: "Operations", code: opNames()},
		{table: "Error kinds", code: kindNames()},
		{table: "Canonical values", code: sortedKeys(knownTargets)},
		{table: "Codecs", code: nonEmpty(sortedKeys(knownCodecs))},
		{table: "Scopes", code: comparedWith(t, "compile.go", "compileRoute", "rs.Scope")},
		{table: "Body kinds", code: comparedWith(t, "compile.go", "compileRoute", "rs.Body.Kind")},
		{table: "Response lists", code: comparedWith(t, "compile.go", "compileRoute", "r.listScope")},
		{table: "Response content", code: comparedWith(t, "compile.go", "compileRoute", "rs.Response.Content")},
		{table: "Replace", code: comparedWith(t, "compile.go", "compileRoute", "rs.Replace")},
		{table: "Binding messages", code: comparedWith(t, "compile.go", "compileBinding", "k")},
		{table: "ID alphabets", code: comparedWith(t, "idformat.go", "newIDFormat", "spec.Alphabet")},
		{table: "Sources", code: comparedWith(t, "compile.go", "parseSource", ""), stem: sourceStem},
		{table: "Modifiers", code: comparedWith(t, "expr.go", "compileModifier", "name"), stem: func(s string) string {
			name, _, _ := strings.Cut(s, ":")
			return name
		}},
		{table: "Names", code: append(sortedKeys(getters), comparedWith(t, "template.go", "compileScalar", "p.name")...)},
	}
	for _, tc := range cases {
		rows, ok := doc[tc.table]
		if !ok {
			t.Errorf("docs/routes.md has no table under a heading %q", tc.table)
			continue
		}
		documented := map[string]bool{}
		for _, r := range rows {
			name := r[0]
			if tc.stem != nil {
				name = tc.stem(name)
			}
			documented[name] = true
		}
		code := map[string]bool{}
		for _, c := range tc.code {
			code[c] = true
		}
		for _, c := range sortedKeys(code) {
			if !documented[c] {
				t.Errorf("docs/routes.md, table %q, does not list `%s`, which the code accepts", tc.table, c)
			}
		}
		for _, d := range sortedKeys(documented) {
			if !code[d] {
				t.Errorf("docs/routes.md, table %q, lists `%s`, which the code does not know", tc.table, d)
			}
		}
	}
}

// TestRoutesReferenceDefaults checks the defaults the doc gives for values
// the compiler fills in.
func TestRoutesReferenceDefaults(t *testing.T) {
	doc := readReference(t, "../docs/routes.md")
	data, err := os.ReadFile("testdata/routecheck/ok-base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	list := cfg.dialects[0].routes[0] // no response.status, a JSON response
	want := map[string]map[string]string{
		"Dialect": {"default_field": upstream.DefaultField},
		"Route":   {"response.status": strconv.Itoa(list.status), "response.content_type": list.contentType},
	}
	if list.spec.Response.Status != 0 || list.spec.Response.ContentType != "" {
		t.Fatal("the first route of ok-base.yaml must leave response.status and content_type to their defaults")
	}
	if d := cfg.dialects[0]; d.spec.DefaultField != "" || d.defaultField != upstream.DefaultField {
		t.Fatal("ok-base.yaml must leave default_field to its default")
	}
	for table, keys := range want {
		for key, value := range keys {
			i := slices.IndexFunc(doc[table], func(r []string) bool { return r[0] == key })
			if i < 0 {
				t.Errorf("docs/routes.md, table %q, has no row for %s", table, key)
				continue
			}
			if got := doc[table][i][1]; got != value {
				t.Errorf("docs/routes.md gives %s the default %q; the code's is %q", key, got, value)
			}
		}
	}
}

// TestRoutesReferenceRequiredKeys checks that the doc calls a key
// "(required)" exactly when the decoder refuses a file without it, and says
// what a key required inside an optional one is required with.
func TestRoutesReferenceRequiredKeys(t *testing.T) {
	doc := readReference(t, "../docs/routes.md")
	for table, typ := range map[string]reflect.Type{"File": reflect.TypeFor[File](), "Dialect": reflect.TypeFor[Dialect](),
		"Route": reflect.TypeFor[RouteSpec](), "Binding": reflect.TypeFor[BindSpec]()} {
		required := requiredKeys(typ, "", true)
		for _, row := range doc[table] {
			key, def := row[0], row[1]
			always, tagged := required[key]
			switch {
			case tagged && always && def != "(required)":
				t.Errorf("docs/routes.md gives %s the default %q, but a file without it is refused: write (required)", key, def)
			case tagged && !always && !strings.HasPrefix(def, "(required with `"):
				t.Errorf("docs/routes.md gives %s the default %q, but it is required whenever its parent is there: write (required with `parent`)", key, def)
			case !tagged && def == "(required)":
				t.Errorf("docs/routes.md calls %s required, but the decoder does not require it", key)
			}
		}
	}
}

// requiredKeys maps each key tagged required to whether it is required in
// every file (its parents are required too) or only with its parent.
func requiredKeys(t reflect.Type, prefix string, parentRequired bool) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		req := f.Tag.Get("required") == "true"
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != templateType {
			for k, v := range requiredKeys(ft, prefix+name+".", parentRequired && req) {
				out[k] = v
			}
			continue
		}
		if req {
			out[prefix+name] = parentRequired
		}
	}
	return out
}

// readReference reads every table of a markdown file: heading -> rows, each
// row its cells with the first cell's backticked name alone.
func readReference(t *testing.T, path string) map[string][][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string][][]string{}
	heading := ""
	first := regexp.MustCompile("^`([^`]+)`")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue // not a table row, or a header or separator row
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		m := first.FindStringSubmatch(cells[0])
		if m == nil {
			t.Fatalf("%s: a row of %q does not start with a `name`: %s", path, heading, line)
		}
		cells[0] = strings.ReplaceAll(m[1], `\|`, "|")
		tables[heading] = append(tables[heading], cells)
	}
	return tables
}

// yamlKeys lists a struct's YAML keys, the keys of nested structs as
// parent.key; maps, lists and templates are one key each.
func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != templateType {
			out = append(out, yamlKeys(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// comparedWith lists the string literals that function fn of file compares
// expr with: switch expr { case "a": }, expr == "a" and expr != "a". With
// expr "", it lists the literals in the cases of fn's switch without a tag.
func comparedWith(t *testing.T, file, fn, expr string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	lit := func(e ast.Expr) {
		if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
			if s, err := strconv.Unquote(b.Value); err == nil && s != "" {
				found[s] = true
			}
		}
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != fn {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SwitchStmt:
				tagged := n.Tag != nil && types.ExprString(n.Tag) == expr
				untagged := n.Tag == nil && expr == ""
				if !tagged && !untagged {
					return true
				}
				for _, s := range n.Body.List {
					for _, e := range s.(*ast.CaseClause).List {
						if tagged {
							lit(e)
							continue
						}
						ast.Inspect(e, func(m ast.Node) bool {
							if e, ok := m.(ast.Expr); ok {
								lit(e)
							}
							return true
						})
					}
				}
			case *ast.BinaryExpr:
				if expr != "" && (n.Op == token.EQL || n.Op == token.NEQ) {
					if types.ExprString(n.X) == expr {
						lit(n.Y)
					} else if types.ExprString(n.Y) == expr {
						lit(n.X)
					}
				}
			}
			return true
		})
	}
	if len(found) == 0 {
		t.Fatalf("%s: %s compares %q with no string: the test must follow the code", file, fn, expr)
	}
	out := sortedKeys(found)
	sort.Strings(out)
	return out
}

// sourceStem maps a documented source form to what parseSource compares:
// "path.P" -> "path", "const:VALUE" -> "const:", "file.name" stays.
func sourceStem(form string) string {
	if i := strings.LastIndexAny(form, ".:"); i >= 0 && strings.ToUpper(form[i+1:]) == form[i+1:] {
		if form[i] == ':' {
			return form[:i+1]
		}
		return form[:i]
	}
	return form
}

func nonEmpty(names []string) []string {
	return slices.DeleteFunc(names, func(s string) bool { return s == "" })
}
