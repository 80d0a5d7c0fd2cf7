package translate

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestHeadOnEveryGetRoute sends HEAD and GET to every GET route of
// routes.yaml (path parameters filled with made-up values, so most answer
// an error in their dialect's shape) and holds HEAD to GET's status and
// headers, with no body. A route without HEAD would fall to the mount's
// catch-all and answer "no such endpoint" instead.
func TestHeadOnEveryGetRoute(t *testing.T) {
	cfg := testConfig(t)
	app := newTestApp(cfg, newMemStore())
	param := regexp.MustCompile(`:[A-Za-z_][A-Za-z0-9_]*`)
	// Nimblex's 404 has no body and no header, like the catch-all's: so
	// first, structurally, each GET route has its own HEAD route.
	heads := map[string]bool{}
	for _, rt := range app.GetRoutes() {
		if rt.Method == http.MethodHead {
			heads[rt.Path] = true
		}
	}
	seen := 0
	for _, d := range cfg.dialects {
		for _, r := range d.routes {
			if r.spec.Method != http.MethodGet {
				continue
			}
			seen++
			if !heads[r.fullPath] {
				t.Errorf("%s.%s: no HEAD route for %s", d.name, r.spec.Name, r.fullPath)
			}
			path := strings.ReplaceAll(param.ReplaceAllString(r.fullPath, "x1"), "*", "f/a.txt")
			send := func(method string) (*http.Response, []byte) {
				req, _ := http.NewRequest(method, "http://dragoman.test"+path, nil)
				req.Header.Set(d.spec.Credential.Header, strings.TrimSpace(d.spec.Credential.Scheme+" tester-secret"))
				resp, err := app.Test(req, -1)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp, body
			}
			get, gbody := send(http.MethodGet)
			head, hbody := send(http.MethodHead)
			where := d.name + "." + r.spec.Name + " " + path
			if strings.Contains(string(gbody), "no such endpoint") || strings.Contains(get.Header.Get("X-Status-Reason"), "no such endpoint") {
				t.Errorf("%s: GET fell to the catch-all", where)
			}
			if head.StatusCode != get.StatusCode || len(hbody) != 0 {
				t.Errorf("%s: HEAD %d with %d body bytes, GET %d", where, head.StatusCode, len(hbody), get.StatusCode)
			}
			for _, k := range []string{"Content-Type", "Content-Length", "X-Status-Reason", "Content-Disposition", "ETag"} {
				if head.Header.Get(k) != get.Header.Get(k) {
					t.Errorf("%s: HEAD %s %q, GET %q", where, k, head.Header.Get(k), get.Header.Get(k))
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d GET routes in routes.yaml", seen)
	}
}
