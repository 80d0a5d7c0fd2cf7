package translate

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
)

func TestFormListName(t *testing.T) {
	cases := map[string]string{
		"tags":      "tags",
		"tags[]":    "tags",
		"tags[0]":   "tags",
		"tags[12]":  "tags",
		"tags[a]":   "tags[a]", // a map key, not a list
		"a[b][]":    "a[b][]",
		"tags[0][]": "tags[0][]",
		"[]":        "[]",
		"tags[":     "tags[",
		"tags]":     "tags]",
		"ta[]gs":    "ta[]gs",
		"":          "",
	}
	for in, want := range cases {
		if got := formListName(in); got != want {
			t.Errorf("formListName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzFormListName(f *testing.F) {
	for _, s := range []string{"tags", "tags[]", "tags[7]", "tags[x]", "[]", "a[b][]", "t[0]["} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := formListName(name)
		if got == name {
			return
		}
		// Only a trailing [] or [digits] is ever cut, and never all of it.
		rest, ok := strings.CutPrefix(name, got)
		if !ok || got == "" || strings.ContainsRune(got, '[') || len(rest) < 2 || rest[0] != '[' || rest[len(rest)-1] != ']' ||
			strings.Trim(rest[1:len(rest)-1], "0123456789") != "" {
			t.Fatalf("formListName(%q) = %q", name, got)
		}
	})
}

// tlPart is one part of a TransactionLink create form.
type tlPart struct {
	name, filename, typ, body string
}

// postTLForm sends a multipart create to TransactionLink over store and
// returns the status and the answer.
func postTLForm(t *testing.T, store *memStore, parts []tlPart) (int, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			cd += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", cd)
		if p.typ != "" {
			h.Set("Content-Type", p.typ)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(pw, p.body)
	}
	w.Close()
	app := newTestApp(testConfig(t), store)
	req, _ := http.NewRequest(http.MethodPost, "http://dragoman.test"+tlCreatePath, &body)
	req.Header.Set("Authorization", "tester-secret")
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

const pngHead = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"

func TestMultipartListFields(t *testing.T) {
	file := tlPart{name: "file", filename: "a.txt", typ: "text/plain", body: "hello"}
	cases := []struct {
		what  string
		parts []tlPart
		want  []string
	}{
		{"PHP, jQuery and axios: tags[]", []tlPart{{name: "tags[]", body: "red"}, {name: "tags[]", body: "blue"}, file}, []string{"red", "blue"}},
		{"indexed: tags[0], tags[1]", []tlPart{{name: "tags[0]", body: "red"}, {name: "tags[1]", body: "blue"}, file}, []string{"red", "blue"}},
		{"repeated: tags, tags", []tlPart{{name: "tags", body: "red"}, {name: "tags", body: "blue"}, file}, []string{"red", "blue"}},
		{"after the file part", []tlPart{file, {name: "tags[]", body: "red"}, {name: "tags[]", body: "blue"}}, []string{"red", "blue"}},
		{"both sides of the file", []tlPart{{name: "tags[]", body: "red"}, file, {name: "tags[]", body: "blue"}}, []string{"red", "blue"}},
		{"one JSON array", []tlPart{{name: "tags", body: `["red","blue"]`}, file}, []string{"red", "blue"}},
		{"a map key is another field", []tlPart{{name: "tags[x]", body: "red"}, file}, nil},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			store := newMemStore()
			st, body := postTLForm(t, store, c.parts)
			if st != http.StatusCreated {
				t.Fatalf("status %d: %s", st, body)
			}
			got := store.snapshot()
			if len(got) != 1 || !slices.Equal(got[0].a.Tags, c.want) {
				t.Fatalf("stored %+v, want tags %q", got, c.want)
			}
		})
	}
}

func TestMultipartFileWithoutFilename(t *testing.T) {
	cases := []struct {
		what             string
		part             tlPart
		wantName, wantTy string
	}{
		{"declared type", tlPart{name: "file", typ: "image/png", body: pngHead}, "file.png", "image/png"},
		{"declared type with parameters", tlPart{name: "file", typ: "text/csv; charset=utf-8", body: "a,b\n"}, "file.csv", "text/csv; charset=utf-8"},
		{"no type: sniffed from the bytes", tlPart{name: "file", body: pngHead}, "file.png", "image/png"},
		{"generic type: sniffed from the bytes", tlPart{name: "file", typ: "application/octet-stream", body: "%PDF-1.7\n"}, "file.pdf", "application/pdf"},
		{"no type, text", tlPart{name: "file", body: "just text"}, "file.txt", "text/plain; charset=utf-8"},
		{"a type with no known extension", tlPart{name: "file", typ: "application/x-custom", body: "x"}, "file", "application/x-custom"},
		{"a filename is kept", tlPart{name: "file", filename: "photo", typ: "image/png", body: pngHead}, "photo", "image/png"},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			store := newMemStore()
			st, body := postTLForm(t, store, []tlPart{c.part})
			if st != http.StatusCreated {
				t.Fatalf("status %d: %s", st, body)
			}
			got := store.snapshot()
			if len(got) != 1 || got[0].a.Name != c.wantName || got[0].a.Type != c.wantTy || string(got[0].content) != c.part.body {
				t.Fatalf("stored %+v, want %q of type %q with the part's bytes", got, c.wantName, c.wantTy)
			}
		})
	}
}

func TestMultipartEmptyFilenameIsNoFile(t *testing.T) {
	// A browser's file input left empty: filename="" and no bytes.
	body := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n"
	store := newMemStore()
	app := newTestApp(testConfig(t), store)
	req, _ := http.NewRequest(http.MethodPost, "http://dragoman.test"+tlCreatePath, strings.NewReader(body))
	req.Header.Set("Authorization", "tester-secret")
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || len(store.snapshot()) != 0 {
		t.Fatalf("status %d %s, stored %d: want 400 and nothing stored", resp.StatusCode, got, len(store.snapshot()))
	}
}
