package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestSameNameTwice: two files of one name in one field, made through
// TransactionLink, stay two files in every dialect. Nimblex, which
// addresses files by name, shows the newest under the name and the older
// under the name tagged with its id, and reaches, downloads and deletes
// each separately.
func TestSameNameTwice(t *testing.T) {
	t.Parallel()
	const table, record = "Contract", "dup-1"
	gw, key, c := sameNameTwice(t, table, record)
	if got := c.tl.list(t, table, record); len(got) != 2 || got[0].ID == got[1].ID {
		t.Fatalf("TransactionLink lists %+v, want two files with their own ids", got)
	}
	if files := c.il.fieldFiles(t, table, record, "attachments"); len(files) != 2 || files[0].Path == files[1].Path {
		t.Fatalf("InfoLobby lists %+v, want two files with their own paths", files)
	}

	items := c.nx.list(t, table, record)
	var plain, tagged nxItem
	for _, it := range items {
		switch name := it.ID[strings.LastIndex(it.ID, "/")+1:]; {
		case name == "dup.pdf":
			plain = it
		case strings.HasPrefix(name, "dup~") && strings.HasSuffix(name, ".pdf"):
			tagged = it
		}
	}
	if len(items) != 2 || plain.ID == "" || tagged.ID == "" {
		t.Fatalf("Nimblex lists %v, want dup.pdf and dup~<tag>.pdf", ids(items))
	}
	for _, want := range []struct {
		it   nxItem
		body string
	}{{plain, "second copy"}, {tagged, "first copy"}} {
		st, _, b := c.nx.fetch(t, resolveLink(t, gw, want.it.Links.Content), nil)
		if st != http.StatusOK || string(b) != want.body {
			t.Errorf("Nimblex download of %s: %d %q, want %q", want.it.ID, st, b, want.body)
		}
	}

	taggedName := tagged.ID[strings.LastIndex(tagged.ID, "/")+1:]
	if st, _, b := do(t, http.MethodDelete, c.nx.deleteURL(table, record, "", taggedName), bearer(key), nil); st != http.StatusNoContent {
		t.Fatalf("Nimblex delete of %s: %d %s", taggedName, st, snippet(b))
	}
	left := c.tl.list(t, table, record)
	if len(left) != 1 {
		t.Fatalf("after deleting the older copy TransactionLink lists %+v, want one file", left)
	}
	_, body := fetchTL(t, c.tl, table, record, left[0].ID)
	if body != "second copy" {
		t.Errorf("the file left is %q, want the second copy", body)
	}
	if got := ids(c.nx.list(t, table, record)); !slices.Equal(got, []string{table + "/" + record + "/attachments/dup.pdf"}) {
		t.Errorf("Nimblex lists %v after the delete", got)
	}
}

// sameNameTwice starts a gateway and uploads "first copy" and then
// "second copy" as dup.pdf to one record through TransactionLink.
func sameNameTwice(t *testing.T, table, record string) (*gateway, string, mxClients) {
	t.Helper()
	gw := startGateway(t)
	key := gw.key(t, "client")
	c := mxClients{tl{gw, key}, espo{gw, key}, il{gw, key}, nx{gw, key}, mp{gw, key}}
	for _, body := range []string{"first copy", "second copy"} {
		if st, h, b := c.tl.post(t, table, record, c.tl.auth(), filePart("dup.pdf", "application/pdf", []byte(body))); st != http.StatusCreated {
			t.Fatalf("TransactionLink upload: %d (%s) %s", st, h.Get("Content-Type"), snippet(b))
		}
	}
	return gw, key, c
}

// fetchTL downloads a TransactionLink attachment through its link.
func fetchTL(t *testing.T, c tl, table, record, id string) (int, string) {
	t.Helper()
	st, _, b := fetchLink(t, c.link(t, table, record, id))
	return st, string(b)
}

// TestSameNameUploadReplacesOne: of two files of one name, a Nimblex
// upload by that name replaces the one the name reaches, the newest, and
// leaves the older, which Nimblex shows under its tagged name.
func TestSameNameUploadReplacesOne(t *testing.T) {
	t.Parallel()
	const table, record = "Contract", "dup-2"
	_, _, c := sameNameTwice(t, table, record)
	c.nx.upload(t, table, record, "", "dup.pdf", []byte("third copy"), "application/pdf")

	left := c.tl.list(t, table, record)
	var bodies []string
	for _, a := range left {
		_, body := fetchTL(t, c.tl, table, record, a.ID)
		bodies = append(bodies, body)
	}
	slices.Sort(bodies)
	if want := []string{"first copy", "third copy"}; !slices.Equal(bodies, want) {
		t.Fatalf("after a Nimblex upload by the name TransactionLink holds %q, want %q", bodies, want)
	}
	if got := string(c.nx.content(t, table, record, "", "dup.pdf")); got != "third copy" {
		t.Errorf("Nimblex dup.pdf reads %q, want the upload", got)
	}
	if n := len(c.nx.list(t, table, record)); n != 2 {
		t.Errorf("Nimblex lists %d files, want the older under its tag and the upload", n)
	}
}
