package translate

import (
	"context"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream"
)

// presigningStore is a memStore whose contents have presigned URLs (but
// for files named "chunked.txt", which have none, as a content of several
// objects).
type presigningStore struct{ *memStore }

func (s presigningStore) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	a, c, err := s.memStore.Open(ctx, id)
	if err != nil {
		return a, c, err
	}
	return a, presignedContent{Content: c, id: id, chunked: a.Name == "chunked.txt"}, nil
}

type presignedContent struct {
	upstream.Content
	id      string
	chunked bool
}

func (c presignedContent) PresignURL(_ context.Context, ttl time.Duration, contentType, disposition string) (string, error) {
	if c.chunked {
		return "", nil
	}
	return "https://bucket.test/" + c.id + "?" + url.Values{"ttl": {ttl.String()}, "type": {contentType}, "disposition": {disposition}}.Encode(), nil
}

// TestPresignedRedirect checks when a download is answered with a 307 to
// the content's presigned URL: on a route that allows it, with presign on,
// for a plain GET (with or without a range) of content that has a URL;
// and on a presigned link. Everything else streams.
func TestPresignedRedirect(t *testing.T) {
	data, err := os.ReadFile("testdata/redirect/routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	store := presigningStore{newMemStore()}
	ctx := context.Background()
	ref := upstream.RecordRef{Collection: "c", ID: "r"}
	one, err := store.Create(ctx, upstream.NewAttachment{Record: ref, Name: "a b.txt", Type: "text/plain"}, strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	chunked, err := store.Create(ctx, upstream.NewAttachment{Record: ref, Name: "chunked.txt"}, strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	signer := NewSigner([]byte("secret"), time.Hour)
	app := func(presign time.Duration) *fiber.App {
		app := fiber.New(fiber.Config{StreamRequestBody: true, DisablePreParseMultipartForm: true, DisableStartupMessage: true})
		NewGateway(cfg, Options{Store: store, Auth: testKeys, Signer: signer, PresignTTL: presign}).Mount(app)
		return app
	}
	on, off := app(5*time.Minute), app(0)
	token, err := signer.Token(one.ID)
	if err != nil {
		t.Fatal(err)
	}
	native := func(id string) string { return cfg.dialects[0].ids.Encode(id, "") }
	oneID, chunkedID := native(one.ID), native(chunked.ID)
	wantURL := "https://bucket.test/" + one.ID + "?" + url.Values{"ttl": {"5m0s"}, "type": {"text/plain"},
		"disposition": {contentDisposition("a b.txt")}}.Encode()
	tests := []struct {
		name    string
		app     *fiber.App
		method  string
		path    string
		headers map[string]string
		// redirect: a 307 to wantURL; otherwise the bytes, whole or the range.
		redirect bool
		status   int
	}{
		{"a route that allows it", on, "GET", "/d/files/" + oneID + "/redirected", nil, true, 307},
		{"a range", on, "GET", "/d/files/" + oneID + "/redirected", map[string]string{"Range": "bytes=1-2"}, true, 307},
		{"a presigned link", on, "GET", LinkPath + token, nil, true, 307},
		{"a route that does not allow it", on, "GET", "/d/files/" + oneID + "/streamed", nil, false, 200},
		{"presign off", off, "GET", "/d/files/" + oneID + "/redirected", nil, false, 200},
		{"presign off, a link", off, "GET", LinkPath + token, nil, false, 200},
		{"a content with no URL", on, "GET", "/d/files/" + chunkedID + "/redirected", nil, false, 200},
		{"a conditional request", on, "GET", "/d/files/" + oneID + "/redirected", map[string]string{"If-None-Match": `"x"`}, false, 200},
		{"a conditional range", on, "GET", "/d/files/" + oneID + "/redirected", map[string]string{"Range": "bytes=1-2", "If-Range": `"` + one.SHA256 + `"`}, false, 206},
		{"a HEAD", on, "HEAD", "/d/files/" + oneID + "/redirected", nil, false, 200},
		{"a HEAD of a link", on, "HEAD", LinkPath + token, nil, false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Header.Set("X-Key", "tester-secret")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := tt.app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			loc := resp.Header.Get("Location")
			if tt.redirect {
				if loc != wantURL || resp.Header.Get("Cache-Control") != "no-store" || len(body) != 0 {
					t.Errorf("Location %q, Cache-Control %q, %d bytes; want %q, no-store, none", loc, resp.Header.Get("Cache-Control"), len(body), wantURL)
				}
				return
			}
			if loc != "" {
				t.Errorf("streamed with a Location %q", loc)
			}
			want := "hello"
			if tt.status == 206 {
				want = "el"
			}
			if tt.method == "GET" && string(body) != want {
				t.Errorf("body %q, want %q", body, want)
			}
		})
	}
}
