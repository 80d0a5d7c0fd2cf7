package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// A user with only a Media Pocket client starts as with the real API (its
// public docs; seed 002 shows only attachments): POST /api/v2/assets or
// /api/v2/projects makes the record, GET reads it, and attachments are
// created under it.

// mpProjectKeys are the real API's project object's keys, in its order.
var mpProjectKeys = []string{"id", "external_id", "project_id", "owner", "title", "description", "category", "tags",
	"media_type", "isPublic", "thumbnail_asset_id", "created_date", "modification_date", "deleted", "original_title"}

// mpRecord posts to /api/v2/<kind> (assets or projects) or gets
// /api/v2/<kind>/<id>, and returns the status and the one object under
// wrap ("asset" or "project").
func mpRecord(t testing.TB, c mp, method, path string, body string, wrap string) (int, json.RawMessage, []byte) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	st, h, got := do(t, method, c.gw.url("/api/v2/"+path), c.headers(), b)
	if st != http.StatusOK {
		return st, nil, got
	}
	checkJSONType(t, method+" "+path, h)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(got, &doc); err != nil || len(doc) != 1 || doc[wrap] == nil {
		t.Fatalf("%s %s: %s, want exactly {%q: {...}}", method, path, snippet(got), wrap)
	}
	return st, doc[wrap], got
}

func TestMediaPocketStandalone(t *testing.T) {
	gw := startGateway(t)
	c := mp{gw, gw.key(t, "editor@example.com")}

	// Before: a never-seen asset has nowhere to attach to (the seed's 404).
	st, _, body := c.create(t, "assets", "NBmnCtuFCbI88s1cNHJX", map[string]any{"title": "sample attachment"})
	wantMPError(t, "attachment to a never-seen asset", st, body, 404, "asset not found")

	// Create an asset as the real API's example does.
	st, raw, body := mpRecord(t, c, http.MethodPost, "assets",
		`{"title":"Sample Asset","description":"Sample asset from API V2","category":"Sample","tags":["sample","test"],"external_id":"ext-1"}`, "asset")
	if st != http.StatusOK {
		t.Fatalf("POST /api/v2/assets: %d %s", st, snippet(body))
	}
	asset := decodeMPAsset(t, "POST /api/v2/assets", raw)
	if asset.Title != "Sample Asset" || deref(asset.Description) != "Sample asset from API V2" || deref(asset.Category) != "Sample" ||
		!slices.Equal(asset.Tags, []string{"sample", "test"}) || deref(asset.ExternalID) != "ext-1" ||
		asset.ParentID != "" || asset.Status != "open" || asset.MediaType != "placeholder" || asset.MD5Sum != nil {
		t.Errorf("created asset %+v, want the request's values, no parent, an open placeholder", asset)
	}
	st, again, _ := mpRecord(t, c, http.MethodGet, "assets/"+asset.ID, "", "asset")
	if st != http.StatusOK || string(again) != string(raw) {
		t.Errorf("GET /api/v2/assets/%s: %d %s, want what the create answered %s", asset.ID, st, again, raw)
	}

	// Now attachments go under it, and list there.
	att := c.createOK(t, "assets", asset.ID, map[string]any{"title": "sample attachment"})
	if att.ParentID != asset.ID || att.MediaType != "placeholder" || att.Owner != "editor@example.com" {
		t.Errorf("attachment %+v, want a placeholder under %s owned by the key", att, asset.ID)
	}
	if l := c.list(t, "assets", asset.ID); len(l) != 1 || l[0].ID != att.ID {
		t.Errorf("list of the new asset: %+v, want the one attachment", l)
	}

	// Projects likewise, in the project object's shape.
	st, raw, body = mpRecord(t, c, http.MethodPost, "projects", `{"title":"Sample Project","description":"Sample project from API V2"}`, "project")
	if st != http.StatusOK {
		t.Fatalf("POST /api/v2/projects: %d %s", st, snippet(body))
	}
	if keys := orderedKeys(t, raw); !slices.Equal(keys, mpProjectKeys) {
		t.Errorf("project keys %v, want the real API's %v", keys, mpProjectKeys)
	}
	var project struct {
		ID        string   `json:"id"`
		Title     string   `json:"title"`
		Tags      []string `json:"tags"`
		MediaType string   `json:"media_type"`
		IsPublic  *bool    `json:"isPublic"`
	}
	json.Unmarshal(raw, &project)
	if !mpID.MatchString(project.ID) || project.Title != "Sample Project" || project.Tags == nil || project.MediaType != "project" ||
		project.IsPublic == nil || *project.IsPublic {
		t.Errorf("project %s", raw)
	}
	if st, _, _ := mpRecord(t, c, http.MethodGet, "projects/"+project.ID, "", "project"); st != http.StatusOK {
		t.Errorf("GET /api/v2/projects/%s: %d", project.ID, st)
	}
	c.createOK(t, "projects", project.ID, map[string]any{"title": "brief"})

	// The real API's errors, in its shape.
	long := `{"title":"` + strings.Repeat("X", 256) + `"}`
	errs := []struct {
		what, method, path, body string
		h                        hdr
		status                   int
		msg                      string
	}{
		{"asset without a title", http.MethodPost, "assets", `{"description":"d","tags":["a"]}`, c.headers(), 422, "Missing parameter title"},
		{"project without a title", http.MethodPost, "projects", `{"description":"d"}`, c.headers(), 422, "Missing parameter title"},
		{"a title too long", http.MethodPost, "assets", long, c.headers(), 400, "Title is too long (maximum is 255 characters)"},
		{"a title that is no string", http.MethodPost, "assets", `{"title":12}`, c.headers(), 400, "Title must be a String"},
		{"tags that are no strings", http.MethodPost, "assets", `{"title":"t","tags":[1]}`, c.headers(), 400, "Tags must be an array of String"},
		{"tags that are no list", http.MethodPost, "assets", `{"title":"t","tags":"sample"}`, c.headers(), 400, "Tags must be an array of String"},
		{"broken JSON", http.MethodPost, "assets", `{"title":`, c.headers(), 400, ""},
		{"no key", http.MethodPost, "assets", `{"title":"t"}`, hdr{"Content-Type": "application/json"}, 401, ""},
		{"a read-only key", http.MethodPost, "assets", `{"title":"t"}`, hdr{"X-API-KEY": gw.key(t, "viewer", "--read-only")}, 403, ""},
		{"an unknown asset", http.MethodGet, "assets/AAAAAAAAAAAAAAAAAAAA", "", c.headers(), 404, "asset not found"},
		{"an unknown project", http.MethodGet, "projects/AAAAAAAAAAAAAAAAAAAA", "", c.headers(), 404, "project not found"},
	}
	for _, e := range errs {
		var b []byte
		if e.body != "" {
			b = []byte(e.body)
		}
		st, _, got := do(t, e.method, gw.url("/api/v2/"+e.path), e.h, b)
		wantMPError(t, e.what, st, got, e.status, e.msg)
	}
}

// TestMediaPocketStartInFrontOfUpstreams: in front of every upstream the
// creates work and read back, as docs/upstream-matrix.md says: the record
// is made in InfoLobby, through EspoCRM's own record create, or kept by the
// gateway (Nimblex, TransactionLink, Media Pocket).
func TestMediaPocketStartInFrontOfUpstreams(t *testing.T) {
	t.Parallel()
	for _, up := range umDialects {
		t.Run(up, func(t *testing.T) {
			t.Parallel()
			front, _, fk, _ := umPair(t, up)
			c := mp{front, fk}
			st, raw, body := mpRecord(t, c, http.MethodPost, "assets", `{"title":"Fronted","tags":["x"]}`, "asset")
			if st != http.StatusOK {
				t.Fatalf("POST /api/v2/assets over %s: %d %s", up, st, snippet(body))
			}
			// Upstreams whose records carry no times leave the dates null.
			if keys := orderedKeys(t, raw); !slices.Equal(keys, mpKeys) {
				t.Errorf("asset over %s: keys %v, want %v", up, keys, mpKeys)
			}
			var asset mpAsset
			if err := json.Unmarshal(raw, &asset); err != nil || !mpID.MatchString(asset.ID) || asset.Title != "Fronted" {
				t.Errorf("asset over %s: %s", up, raw)
			}
			st, again, body := mpRecord(t, c, http.MethodGet, "assets/"+asset.ID, "", "asset")
			var read mpAsset
			if st != http.StatusOK || json.Unmarshal(again, &read) != nil || read.ID != asset.ID || read.Title != "Fronted" ||
				!slices.Equal(read.Tags, []string{"x"}) {
				t.Errorf("GET the asset over %s: %d %s", up, st, snippet(body))
			}
			if up == "mediapocket" {
				// The asset lives in the gateway; the upstream Media Pocket
				// makes attachments only under assets it has itself, and
				// the gateway does not yet hold placeholders for it.
				st, _, body := c.create(t, "assets", asset.ID, map[string]any{"title": "under it"})
				wantMPError(t, "attachment under a gateway-kept asset over mediapocket", st, body, 501, "")
				return
			}
			att := c.createOK(t, "assets", asset.ID, map[string]any{"title": "under it"})
			if att.ParentID != asset.ID {
				t.Errorf("attachment over %s: parent %q, want %q", up, att.ParentID, asset.ID)
			}
		})
	}
}
