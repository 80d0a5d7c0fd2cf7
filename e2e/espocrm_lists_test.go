package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestEspoCRMLists: GET /api/v1/{Entity} and GET /api/v1/Attachment as
// EspoCRM's own clients call them: a page (maxSize, offset) of records or
// of one record's attachments, filtered with where[N][...], answered as
// {"total", "list"}.
func TestEspoCRMLists(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "client")
	c := espo{gw, key}
	var docIDs []string
	for i, name := range []string{"alpha", "beta", "gamma"} {
		status := "Active"
		if i == 1 {
			status = "Draft"
		}
		doc := c.record(t, http.MethodPost, "Document", map[string]any{"name": name, "status": status})
		docIDs = append(docIDs, doc["id"].(string))
	}
	att := c.upload(t, map[string]any{"name": "a.txt", "type": "text/plain", "role": "Attachment",
		"relatedType": "Document", "relatedId": docIDs[0], "field": "file", "file": dataURI("text/plain", []byte("a"))})

	type page struct {
		Total int              `json:"total"`
		List  []map[string]any `json:"list"`
	}
	get := func(path string, q url.Values, want int) page {
		t.Helper()
		st, h, body := c.call(t, http.MethodGet, path+"?"+q.Encode(), nil)
		if st != want {
			t.Fatalf("GET %s?%s: %d (%s) %s, want %d", path, q.Encode(), st, h.Get("X-Status-Reason"), snippet(body), want)
		}
		var p page
		if st == http.StatusOK {
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("GET %s: %v: %s", path, err, snippet(body))
			}
		}
		return p
	}

	all := get("Document", url.Values{}, http.StatusOK)
	if all.Total != 3 || len(all.List) != 3 {
		t.Fatalf("Document list: total %d, %d items, want 3 and 3", all.Total, len(all.List))
	}
	listed := map[any]bool{}
	for _, d := range all.List {
		listed[d["id"]] = true
	}
	for _, id := range docIDs {
		if !listed[id] {
			t.Errorf("Document list %v does not list %s by its id", all.List, id)
		}
	}
	p := get("Document", url.Values{"maxSize": {"1"}, "offset": {"1"}}, http.StatusOK)
	if p.Total != 3 || len(p.List) != 1 || p.List[0]["id"] != all.List[1]["id"] {
		t.Errorf("Document page maxSize=1 offset=1: %+v, want the second of %d", p, all.Total)
	}
	active := get("Document", url.Values{"where[0][type]": {"equals"}, "where[0][attribute]": {"status"}, "where[0][value]": {"Active"}}, http.StatusOK)
	if active.Total != 2 || len(active.List) != 2 {
		t.Errorf("Document where status=Active: %+v, want 2", active)
	}
	for _, d := range active.List {
		if d["status"] != "Active" {
			t.Errorf("Document where status=Active lists %v", d)
		}
		if d["id"] == docIDs[0] && d["fileId"] != att.ID {
			t.Errorf("Document %s lists fileId %v, want %s", docIDs[0], d["fileId"], att.ID)
		}
	}
	get("Document", url.Values{"where[0][type]": {"contains"}, "where[0][attribute]": {"name"}, "where[0][value]": {"a"}}, http.StatusBadRequest)
	get("Document", url.Values{"maxSize": {"201"}}, http.StatusBadRequest)
	get("Document", url.Values{"offset": {"-1"}}, http.StatusBadRequest)
	if none := get("Nothing", url.Values{}, http.StatusOK); none.Total != 0 || len(none.List) != 0 {
		t.Errorf("list of an entity type with no records: %+v, want empty", none)
	}

	atts := get("Attachment", url.Values{"where[0][type]": {"equals"}, "where[0][attribute]": {"parentType"}, "where[0][value]": {"Document"},
		"where[1][type]": {"equals"}, "where[1][attribute]": {"parentId"}, "where[1][value]": {docIDs[0]}}, http.StatusOK)
	if atts.Total != 1 || len(atts.List) != 1 || atts.List[0]["id"] != att.ID || atts.List[0]["name"] != "a.txt" {
		t.Errorf("Attachment list of Document %s: %+v, want a.txt", docIDs[0], atts)
	}
	get("Attachment", url.Values{}, http.StatusBadRequest)
}
