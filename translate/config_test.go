package translate

import (
	"os"
	"strings"
	"testing"
)

func TestEmbeddedRoutesCompile(t *testing.T) {
	data, err := os.ReadFile("../routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(data)
	if err != nil {
		t.Fatalf("routes.yaml does not compile:\n%v", err)
	}
	if len(cfg.Dialects()) == 0 {
		t.Fatal("no dialects")
	}
}

func TestLoadReportsLineNumbers(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown key", "version: 1\ndialects:\n  x:\n    mount: /x\n    bogus: 1\n", []string{"line 5", "bogus"}},
		{"unknown op", minimalDialect("op: frobnicate"), []string{"unknown operation `frobnicate`", "line "}},
		{"unknown kind missing", strings.Replace(minimalDialect("op: list"), "        internal: 500\n", "", 1), []string{"does not map kind `internal`"}},
		{"bad expression", strings.Replace(minimalDialect("op: list"), "data: $files[f]", "data: $nosuch", 1), []string{"unknown name \"nosuch\""}},
		{"unknown shape", strings.Replace(minimalDialect("op: list"), "$files[f]", "$files[g]", 1), []string{"uses the shape `g`, which dialect d does not define"}},
		{"bad source", strings.Replace(minimalDialect("op: list"), "from: path.r", "from: cookie.r", 1), []string{"want path.P"}},
		{"missing param", strings.Replace(minimalDialect("op: list"), "from: path.r", "from: path.nope", 1), []string{"no parameter `nope`"}},
		{"clash", minimalDialect("op: list") + "      - {name: again, method: GET, path: \"/c/:other/r/:x\", op: list, scope: read, bind: {record.collection: {from: path.other}, record.id: {from: const:x}}}\n", []string{"never gets a request"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Load accepted a bad file:\n%s", tc.yaml)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// minimalDialect is a one-route dialect whose route line is replaceable.
func minimalDialect(opLine string) string {
	return `version: 1
dialects:
  d:
    mount: /d
    credential: {header: X-Key}
    errors:
      status:
        invalid: 400
        missing: 400
        not_found: 404
        too_large: 413
        unauthorized: 401
        forbidden: 403
        conflict: 409
        rate_limited: 429
        unsupported: 501
        unavailable: 503
        bad_gateway: 502
        timeout: 504
        internal: 500
    shapes:
      f: {name: $name}
    routes:
      - name: list
        method: GET
        path: /c/:c/r/:r
        ` + opLine + `
        scope: read
        bind:
          record.collection: {from: path.c}
          record.id: {from: path.r}
        response:
          json:
            data: $files[f]
`
}
