package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestPlaceholderInOtherDialects: a Media Pocket attachment without bytes
// yet is shown to the other dialects as what it is, not as a file whose
// download fails: Nimblex lists it with no content link, EspoCRM as being
// uploaded, and a TransactionLink link or an InfoLobby download of it is
// each dialect's own not-found answer.
func TestPlaceholderInOtherDialects(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "client")
	c := mxClients{tl{gw, key}, espo{gw, key}, il{gw, key}, nx{gw, key}, mp{gw, key}}
	const asset = "ph-asset"
	c.nx.upload(t, "assets", asset, "", "real.pdf", []byte("%PDF-1.4 real"), "application/pdf")
	ph := c.mp.createOK(t, "assets", asset, map[string]any{"title": "to come"})
	if ph.MediaType != "placeholder" {
		t.Fatalf("Media Pocket create: media_type %q, want placeholder", ph.MediaType)
	}

	var listed, real nxItem
	for _, it := range c.nx.list(t, "assets", asset) {
		switch {
		case strings.HasSuffix(it.ID, "/to come"):
			listed = it
		case strings.HasSuffix(it.ID, "/real.pdf"):
			real = it
		}
	}
	if listed.ID == "" || listed.Links.Content != "" || *listed.Attributes.Size != 0 {
		t.Errorf("Nimblex lists the placeholder as %+v, want size 0 and no content link", listed)
	}
	if real.Links.Content == "" {
		t.Errorf("Nimblex lists the real file with no content link: %+v", real)
	}
	st, _, body := do(t, http.MethodGet, c.nx.contentURL("assets", asset, "", "to come"), bearer(key), nil)
	wantEmpty(t, "Nimblex download of a placeholder", st, body, http.StatusNotFound)

	var phID string
	for _, a := range c.tl.list(t, "assets", asset) {
		if a.Name == "to come" {
			phID = a.ID
		}
	}
	if phID == "" {
		t.Fatalf("TransactionLink does not list the placeholder")
	}
	st, h, body := do(t, http.MethodGet, c.tl.attachment("assets", asset, phID), c.tl.auth(), nil)
	wantTLError(t, "TransactionLink link of a placeholder", st, h, body, http.StatusNotFound)

	rec := c.espo.record(t, http.MethodGet, "assets/"+asset, nil)
	names, _ := rec["attachmentsNames"].(map[string]any)
	found := false
	for _, id := range linkIDs(rec, "attachments") {
		if names[id] != "to come" {
			continue
		}
		found = true
		if a := c.espo.record(t, http.MethodGet, "Attachment/"+id, nil); a["isBeingUploaded"] != true {
			t.Errorf("EspoCRM shows the placeholder with isBeingUploaded %v, want true", a["isBeingUploaded"])
		}
	}
	if !found {
		t.Errorf("EspoCRM's record does not link the placeholder: %v", rec)
	}
}
