package translate

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// The two streaming decoders a client's bytes pass through on their way
// to the store, driven through their routes in-process: TransactionLink's
// multipart create and EspoCRM's data-URI chunk. Whatever the body, the
// gateway must not panic or answer 5xx, must answer errors in the
// dialect's shape and write nothing for them, and must store exactly the
// bytes the body carries when it accepts it.

// fuzzBoundary is the boundary of every FuzzMultipart body.
const fuzzBoundary = "dgfuzz"

const tlCreatePath = "/tables/t1/records/r1/attachments"

var tlUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// multipartStatuses are the answers a TransactionLink create may get.
var multipartStatuses = map[int]bool{201: true, 400: true, 413: true}

func FuzzMultipart(f *testing.F) {
	// More seeds, each named for what it tries, are in
	// testdata/fuzz/FuzzMultipart.
	f.Add([]byte("--dgfuzz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--dgfuzz--\r\n"))
	f.Add([]byte("--dgfuzz\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nred\r\n--dgfuzz--\r\n"))
	cfg := testConfig(f)
	store := &swappableStore{}
	var panics panicCatcher
	app := newTestApp(cfg, store, panics.middleware())
	f.Fuzz(func(t *testing.T, body []byte) {
		mem := newMemStore()
		store.Store = mem
		req, err := http.NewRequest(http.MethodPost, "http://dragoman.test"+tlCreatePath, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "tester-secret")
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("POST %q: %v", body, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("POST %q: reading the answer: %v", body, err)
		}
		if p := panics.take(); p != "" {
			t.Fatalf("POST %q: the gateway panicked:\n%s", body, p)
		}
		st := resp.StatusCode
		if !multipartStatuses[st] {
			t.Fatalf("POST %q: status %d: %s", body, st, got)
		}
		stored := mem.snapshot()
		if st != http.StatusCreated {
			checkTLError(t, body, st, got)
			if len(stored) != 0 {
				t.Fatalf("POST %q: refused with %d, yet the store holds %d attachments", body, st, len(stored))
			}
			return
		}

		name, data, ok := referenceFilePart(body)
		if !ok {
			t.Fatalf("POST %q: accepted, but the body has no well-formed file part: %s", body, got)
		}
		if len(stored) != 1 {
			t.Fatalf("POST %q: accepted, and the store holds %d attachments, want 1", body, len(stored))
		}
		m := stored[0]
		if !bytes.Equal(m.content, data) {
			t.Fatalf("POST %q: stored %q, the file part carries %q", body, m.content, data)
		}
		sum, md := sha256.Sum256(data), md5.Sum(data)
		if name == "" && (m.a.Name == "file" || strings.HasPrefix(m.a.Name, "file.")) {
			name = m.a.Name // a part without a filename is named for the part (unit-tested in multipart_test.go)
		}
		if m.a.Name != name || m.a.Size != int64(len(data)) || m.a.SHA256 != hex.EncodeToString(sum[:]) || m.a.MD5 != hex.EncodeToString(md[:]) || !m.a.HasContent {
			t.Fatalf("POST %q: stored %+v, want name %q and %d bytes with their digests", body, m.a, name, len(data))
		}
		if m.a.Record != (upstream.RecordRef{Collection: "t1", ID: "r1"}) || m.a.Field != upstream.DefaultField {
			t.Fatalf("POST %q: stored in %+v field %q", body, m.a.Record, m.a.Field)
		}
		a := gjson.ParseBytes(got)
		if !gjson.ValidBytes(got) || !tlUUID.MatchString(a.Get("id").String()) || a.Get("name").String() != name ||
			a.Get("size").Int() != int64(len(data)) || a.Get("recordId").String() != "r1" || !a.Get("tags").IsArray() {
			t.Fatalf("POST %q: 201 answer %s does not describe %q of %d bytes", body, got, name, len(data))
		}
	})
}

// referenceFilePart reads a body the way a multipart/form-data client
// means it: the first part named "file" is the file, and its bytes run to
// the next boundary. ok is false when the body breaks before the file's
// end or has no such part.
func referenceFilePart(body []byte) (name string, data []byte, ok bool) {
	mr := multipart.NewReader(bytes.NewReader(body), fuzzBoundary)
	for range maxFormParts {
		p, err := mr.NextPart()
		if err != nil {
			return "", nil, false
		}
		if p.FormName() == "file" {
			data, err := io.ReadAll(p)
			if err != nil {
				return "", nil, false
			}
			return p.FileName(), data, true
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			return "", nil, false
		}
	}
	return "", nil, false
}

// checkTLError holds an error answer to TransactionLink's shape, exactly:
// {"fingerprint": "...", "errors": [{"code": "...", "message": "..."}]}.
func checkTLError(t *testing.T, body []byte, st int, got []byte) {
	t.Helper()
	e := gjson.ParseBytes(got)
	errs := e.Get("errors").Array()
	ok := gjson.ValidBytes(got) && e.IsObject() && len(e.Map()) == 2 &&
		e.Get("fingerprint").Type == gjson.String && e.Get("fingerprint").Str != "" && len(errs) == 1 &&
		len(errs[0].Map()) == 2 && errs[0].Get("code").Type == gjson.String && errs[0].Get("code").Str != "" &&
		errs[0].Get("message").Type == gjson.String && errs[0].Get("message").Str != ""
	if !ok {
		t.Fatalf("POST %q: status %d, body not in the TransactionLink error shape: %s", body, st, got)
	}
}

// snapshot returns every attachment the store holds.
func (s *memStore) snapshot() []memAttachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]memAttachment, 0, len(s.atts))
	for _, m := range s.atts {
		out = append(out, *m)
	}
	return out
}

// appendStore is memStore with chunked appends (upstream.Appender), as
// the store contract describes them: a placeholder made with ExpectedSize
// grows chunk by chunk, gets its digests when full, refuses a chunk that
// would pass the size (appending nothing), and refuses any chunk once full.
type appendStore struct {
	*memStore
	expected map[string]int64 // guarded by memStore.mu
}

var _ upstream.Appender = (*appendStore)(nil)

func newAppendStore() *appendStore {
	return &appendStore{memStore: newMemStore(), expected: map[string]int64{}}
}

func (s *appendStore) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	a, err := s.memStore.Create(ctx, na, content)
	if err == nil && content == nil && na.ExpectedSize > 0 {
		s.mu.Lock()
		s.expected[a.ID] = na.ExpectedSize
		s.mu.Unlock()
	}
	return a, err
}

func (s *appendStore) Append(ctx context.Context, id string, content io.Reader) (upstream.Attachment, error) {
	s.mu.Lock()
	m, found := s.atts[id]
	expected, chunked := s.expected[id]
	var have int64
	complete := false
	if found {
		have, complete = int64(len(m.content)), m.a.HasContent
	}
	s.mu.Unlock()
	switch {
	case !found:
		return upstream.Attachment{}, upstream.Errorf(upstream.KindNotFound, "attachment not found")
	case complete:
		return upstream.Attachment{}, upstream.Errorf(upstream.KindConflict, "the attachment is already complete")
	case !chunked:
		return upstream.Attachment{}, upstream.Errorf(upstream.KindInvalid, "the attachment is not a chunked upload")
	}
	chunk, err := readCapped(ctx, content, expected-have)
	if err != nil {
		return upstream.Attachment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m = s.atts[id]
	if m == nil || int64(len(m.content)) != have {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindConflict, "the attachment changed during the append")
	}
	next := append(bytes.Clone(m.content), chunk...)
	m.content, m.a.Size, m.a.Modified = next, int64(len(next)), memClock
	if m.a.Size == expected {
		sum, md := sha256.Sum256(next), md5.Sum(next)
		m.a.SHA256, m.a.MD5, m.a.HasContent = hex.EncodeToString(sum[:]), hex.EncodeToString(md[:]), true
	}
	return cloneAttachment(m.a), nil
}

// swappableAppendStore lets one gateway serve a fresh appendStore for
// every input, keeping the Appender capability visible.
type swappableAppendStore struct{ *appendStore }

// chunkStatuses are the answers an EspoCRM chunk may get (EspoCRM's own
// statuses, and no 5xx).
var chunkStatuses = map[int]bool{200: true, 400: true, 403: true, 409: true}

func FuzzDataURIChunk(f *testing.F) {
	// More seeds, each named for what it tries, are in
	// testdata/fuzz/FuzzDataURIChunk.
	f.Add(uint16(10), uint16(0), []byte("data:application/octet-stream;base64,MDEyMzQ="))
	f.Add(uint16(10), uint16(8), []byte("data:application/octet-stream;base64,MDEyMzQ="))
	cfg := testConfig(f)
	ids := testRoute(f, cfg, "espocrm", "attachment.chunk").d.ids
	store := &swappableAppendStore{}
	var panics panicCatcher
	app := newTestApp(cfg, store, panics.middleware())
	// streaming is app, but for bodies that stream from their first byte
	// on, as those over --buffer-limit do.
	streaming := newTestAppBuffering(1, cfg, store, panics.middleware())
	// send posts body as a chunk to a fresh placeholder of expected+1
	// bytes, filled first with filled bytes, through streaming or app.
	send := func(t *testing.T, expected, filled uint16, body []byte, streamed bool) (resp *http.Response, got, stored, prefix []byte, size int64) {
		size = int64(expected) + 1
		prefix = bytes.Repeat([]byte("p"), int(min(int64(filled), size)))
		s := newAppendStore()
		store.appendStore = s
		na := upstream.NewAttachment{Record: upstream.RecordRef{Collection: "Document"}, Field: "file", Name: "big.bin",
			Type: "application/octet-stream", ExpectedSize: size}
		ph, err := s.Create(context.Background(), na, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(prefix) > 0 {
			if _, err := s.Append(context.Background(), ph.ID, bytes.NewReader(prefix)); err != nil {
				t.Fatal(err)
			}
		}
		path := "/api/v1/Attachment/chunk/" + ids.Encode(ph.ID, "")
		req, err := http.NewRequest(http.MethodPost, "http://dragoman.test"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Api-Key", "tester-secret")
		req.Header.Set("Content-Type", "text/plain")
		if streamed {
			resp, err = streaming.Test(req, -1)
		} else {
			resp, err = app.Test(req, -1)
		}
		if err != nil {
			t.Fatalf("chunk %q: %v", body, err)
		}
		got, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("chunk %q: reading the answer: %v", body, err)
		}
		if p := panics.take(); p != "" {
			t.Fatalf("chunk %q: the gateway panicked:\n%s", body, p)
		}
		return resp, got, s.contentOf(ph.ID), prefix, size
	}
	f.Fuzz(func(t *testing.T, expected, filled uint16, body []byte) {
		// The body streamed must get the answer the body read whole gets,
		// and leave the same bytes.
		sresp, sgot, sstored, _, _ := send(t, expected, filled, body, true)
		resp, got, stored, prefix, size := send(t, expected, filled, body, false)
		if sresp.StatusCode != resp.StatusCode || !bytes.Equal(sgot, got) || !bytes.Equal(sstored, stored) {
			t.Fatalf("chunk %q: streamed %d %q (%s) leaving %d bytes; whole %d %q (%s) leaving %d bytes", body,
				sresp.StatusCode, sgot, sresp.Header.Get("X-Status-Reason"), len(sstored),
				resp.StatusCode, got, resp.Header.Get("X-Status-Reason"), len(stored))
		}
		st := resp.StatusCode
		if !chunkStatuses[st] {
			t.Fatalf("chunk %q: status %d (%s): %s", body, st, resp.Header.Get("X-Status-Reason"), got)
		}
		chunk, refOK := referenceChunk(body)
		known := jsonFormAgrees(body) // else the reference cannot say which bytes the body means
		room := size - int64(len(prefix))

		if st != http.StatusOK {
			if len(got) != 0 || resp.Header.Get("X-Status-Reason") == "" {
				t.Fatalf("chunk %q: status %d with body %q and X-Status-Reason %q, want an empty body and a reason",
					body, st, got, resp.Header.Get("X-Status-Reason"))
			}
			if !bytes.Equal(stored, prefix) {
				t.Fatalf("chunk %q: refused with %d, yet the placeholder changed from %d to %d bytes", body, st, len(prefix), len(stored))
			}
			if !known {
				return
			}
			if refOK && room > 0 && int64(len(chunk)) <= room && len(chunk) > 0 && canonicalChunk(body) {
				t.Fatalf("chunk %q: a well-formed chunk of %d bytes that fits (%d left) was refused with %d (%s)",
					body, len(chunk), room, st, resp.Header.Get("X-Status-Reason"))
			}
			if refOK && room > 0 && int64(len(chunk)) <= room && st == http.StatusForbidden {
				t.Fatalf("chunk %q: %d bytes fit in the %d left, but the chunk was refused as too large (%s)",
					body, len(chunk), room, resp.Header.Get("X-Status-Reason"))
			}
			return
		}
		if string(got) != "true" {
			t.Fatalf("chunk %q: 200 with %q, want true", body, got)
		}
		if !known {
			return
		}
		if !refOK {
			t.Fatalf("chunk %q: accepted, but it is not a well-formed data URI", body)
		}
		if room == 0 || int64(len(chunk)) > room {
			t.Fatalf("chunk %q: accepted %d bytes with %d left of %d", body, len(chunk), room, size)
		}
		if want := append(bytes.Clone(prefix), chunk...); !bytes.Equal(stored, want) {
			t.Fatalf("chunk %q: the placeholder holds %q, want %q", body, stored, want)
		}
	})
}

// contentOf returns the bytes an attachment holds so far.
func (s *appendStore) contentOf(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.atts[id]; m != nil {
		return bytes.Clone(m.content)
	}
	return nil
}

// referenceChunk decodes a chunk body as RFC 2397 and EspoCRM's client
// mean it: "data:[<type>][;params][;base64],<payload>", sent as the raw
// body or as a JSON string. Base64 may be padded or not and wrapped in
// lines; anything else is percent-encoded text.
func referenceChunk(body []byte) ([]byte, bool) {
	s := string(body)
	if len(body) > 0 && body[0] == '"' {
		var js string
		if json.Unmarshal(body, &js) == nil {
			s = js
		}
	}
	if len(s) < 5 || !strings.EqualFold(s[:5], "data:") {
		return nil, false
	}
	meta, payload, ok := strings.Cut(s[5:], ",")
	if !ok {
		return nil, false
	}
	if strings.HasSuffix(strings.ToLower(meta), ";base64") {
		clean := strings.NewReplacer("\r", "", "\n", "").Replace(payload)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			if d, err := enc.DecodeString(clean); err == nil {
				return d, true
			}
		}
		return nil, false
	}
	d, err := url.PathUnescape(payload)
	if err != nil {
		return nil, false
	}
	return []byte(d), true
}

// canonicalChunk reports whether a body is exactly what EspoCRM's own
// client sends: "data:<type>;base64,<padded standard base64>", nothing
// else. Such a chunk must never be refused as malformed.
var canonicalChunkRE = regexp.MustCompile(`^data:[a-z]+/[a-z0-9.+-]+;base64,(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`)

func canonicalChunk(body []byte) bool {
	if !canonicalChunkRE.Match(body) {
		return false
	}
	_, err := base64.StdEncoding.Strict().DecodeString(string(body[bytes.IndexByte(body, ',')+1:]))
	return err == nil
}

// jsonFormAgrees is false for a JSON-string body that is not valid UTF-8:
// encoding/json and the gateway's JSON reader may then disagree on the
// string's bytes, which says nothing about the data-URI decoder.
func jsonFormAgrees(body []byte) bool {
	return len(body) == 0 || body[0] != '"' || utf8.Valid(body)
}
