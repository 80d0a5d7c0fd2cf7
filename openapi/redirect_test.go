package openapi

import (
	"os"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/translate"
)

// TestRedirectRouteDocuments307 checks that a route marked
// response.redirect: presigned documents its 307 and Location, in a valid
// document, and that one not marked does not.
func TestRedirectRouteDocuments307(t *testing.T) {
	data, err := os.ReadFile("../translate/testdata/redirect/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := translate.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Document(cfg.Describe()[0])
	if err != nil {
		t.Fatal(err)
	}
	checkValid(t, doc)
	redirected := gjson.GetBytes(doc, `paths./d/files/{id}/redirected.get.responses.307`)
	if !redirected.Exists() || !redirected.Get("headers.Location").Exists() {
		t.Errorf("the marked route documents no 307 with a Location: %s", redirected.Raw)
	}
	if !gjson.GetBytes(doc, `paths./d/files/{id}/streamed.get.responses.200`).Exists() {
		t.Fatal("the document has no route files.streamed")
	}
	if gjson.GetBytes(doc, `paths./d/files/{id}/streamed.get.responses.307`).Exists() {
		t.Error("a route not marked documents a 307")
	}
}
