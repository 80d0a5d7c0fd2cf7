package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScaleOutPresignedDownloads runs a gateway with --blobs-presign on
// the PostgreSQL + S3 store, with routes.yaml's Nimblex content route
// marked redirect: presigned: a download through it, and a TransactionLink
// link, answer 307 to the S3 server, a client following it gets the bytes
// (and a range of them) from there, and a route not marked (EspoCRM's
// file) still streams.
func TestScaleOutPresignedDownloads(t *testing.T) {
	b := backends.Get(t)
	for _, kv := range b.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	stock, err := os.ReadFile(filepath.Join(root, "routes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The Nimblex content route, and only it, answers with a redirect.
	const route = "      - name: attachments.content.get\n"
	i := bytes.Index(stock, []byte(route))
	j := bytes.Index(stock[i:], []byte("          content: raw\n"))
	if i < 0 || j < 0 {
		t.Fatal("routes.yaml has no Nimblex attachments.content.get with content: raw")
	}
	at := i + j + len("          content: raw\n")
	routes := append(append(append([]byte{}, stock[:at]...), "          redirect: presigned\n"...), stock[at:]...)
	routesFile := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routesFile, routes, 0o600); err != nil {
		t.Fatal(err)
	}
	key := (&gateway{data: t.TempDir()}).key(t, "presign", "--upstream", b.DatabaseURL)
	gw := startGateway(t, "--upstream", b.DatabaseURL, "--blobs", b.BlobsURL, "--s3-endpoint", b.S3.Endpoint,
		"--rate-limit", "0", "--blobs-presign", "2m", "--routes", routesFile)

	content := payload("presigned.bin", 300_000)
	nx{gw, key}.upload(t, "forms", "p1", "", "presigned.bin", content, "application/octet-stream")
	a := tl{gw, key}.create(t, "forms", "p2", "linked.txt", "text/plain", content)
	e := espo{gw, key}.upload(t, multipleBody("streamed.txt", "text/plain", content))

	s3 := func(loc string) bool {
		u, err := url.Parse(loc)
		return err == nil && "http://"+u.Host == b.S3.Endpoint && u.Query().Get("X-Amz-Signature") != ""
	}
	tests := []struct {
		name    string
		url     string
		headers hdr
	}{
		{"a Nimblex route marked redirect: presigned", nx{gw, key}.contentURL("forms", "p1", "", "presigned.bin"), bearer(key)},
		{"a TransactionLink link", tl{gw, key}.link(t, "forms", "p2", a.ID), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, h, body := do(t, http.MethodGet, tt.url, tt.headers, nil)
			if st != http.StatusTemporaryRedirect || !s3(h.Get("Location")) || len(body) != 0 {
				t.Fatalf("GET: %d, Location %q, %d bytes; want 307 to a presigned URL of %s", st, h.Get("Location"), len(body), b.S3.Endpoint)
			}
			if cc := h.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			for _, rng := range []struct {
				header     string
				wantStatus int
				want       []byte
			}{
				{"", http.StatusOK, content},
				{"bytes=1000-1999", http.StatusPartialContent, content[1000:2000]},
				{"bytes=-7", http.StatusPartialContent, content[len(content)-7:]},
			} {
				st, h, got := following(t, tt.url, tt.headers.with("Range", rng.header))
				if st != rng.wantStatus || !bytes.Equal(got, rng.want) {
					t.Errorf("following, Range %q: %d with %d bytes, want %d with %d", rng.header, st, len(got), rng.wantStatus, len(rng.want))
				}
				if cd := h.Get("Content-Disposition"); !strings.Contains(cd, "attachment") {
					t.Errorf("following, Range %q: Content-Disposition %q, want the gateway's", rng.header, cd)
				}
			}
			// A conditional request is the gateway's to answer.
			if st, h, _ := do(t, http.MethodGet, tt.url, tt.headers.with("If-None-Match", `"nothing"`), nil); st != http.StatusOK || h.Get("Location") != "" {
				t.Errorf("a conditional GET: %d, Location %q; want 200 streamed", st, h.Get("Location"))
			}
		})
	}
	t.Run("a route not marked streams", func(t *testing.T) {
		h, got := espo{gw, key}.file(t, e.ID)
		if h.Get("Location") != "" || !bytes.Equal(got, content) {
			t.Fatalf("EspoCRM file: Location %q, %d bytes; want 200 with the bytes", h.Get("Location"), len(got))
		}
	})
}

// following GETs url with a client that follows redirects as browsers and
// curl -L do: the credential is not sent on to another origin (the
// presigned URL carries its own), other headers are.
func following(t *testing.T, u string, headers hdr) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	c := &http.Client{CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if r.URL.Host != via[0].URL.Host {
			r.Header.Del("Authorization")
		}
		return nil
	}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}
