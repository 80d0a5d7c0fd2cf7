package translate

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		path    string
		want    string // the pattern as parsed, or "" when refused
		errPart string
	}{
		{"/", "/", ""},
		{"/a/:id", "/a/:id", ""},
		{"/a/:id/*", "/a/:id/*", ""},
		{"/Attachment/file/:id", "/Attachment/file/:id", ""},
		{"a", "", "must start with `/`"},
		{"/a/", "", "ends with `/`"},
		{"/a//b", "", "empty segment"},
		{"/file:id", "", "only part of the segment `file:id`"},
		{"/:a-:b", "", "more than one parameter"},
		{"/:id.json", "", "fiber would end `:id` at the `.`"},
		{"/:id?", "", "optional parameters"},
		{"/:id<int>", "", "parameter constraints"},
		{"/:", "", "has no name"},
		{"/a*", "", "only part of the segment `a*`"},
		{"/*/a", "", "must be the last segment"},
		{"/a/+", "", "parameter syntax"},
		{"/:x/:x", "", "names the parameter `x` twice"},
	}
	for _, tc := range cases {
		p, err := parsePath(tc.path)
		switch {
		case tc.want != "" && err != nil:
			t.Errorf("parsePath(%q): %v", tc.path, err)
		case tc.want != "" && p.String() != tc.want:
			t.Errorf("parsePath(%q) = %s, want %s", tc.path, p, tc.want)
		case tc.want == "" && err == nil:
			t.Errorf("parsePath(%q) accepted a path fiber reads surprisingly", tc.path)
		case tc.want == "" && !strings.Contains(err.Error(), tc.errPart):
			t.Errorf("parsePath(%q): %v, want it to say %q", tc.path, err, tc.errPart)
		}
	}
}

func TestOverlapAndWithin(t *testing.T) {
	cases := []struct {
		a, b   string
		both   string // the common requests, or "" when there are none
		aInB   bool
		bInA   bool
		reason string
	}{
		{"/x/Attachment", "/x/:entity", "/x/Attachment", true, false, "a literal is within a parameter"},
		{"/x/Attachment/:id", "/x/:entity/:id", "/x/Attachment/:id", true, false, "EspoCRM's stat before its record read"},
		{"/x/attachment", "/x/Attachment", "/x/attachment", true, true, "fiber ignores the case of literals"},
		{"/x/:a", "/x/:b", "/x/:a", true, true, "parameter names do not matter"},
		{"/x/:a/y", "/x/z/:b", "/x/z/y", false, false, "a partial overlap"},
		{"/x/a", "/x/b", "", false, false, "different literals"},
		{"/x/:a", "/x/:a/:b", "", false, false, "different lengths"},
		{"/x/*", "/x", "/x", false, true, "a wildcard matches nothing too"},
		{"/x/*", "/x/:id", "/x/:id", false, true, "a wildcard matches one segment"},
		{"/x/*", "/x/a/b/c", "/x/a/b/c", false, true, "a wildcard matches many"},
		{"/x/:id/*", "/x/*", "/x/:id/*", true, false, "a longer prefix is within a shorter"},
		{"/x/a/*", "/x/b/*", "", false, false, "different prefixes"},
		{"/x/a/*", "/x/:p/c", "/x/a/c", false, false, "wildcard against a fixed path"},
	}
	for _, tc := range cases {
		a, b := mustPath(t, tc.a), mustPath(t, tc.b)
		both, ok := overlap(a, b)
		switch {
		case ok != (tc.both != ""):
			t.Errorf("%s: overlap(%s, %s) = %v", tc.reason, a, b, ok)
		case ok && both.String() != tc.both:
			t.Errorf("%s: overlap(%s, %s) = %s, want %s", tc.reason, a, b, both, tc.both)
		}
		if _, back := overlap(b, a); back != ok {
			t.Errorf("%s: overlap is not symmetric for %s and %s", tc.reason, a, b)
		}
		if got := within(a, b); got != tc.aInB {
			t.Errorf("%s: within(%s, %s) = %v", tc.reason, a, b, got)
		}
		if got := within(b, a); got != tc.bInA {
			t.Errorf("%s: within(%s, %s) = %v", tc.reason, b, a, got)
		}
	}
}

// TestPathModelAgreesWithFiber checks the model the overlap checks rest on
// against fiber itself, configured as the gateway configures it (fiber's
// defaults: literals match in any case, a trailing slash is ignored): a
// request matches a pattern in the model exactly when fiber routes it
// there. Paths start with a segment of 3 or more characters, as every
// mount does: fiber's router indexes routes by their first characters, and
// a route like /a/* misses /a.
func TestPathModelAgreesWithFiber(t *testing.T) {
	patterns := []string{"/api/v1/Attachment", "/api/v1/:entity", "/api/v1/:entity/:id",
		"/api/v1/Attachment/file/:id", "/jsonapi/records/:c/:r/attachments/*", "/jsonapi/records/:c/:r/attachments"}
	requests := []string{"/api/v1/Attachment", "/api/v1/attachment", "/API/V1/Document", "/api/v1/Attachment/",
		"/api/v1/Note/abc", "/api/v1/Attachment/file/abc", "/api/v1/Attachment/file", "/api/v1/a.b-c",
		"/jsonapi/records/t/1/attachments", "/jsonapi/records/t/1/attachments/", "/jsonapi/records/t/1/attachments/a",
		"/jsonapi/records/t/1/attachments/f/a.txt", "/jsonapi/records/t//attachments"}
	for _, pat := range patterns {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Get(pat, func(c *fiber.Ctx) error { return c.SendStatus(299) })
		model := mustPath(t, pat)
		for _, req := range requests {
			resp, err := app.Test(httptest.NewRequest("GET", req, nil))
			if err != nil {
				t.Fatal(err)
			}
			fiberSays := resp.StatusCode == 299
			if modelSays := modelMatches(model, req); modelSays != fiberSays {
				t.Errorf("GET %s against %s: fiber matches %v, the model %v", req, pat, fiberSays, modelSays)
			}
		}
	}
}

// modelMatches asks the model whether a request path matches p: the
// path, taken as a pattern of literals, lies within p.
func modelMatches(p *pathPattern, req string) bool {
	req = strings.TrimSuffix(req, "/") // fiber's non-strict routing
	if strings.Contains(req, "//") {
		return false // an empty segment matches no parameter
	}
	lit := &pathPattern{}
	for _, s := range strings.Split(strings.TrimPrefix(req, "/"), "/") {
		lit.segs = append(lit.segs, segment{lit: s})
	}
	return within(lit, p)
}

func mustPath(t *testing.T, s string) *pathPattern {
	t.Helper()
	p, err := parsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
