package translate

// Golden translation tests. Each file testdata/<dialect>/<case>.txt is one
// request, the canonical store calls it became, and the response rendered:
//
//	any comment lines
//	-- setup --        (any number of these; run first, not compared)
//	POST /api/table/t1/record/r1/files/create
//	Authorization: Bearer tester-secret
//
//	{"field_id":"contracts", ...}
//	-- request --      (the same form: request line, headers, blank line, body)
//	-- operations --   (one store call a line, see recordingStore)
//	-- response --     (status, headers, blank line, body)
//
// A comment line "# BUG: ..." marks a case whose file was written by hand
// with the answer the gateway should give and does not yet: it is skipped
// with that message and the diff while the answer differs, fails once it
// matches (so the mark is removed), and -update leaves it alone.
//
// A request body may use {{repeat TEXT N}} for TEXT written N times, for
// cases about size caps. The response shows Content-Type and, when set,
// Content-Range, ETag and Last-Modified; a JSON body is shown indented
// (json.Indent changes only whitespace: keys, their order and every string
// stay byte for byte).
//
//	go test ./translate -run Golden -update
//
// rewrites every file's operations and response from what the gateway does
// now; review the diff before committing it.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/<dialect>/ with the current output")

// goldenDialects are the dialects whose every route must have golden cases.
var goldenDialects = []string{"infolobby", "nimblex"}

func TestGolden(t *testing.T) {
	cfg := testConfig(t)
	files, err := filepath.Glob("testdata/*/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	// hits records, per "METHOD /full/path" of a route, the statuses its
	// golden requests got.
	hits := map[string][]int{}
	ran := 0
	for _, path := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(path), "testdata/"), ".txt")
		t.Run(name, func(t *testing.T) {
			ran++
			runGolden(t, cfg, path, hits)
		})
	}
	if ran < len(files) || *update {
		return // a -run filter chose some cases: coverage says nothing
	}
	for _, d := range cfg.dialects {
		if !slices.Contains(goldenDialects, d.name) {
			continue
		}
		for _, r := range d.routes {
			key := r.spec.Method + " " + r.fullPath
			st := hits[key]
			if !slices.ContainsFunc(st, func(s int) bool { return s < 300 }) {
				t.Errorf("route %s.%s (%s) has no golden case that succeeds", d.name, r.spec.Name, key)
			}
			if !slices.ContainsFunc(st, func(s int) bool { return s >= 400 }) {
				t.Errorf("route %s.%s (%s) has no golden case that fails", d.name, r.spec.Name, key)
			}
		}
	}
}

func runGolden(t *testing.T, cfg *Config, path string, hits map[string][]int) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := parseGolden(string(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	store := &recordingStore{inner: newMemStore()}
	var route string
	var panics panicCatcher
	app := newTestApp(cfg, store, func(c *fiber.Ctx) error {
		err := c.Next()
		route = c.Method() + " " + c.Route().Path
		return err
	}, panics.middleware())
	for i, text := range gc.setup {
		resp, err := doGolden(app, text)
		if err != nil {
			t.Fatalf("setup %d: %v", i+1, err)
		}
		if resp.StatusCode >= 300 {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("setup %d: status %d: %s\n%s", i+1, resp.StatusCode, body, panics.take())
		}
		resp.Body.Close()
	}
	store.take()
	resp, err := doGolden(app, gc.request)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	hits[route] = append(hits[route], resp.StatusCode)
	ops := strings.Join(store.take(), "\n")
	if ops == "" {
		ops = "(none)"
	}
	gc.operations = ops + "\n"
	if gc.response, err = renderResponse(resp); err != nil {
		t.Fatalf("response: %v", err)
	}
	got := gc.String()
	panicked := panics.take()
	if bug := gc.bug(); bug != "" {
		// The file holds the right answer, written by hand; the gateway
		// does not give it yet.
		if got == string(data) {
			t.Fatalf("%s is marked %q but now passes: remove that line", path, bug)
		}
		t.Skipf("%s\n%s%s", bug, lineDiff(string(data), got), panicked)
	}
	if panicked != "" {
		t.Errorf("the gateway panicked:\n%s", panicked)
	}
	if *update {
		if got != string(data) {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if got != string(data) {
		t.Errorf("%s differs (- file, + now; go test ./translate -run Golden -update rewrites it):\n%s", path, lineDiff(string(data), got))
	}
}

// goldenCase is a parsed golden file. Every text ends in a newline unless
// it is empty, so that String gives the file back byte for byte.
type goldenCase struct {
	comment    string
	setup      []string
	request    string
	operations string
	response   string
}

// bug returns the comment line "# BUG: ..." that marks a case whose file
// says what the gateway should do and does not yet.
func (gc *goldenCase) bug() string {
	for _, line := range strings.Split(gc.comment, "\n") {
		if strings.HasPrefix(line, "# BUG:") {
			return strings.TrimPrefix(line, "# ")
		}
	}
	return ""
}

var sectionLine = regexp.MustCompile(`^-- ([a-z]+) --$`)

func parseGolden(data string) (*goldenCase, error) {
	gc := &goldenCase{}
	var cur *string
	haveRequest := false
	for _, line := range strings.SplitAfter(data, "\n") {
		m := sectionLine.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			if cur == nil {
				gc.comment += line
			} else {
				*cur += line
			}
			continue
		}
		switch m[1] {
		case "setup":
			if haveRequest {
				return nil, fmt.Errorf("-- setup -- after -- request --")
			}
			gc.setup = append(gc.setup, "")
			cur = &gc.setup[len(gc.setup)-1]
		case "request":
			if haveRequest {
				return nil, fmt.Errorf("two -- request -- sections")
			}
			haveRequest, cur = true, &gc.request
		case "operations":
			cur = &gc.operations
		case "response":
			cur = &gc.response
		default:
			return nil, fmt.Errorf("unknown section -- %s --", m[1])
		}
	}
	if !haveRequest {
		return nil, fmt.Errorf("no -- request -- section")
	}
	return gc, nil
}

func (gc *goldenCase) String() string {
	var sb strings.Builder
	sb.WriteString(gc.comment)
	for _, s := range gc.setup {
		sb.WriteString("-- setup --\n" + s)
	}
	sb.WriteString("-- request --\n" + gc.request)
	sb.WriteString("-- operations --\n" + gc.operations)
	sb.WriteString("-- response --\n" + gc.response)
	return sb.String()
}

var repeatMacro = regexp.MustCompile(`\{\{repeat (\S+) (\d+)\}\}`)

// doGolden sends one request written in the golden form to app.
func doGolden(app *fiber.App, text string) (*http.Response, error) {
	head, body, _ := strings.Cut(strings.TrimSuffix(text, "\n"), "\n\n")
	lines := strings.Split(strings.TrimRight(head, "\n"), "\n")
	method, target, ok := strings.Cut(lines[0], " ")
	if !ok {
		return nil, fmt.Errorf("request line %q: want METHOD /path", lines[0])
	}
	body = repeatMacro.ReplaceAllStringFunc(body, func(m string) string {
		sub := repeatMacro.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[2])
		return strings.Repeat(sub[1], n)
	})
	req, err := http.NewRequest(method, "http://dragoman.test"+target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, h := range lines[1:] {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("header line %q: want Name: value", h)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			req.Host = v
		default:
			req.Header.Add(k, v)
		}
	}
	return app.Test(req, -1)
}

// goldenHeaders are the response headers a golden file shows, when set.
var goldenHeaders = []string{"Content-Type", "Content-Range", "ETag", "Last-Modified"}

func renderResponse(resp *http.Response) (string, error) {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d\n", resp.StatusCode)
	for _, h := range goldenHeaders {
		if v := resp.Header.Get(h); v != "" {
			fmt.Fprintf(&sb, "%s: %s\n", h, v)
		}
	}
	sb.WriteString("\n")
	if len(body) > 0 {
		var ind bytes.Buffer
		if json.Indent(&ind, body, "", "  ") == nil {
			body = ind.Bytes()
		}
		sb.Write(body)
		sb.WriteString("\n")
	}
	return sb.String(), nil
}

// lineDiff shows how b differs from a, line by line (longest common
// subsequence; golden files are small).
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			sb.WriteString("  " + x[i] + "\n")
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			sb.WriteString("+ " + y[j] + "\n")
			j++
		default:
			sb.WriteString("- " + x[i] + "\n")
			i++
		}
	}
	return sb.String()
}
