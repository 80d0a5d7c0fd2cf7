package translate

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// BenchmarkNimblexListTemplate renders the nimblex attachments.list answer
// for a record of ten files, two of them in folders: the template alone,
// with no HTTP and no store.
func BenchmarkNimblexListTemplate(b *testing.B) {
	r := testRoute(b, testConfig(b), "nimblex", "attachments.list")
	rec := upstream.RecordRef{Collection: "contracts", ID: "4711"}
	files := make([]upstream.Attachment, 10)
	for i := range files {
		field := upstream.DefaultField
		if i >= 8 {
			field = "scans/2024"
		}
		files[i] = upstream.Attachment{ID: fmt.Sprintf("%016x", i+1), Record: rec, Field: field,
			Name: fmt.Sprintf("invoice %02d.pdf", i), Type: "application/pdf", Size: int64(1000 * i), Position: int64(i)}
	}
	bd := &bound{strs: makeStrs("record.collection", rec.Collection, "record.id", rec.ID)}
	e := &env{d: r.d, bound: bd, files: files, origin: "https://gw.example.com", contentAt: -1}
	out := r.respBody.appendJSON(nil, e)
	if n := gjson.GetBytes(out, "data.#").Int(); !gjson.ValidBytes(out) || n != 10 {
		b.Fatalf("rendered %d files, valid %v: %s", n, gjson.ValidBytes(out), out)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		out = r.respBody.appendJSON(out[:0], e)
	}
}

// BenchmarkInfolobbyCreateDecode1MiB decodes an InfoLobby files.create
// request carrying a 1 MiB file: read the JSON body, bind every value,
// and drain the decoded content stream (as the store would). No store.
func BenchmarkInfolobbyCreateDecode1MiB(b *testing.B) {
	r := testRoute(b, testConfig(b), "infolobby", "files.create")
	content := make([]byte, 1<<20)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	body := []byte(`{"field_id":"contracts","name":"big.bin","type":"application/octet-stream","data":"` +
		base64.StdEncoding.EncodeToString(content) + `"}`)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	withRequest(b, http.MethodPost, "/api/table/t1/record/r1/files/create", body, func(c *fiber.Ctx) {
		decode := func() int64 {
			c.Request().SetBodyRaw(body) // what the loop before read
			bd, err := r.decode(c)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, bd.content)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
		if n := decode(); n != int64(len(content)) {
			b.Fatalf("decoded %d bytes, want %d", n, len(content))
		}
		for b.Loop() {
			decode()
		}
	})
}

// withRequest runs fn on the benchmark's goroutine with the live fiber
// context of one in-process request; the handler waits until fn is done.
func withRequest(b *testing.B, method, path string, body []byte, fn func(c *fiber.Ctx)) {
	ctxs, done := make(chan *fiber.Ctx), make(chan struct{})
	app := fiber.New(fiber.Config{StreamRequestBody: true, DisablePreParseMultipartForm: true, DisableStartupMessage: true})
	app.Add(method, path, func(c *fiber.Ctx) error {
		ctxs <- c
		<-done
		return nil
	})
	req, err := http.NewRequest(method, "http://dragoman.test"+path, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		_, err := app.Test(req, -1)
		served <- err
	}()
	fn(<-ctxs)
	close(done)
	if err := <-served; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEspoChunkDecode4MiB decodes one EspoCRM Attachment/chunk
// request: a raw data-URI body of 4 MiB of content, bound and its decoded
// stream drained (as the store would). No store. Its B/op shows whether
// the body is copied on the way to the decoder.
func BenchmarkEspoChunkDecode4MiB(b *testing.B) {
	r := testRoute(b, testConfig(b), "espocrm", "attachment.chunk")
	content := make([]byte, 4<<20)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	body := []byte("data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(content))
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	withRequest(b, http.MethodPost, "/api/v1/Attachment/chunk/0123456789abcdef0", body, func(c *fiber.Ctx) {
		buf := make([]byte, 256<<10)
		decode := func() int64 {
			c.Request().SetBodyRaw(body)
			bd, err := r.decode(c)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{bd.content}, buf)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
		if n := decode(); n != int64(len(content)) {
			b.Fatalf("decoded %d bytes, want %d", n, len(content))
		}
		for b.Loop() {
			decode()
		}
	})
}

// BenchmarkTransactionLinkMultipartDecode4MiB decodes a TransactionLink
// multipart create (a tags field, then a 4 MiB file part) and drains the
// file part as the store would, through the buffer the body is read in.
func BenchmarkTransactionLinkMultipartDecode4MiB(b *testing.B) {
	r := testRoute(b, testConfig(b), "transactionlink", "attachments.create")
	content := make([]byte, 4<<20)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	var form bytes.Buffer
	w := multipart.NewWriter(&form)
	if err := w.WriteField("tags", "a,b"); err != nil {
		b.Fatal(err)
	}
	fw, err := w.CreateFormFile("file", "big.bin")
	if err != nil {
		b.Fatal(err)
	}
	fw.Write(content)
	w.Close()
	body := form.Bytes()
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	withRequest(b, http.MethodPost, "/tables/t1/records/r1/attachments", body, func(c *fiber.Ctx) {
		buf := make([]byte, 256<<10)
		decode := func() int64 {
			c.Request().SetBodyRaw(body)
			c.Request().Header.SetContentType(w.FormDataContentType())
			bd, err := r.decode(c)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{bd.content}, buf)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
		if n := decode(); n != int64(len(content)) {
			b.Fatalf("decoded %d bytes, want %d", n, len(content))
		}
		for b.Loop() {
			decode()
		}
	})
}

// BenchmarkBase64Decoder4MiB decodes 4 MiB of content as a streamed
// EspoCRM chunk is decoded, from a reader that always has input ready (a
// socket a fast client fills) into a 256 KiB buffer (the store's).
func BenchmarkBase64Decoder4MiB(b *testing.B) {
	content := make([]byte, 4<<20)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	enc := []byte(base64.StdEncoding.EncodeToString(content))
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{newBase64Decoder(bytes.NewReader(enc))}, buf)
		if err != nil || n != int64(len(content)) {
			b.Fatalf("decoded %d bytes (%v), want %d", n, err, len(content))
		}
	}
}
