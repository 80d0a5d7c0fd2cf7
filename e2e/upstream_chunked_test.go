package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestUpstreamChunkedUpload sends EspoCRM's chunked upload to a front
// gateway in front of each upstream that can create files: the front holds
// the chunks and sends the whole file with the upstream's own create when
// the last one is in. The file must reach the upstream byte-identical,
// under the id the client was given for the placeholder, and killing the
// front between chunks must lose nothing acknowledged.
func TestUpstreamChunkedUpload(t *testing.T) {
	t.Parallel()
	for _, up := range []string{"espocrm", "infolobby", "nimblex", "transactionlink"} {
		t.Run("upstream "+up, func(t *testing.T) {
			t.Parallel()
			front, back, fk, bk := umPair(t, up)
			fc, bc := clientsOf(front, fk), clientsOf(back, bk)
			record, name := "chunked-"+up, "chunked-"+up+".bin"
			chunks := []int{1 << 20, 700 << 10, 1<<20 + 17}
			total := 0
			for _, n := range chunks {
				total += n
			}
			data := randomBytes(t, total)

			a := fc.espo.upload(t, map[string]any{"name": name, "type": "application/octet-stream", "role": "Attachment",
				"relatedType": mxCollection, "relatedId": record, "field": mxField, "isBeingUploaded": true, "size": total})
			off := 0
			for i, n := range chunks {
				if i == len(chunks)-1 {
					// Everything acknowledged so far survives SIGKILL.
					front.kill(t)
					front.restart(t)
				}
				st, h, body := do(t, http.MethodPost, fc.espo.url("Attachment/chunk/"+a.ID), fc.espo.headers().with("Content-Type", "text/plain"), chunkBody(data[off:off+n]))
				if st != http.StatusOK || strings.TrimSpace(string(body)) != "true" {
					t.Fatalf("chunk %d (%d bytes): status %d (%s) %s, want 200 true", i, n, st, h.Get("X-Status-Reason"), snippet(body))
				}
				off += n
				if off < total {
					if got := umNames(t, bc, up, mxCollection, record); slices.Contains(got, name) {
						t.Fatalf("after chunk %d the upstream already shows %q", i, name)
					}
				}
			}
			_, got := fc.espo.file(t, a.ID)
			if !bytes.Equal(got, data) {
				t.Errorf("file through the front after the chunks: %d bytes, want the %d sent, byte-identical", len(got), total)
			}
			if got := umNames(t, bc, up, mxCollection, record); !slices.Equal(got, []string{name}) {
				t.Errorf("the upstream shows %v, want [%s]", got, name)
			}
			sum := sha256.Sum256(data)
			umSameSHA(t, bc, record, name, int64(total), hex.EncodeToString(sum[:]))
			st, h, body := do(t, http.MethodPost, fc.espo.url("Attachment/chunk/"+a.ID), fc.espo.headers().with("Content-Type", "text/plain"), chunkBody([]byte("x")))
			wantEspoError(t, "a chunk after the upload is complete", st, h, body, http.StatusConflict)
		})
	}
}
