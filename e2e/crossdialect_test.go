package e2e

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
)

// One store, two views: InfoLobby's field is Nimblex's folder, and the
// default field "attachments" is Nimblex's "no folder".

// crossView is what one dialect shows of an attachment.
type crossView struct {
	found      bool
	name, typ  string
	size       int64
	data       []byte
	infolobbyP string // InfoLobby's path, when seen through InfoLobby
}

// viewInfoLobby finds name in the field through record get, then
// downloads it with files/get.
func viewInfoLobby(t *testing.T, c il, table, record, field, name string) crossView {
	t.Helper()
	for _, f := range c.fieldFiles(t, table, record, field) {
		if f.Name != name {
			continue
		}
		gotName, typ, size, data := c.get(t, table, record, field, f.Path)
		if gotName != f.Name || typ != f.Type || size != f.Size {
			t.Errorf("files/get says %q %q %d, record get says %q %q %d", gotName, typ, size, f.Name, f.Type, f.Size)
		}
		return crossView{found: true, name: f.Name, typ: f.Type, size: f.Size, data: data, infolobbyP: f.Path}
	}
	return crossView{}
}

// viewNimblex finds the attachment in the list by its id, then downloads
// it through its content link.
func viewNimblex(t *testing.T, c nx, eformtype, record, folder, name string) crossView {
	t.Helper()
	id := eformtype + "/" + record + "/attachments/" + name
	if folder != "" {
		id = eformtype + "/" + record + "/attachments/" + folder + "/" + name
	}
	it, ok := findItem(c.list(t, eformtype, record), id)
	if !ok {
		return crossView{}
	}
	status, h, data := c.fetch(t, resolveLink(t, c.gw, it.Links.Content), nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d", it.Links.Content, status)
	}
	if ct := h.Get("Content-Type"); ct != it.Attributes.Mimetype {
		t.Errorf("download Content-Type %q, list mimetype %q", ct, it.Attributes.Mimetype)
	}
	return crossView{found: true, name: name, typ: it.Attributes.Mimetype, size: *it.Attributes.Size, data: data}
}

func TestCrossDialectOneStoreTwoViews(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	ilc, nxc := il{gw, key}, nx{gw, key}

	cases := []struct {
		name      string
		uploadVia string // "infolobby" or "nimblex"
		field     string // InfoLobby's field_id
		folder    string // Nimblex's folder for that field
		deleteVia string
	}{
		{"infolobby contracts is nimblex folder contracts", "infolobby", "contracts", "contracts", "nimblex"},
		{"infolobby attachments is nimblex no folder", "infolobby", "attachments", "", "infolobby"},
		{"nimblex folder is an infolobby field", "nimblex", "specs", "specs", "infolobby"},
		{"nimblex no folder is infolobby attachments", "nimblex", "attachments", "", "nimblex"},
		{"nimblex nested folder", "nimblex", "docs/2024", "docs/2024", "infolobby"},
		{"infolobby field deleted through infolobby", "infolobby", "contracts", "contracts", "infolobby"},
		{"nimblex folder deleted through nimblex", "nimblex", "specs", "specs", "nimblex"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			record := strconv.Itoa(i + 1)
			const fileName, fileType = "scan 1.pdf", "application/pdf"
			data := append(append([]byte(nil), pdfBytes...), randomBytes(t, 4096+i)...)

			switch tc.uploadVia {
			case "infolobby":
				ilc.create(t, "Contract", record, tc.field, fileName, fileType, data)
			case "nimblex":
				nxc.upload(t, "Contract", record, tc.folder, fileName, data, fileType)
			}

			views := map[string]crossView{
				"infolobby": viewInfoLobby(t, ilc, "Contract", record, tc.field, fileName),
				"nimblex":   viewNimblex(t, nxc, "Contract", record, tc.folder, fileName),
			}
			for dialect, v := range views {
				if !v.found {
					t.Fatalf("%s does not show the file uploaded through %s", dialect, tc.uploadVia)
				}
				if v.name != fileName || v.typ != fileType || v.size != int64(len(data)) {
					t.Errorf("%s shows %q %q %d, want %q %q %d", dialect, v.name, v.typ, v.size, fileName, fileType, len(data))
				}
				if !bytes.Equal(v.data, data) {
					t.Errorf("%s returns %d bytes that differ from the %d uploaded through %s", dialect, len(v.data), len(data), tc.uploadVia)
				}
			}

			switch tc.deleteVia {
			case "infolobby":
				ilc.delete(t, "Contract", record, tc.field, views["infolobby"].infolobbyP)
			case "nimblex":
				status, _, body := do(t, http.MethodDelete, nxc.deleteURL("Contract", record, tc.folder, fileName), bearer(key), nil)
				if status/100 != 2 {
					t.Fatalf("nimblex delete: status %d %s", status, snippet(body))
				}
			}
			if v := viewInfoLobby(t, ilc, "Contract", record, tc.field, fileName); v.found {
				t.Errorf("infolobby still shows the file deleted through %s", tc.deleteVia)
			}
			status, body := ilc.post(t, "Contract", record, "files/get", map[string]any{"field_id": tc.field, "path": views["infolobby"].infolobbyP})
			wantILError(t, "infolobby files/get after the delete", status, body, 400, "")
			if v := viewNimblex(t, nxc, "Contract", record, tc.folder, fileName); v.found {
				t.Errorf("nimblex still lists the file deleted through %s", tc.deleteVia)
			}
			status, _, body = nxc.fetch(t, nxc.contentURL("Contract", record, tc.folder, fileName), nil)
			wantEmpty(t, "nimblex content after the delete", status, body, http.StatusNotFound)
		})
	}

	t.Run("infolobby's 10 MiB download cap applies to a nimblex upload", func(t *testing.T) {
		data := make([]byte, tenMiB+1)
		data[tenMiB] = 1
		nxc.upload(t, "Contract", "200", "big", "over.bin", data, "application/octet-stream")
		if got := nxc.content(t, "Contract", "200", "big", "over.bin"); !bytes.Equal(got, data) {
			t.Errorf("nimblex download of the %d-byte file: %d bytes back, or different", len(data), len(got))
		}
		files := ilc.fieldFiles(t, "Contract", "200", "big")
		if len(files) != 1 || files[0].Size != tenMiB+1 {
			t.Fatalf("infolobby record get: %+v, want the one file of %d bytes", files, tenMiB+1)
		}
		status, body := ilc.post(t, "Contract", "200", "files/get", map[string]any{"field_id": "big", "path": files[0].Path})
		wantILError(t, "infolobby files/get of a file over 10 MiB", status, body, http.StatusRequestEntityTooLarge, "")
	})

	t.Run("uploads through both dialects share one field", func(t *testing.T) {
		first := ilc.create(t, "Contract", "100", "contracts", "one.txt", "text/plain", []byte("one"))
		nxc.upload(t, "Contract", "100", "contracts", "two.txt", []byte("two"), "text/plain")
		files := ilc.create(t, "Contract", "100", "contracts", "three.txt", "text/plain", []byte("three"))
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
		}
		if len(files) != 3 || files[0] != first[0] || names[1] != "two.txt" || names[2] != "three.txt" {
			t.Errorf("contracts after infolobby, nimblex, infolobby uploads: %v, want [one.txt two.txt three.txt]", names)
		}
		items := nxc.list(t, "Contract", "100")
		if len(items) != 3 {
			t.Errorf("nimblex lists %v, want the three files", ids(items))
		}
		// Nimblex replaces by name within its folder, whoever uploaded it.
		nxc.upload(t, "Contract", "100", "contracts", "one.txt", []byte("one, replaced"), "text/plain")
		if got := nxc.content(t, "Contract", "100", "contracts", "one.txt"); string(got) != "one, replaced" {
			t.Errorf("one.txt after the nimblex replace: %q", got)
		}
		if got := len(nxc.list(t, "Contract", "100")); got != 3 {
			t.Errorf("after replacing one.txt nimblex lists %d files, want 3", got)
		}
	})
}
