package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"testing"
)

// TestUpstreamTwoStepUpload is EspoCRM's own flow in front of upstreams
// whose upload names its record: an attachment related to an entity type
// only, then the record that names it. The front holds the file until the
// record links it; a SIGKILL of the front between the two steps loses
// nothing, and the file reaches the upstream byte-identical, in the
// record's field, under the id the client was given.
func TestUpstreamTwoStepUpload(t *testing.T) {
	t.Parallel()
	for _, up := range []string{"infolobby", "nimblex", "transactionlink"} {
		t.Run("upstream "+up, func(t *testing.T) {
			t.Parallel()
			front, back, fk, bk := umPair(t, up)
			fc, bc := clientsOf(front, fk), clientsOf(back, bk)
			data := randomBytes(t, 300<<10)
			name := "two-step-" + up + ".pdf"

			a := fc.espo.upload(t, map[string]any{"name": name, "type": mxType, "role": "Attachment",
				"relatedType": "Document", "field": "file", "file": dataURI(mxType, data)})
			if _, got := fc.espo.file(t, a.ID); !bytes.Equal(got, data) {
				t.Fatalf("the unlinked attachment reads back %d bytes, want the %d sent", len(got), len(data))
			}

			// Acknowledged, so it survives SIGKILL before it is linked.
			front.kill(t)
			front.restart(t)
			if _, got := fc.espo.file(t, a.ID); !bytes.Equal(got, data) {
				t.Fatalf("after SIGKILL the unlinked attachment reads back %d bytes, want %d", len(got), len(data))
			}

			doc := fc.espo.record(t, http.MethodPost, "Document", map[string]any{"name": "contract", "fileId": a.ID})
			id, _ := doc["id"].(string)
			if id == "" || doc["fileId"] != a.ID || doc["fileName"] != name {
				t.Fatalf("POST Document answered %v, want its id and fileId %s named %q", doc, a.ID, name)
			}
			got := fc.espo.record(t, http.MethodGet, "Document/"+id, nil)
			if got["name"] != "contract" || got["fileId"] != a.ID {
				t.Errorf("GET Document/%s: %v, want name contract and fileId %s", id, got, a.ID)
			}
			if _, b := fc.espo.file(t, a.ID); !bytes.Equal(b, data) {
				t.Errorf("the linked attachment reads back %d bytes, want %d", len(b), len(data))
			}
			// Where the upstream has fields the file is in the record's
			// "file" field (a Nimblex folder, part of its name there);
			// TransactionLink keeps every file in its one.
			folder, listed := "file", name
			switch up {
			case "transactionlink":
				folder = ""
			case "nimblex":
				listed = "file/" + name
			}
			if names := umNames(t, bc, up, "Document", id); !slices.Equal(names, []string{listed}) {
				t.Errorf("the upstream's Document/%s shows %v, want [%s]", id, names, listed)
			}
			sum := sha256.Sum256(data)
			umSameSHAIn(t, bc, "Document", id, folder, name, int64(len(data)), hex.EncodeToString(sum[:]))
		})
	}
}
