package translate

import (
	"encoding/json"
	"testing"
)

// TestDescribeCoversEveryRoute: every route of routes.yaml is described,
// and every route with a JSON answer renders an example of it.
func TestDescribeCoversEveryRoute(t *testing.T) {
	cfg := testConfig(t)
	descs := cfg.Describe()
	for i, d := range cfg.dialects {
		dd := descs[i]
		if dd.Name != d.name || len(dd.Routes) != len(d.routes) || dd.Mount != d.spec.Mount {
			t.Fatalf("%s: described %+v", d.name, dd)
		}
		if d.errBody != nil && !json.Valid(dd.ErrorExample) {
			t.Errorf("%s: error example %s", d.name, dd.ErrorExample)
		}
		for j, r := range d.routes {
			rd := dd.Routes[j]
			if rd.Name != r.spec.Name || rd.Method != r.spec.Method || rd.Path != r.fullPath {
				t.Errorf("%s.%s: described %+v", d.name, r.spec.Name, rd)
			}
			if r.respBody != nil && rd.ResponseExample == nil {
				t.Errorf("%s.%s: no example of its JSON answer", d.name, r.spec.Name)
			}
		}
	}
}
