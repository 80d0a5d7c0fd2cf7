package translate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// signedAuth is testKeys plus HMAC secrets by key name.
type signedAuth struct {
	testAuth
	secrets map[string]string
}

func (a signedAuth) AuthenticateHMAC(name string, message, mac []byte) (Caller, bool) {
	secret, ok := a.secrets[name]
	if !ok || !hmac.Equal(espoMAC(secret, string(message)), mac) {
		return nil, false
	}
	return a.testAuth[secret], true
}

// espoMAC and espoSigned compute what EspoCRM's api-client sends.
func espoMAC(secret, message string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(message))
	return h.Sum(nil)
}

func espoSigned(name, secret, method, path string) string {
	return base64.StdEncoding.EncodeToString(append([]byte(name+":"), espoMAC(secret, method+" /"+path)...))
}

func TestParseSignedHeader(t *testing.T) {
	mac := espoMAC("s", "GET /x")
	colonMAC := make([]byte, 32)
	colonMAC[0], colonMAC[31] = ':', ':'
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		what, header, name string
		ok                 bool
	}{
		{"EspoCRM's form", b64("tester:" + string(mac)), "tester", true},
		{"unpadded", strings.TrimRight(b64("tester:"+string(mac)), "="), "tester", true},
		{"a name with a colon", b64("a:b:" + string(mac)), "a:b", true},
		{"a MAC with colons", b64("tester:" + string(colonMAC)), "tester", true},
		{"no name", b64(":" + string(mac)), "", false},
		{"no colon", b64("tester" + string(mac)), "", false},
		{"a short MAC", b64("tester:" + string(mac[:31])), "", false},
		{"hex, not raw bytes", b64("tester:" + strings.Repeat("ab", 32)), "", false},
		{"not base64", "tester:secret", "", false},
		{"empty", "", "", false},
	}
	for _, c := range cases {
		name, got, ok := parseSignedHeader(c.header)
		if ok != c.ok || name != c.name || (ok && len(got) != 32) {
			t.Errorf("%s: parseSignedHeader = %q, %d bytes, %v; want %q, %v", c.what, name, len(got), ok, c.name, c.ok)
		}
	}
}

func FuzzSignedHeader(f *testing.F) {
	f.Add(espoSigned("tester", "tester-secret", "GET", "Attachment/x"))
	f.Add(base64.StdEncoding.EncodeToString([]byte("a:" + strings.Repeat(":", 32))))
	f.Add("not base64")
	f.Fuzz(func(t *testing.T, v string) {
		name, mac, ok := parseSignedHeader(v)
		if !ok {
			return
		}
		if name == "" || len(mac) != sha256.Size {
			t.Fatalf("parseSignedHeader(%q) = %q, %x", v, name, mac)
		}
	})
}

func TestCompileSignedCredential(t *testing.T) {
	for _, c := range []struct {
		h   HMACCredential
		bad string
	}{
		{HMACCredential{Header: "X-Sig", Message: "{method} /{path}"}, ""},
		{HMACCredential{Message: "{method}"}, "header is required"},
		{HMACCredential{Header: "X-Sig"}, "message is required"},
		{HMACCredential{Header: "X-Sig", Message: "{method} {query}"}, "unknown placeholder {query}"},
		{HMACCredential{Header: "X-Sig", Message: "{method"}, "unclosed {"},
	} {
		_, err := compileSignedCredential(&c.h)
		if (err == nil) != (c.bad == "") || (err != nil && !strings.Contains(err.Error(), c.bad)) {
			t.Errorf("compileSignedCredential(%+v) = %v, want %q", c.h, err, c.bad)
		}
	}
}

func TestSignedCredentialEspoCRM(t *testing.T) {
	auth := signedAuth{testAuth: testKeys, secrets: map[string]string{"tester": "tester-secret", "auditor": "auditor-secret"}}
	app := fiber.New(fiber.Config{StreamRequestBody: true, DisablePreParseMultipartForm: true})
	NewGateway(testConfig(t), Options{Store: newMemStore(), Auth: auth}).Mount(app)
	const path = "Document/0123456789abcdef0"
	cases := []struct {
		what, target, header string
		want                 int
	}{
		// 404: past authentication, the record does not exist.
		{"signed", "/api/v1/" + path, espoSigned("tester", "tester-secret", "GET", path), 404},
		{"the query is not signed", "/api/v1/" + path + "?select=name", espoSigned("tester", "tester-secret", "GET", path), 404},
		{"signed with the query", "/api/v1/" + path + "?select=name", espoSigned("tester", "tester-secret", "GET", path+"?select=name"), 401},
		{"another path", "/api/v1/" + path, espoSigned("tester", "tester-secret", "GET", "Document/other"), 401},
		{"another method", "/api/v1/" + path, espoSigned("tester", "tester-secret", "POST", path), 401},
		{"another key's secret", "/api/v1/" + path, espoSigned("tester", "auditor-secret", "GET", path), 401},
		{"an unknown name", "/api/v1/" + path, espoSigned("nobody", "tester-secret", "GET", path), 401},
		{"garbage", "/api/v1/" + path, "tester:tester-secret", 401},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, "http://dragoman.test"+c.target, nil)
		req.Header.Set("X-Hmac-Authorization", c.header)
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || (c.want == 401 && resp.Header.Get("X-Status-Reason") == "") {
			t.Errorf("%s: status %d (%s), want %d", c.what, resp.StatusCode, resp.Header.Get("X-Status-Reason"), c.want)
		}
	}
	// Without a SignedAuthenticator, a signed request is refused, saying why.
	plain := fiber.New()
	NewGateway(testConfig(t), Options{Store: newMemStore(), Auth: testKeys}).Mount(plain)
	req, _ := http.NewRequest(http.MethodGet, "http://dragoman.test/api/v1/"+path, nil)
	req.Header.Set("X-Hmac-Authorization", espoSigned("tester", "tester-secret", "GET", path))
	resp, err := plain.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("X-Status-Reason"), "not enabled") {
		t.Errorf("signed request without a SignedAuthenticator: %d %q", resp.StatusCode, resp.Header.Get("X-Status-Reason"))
	}
}

// headerCatcher is a Forwarder that keeps the headers it was handed.
type headerCatcher struct{ got http.Header }

func (h *headerCatcher) Forward(_ context.Context, c *fiber.Ctx) error {
	h.got = http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) { h.got.Add(string(k), string(v)) })
	return c.SendStatus(http.StatusOK)
}

func TestSignatureNotForwarded(t *testing.T) {
	auth := signedAuth{testAuth: testKeys, secrets: map[string]string{"tester": "tester-secret"}}
	fwd := &headerCatcher{}
	app := fiber.New()
	NewGateway(testConfig(t), Options{Store: newMemStore(), Auth: auth, Forward: map[string]Forwarder{"espocrm": fwd}}).Mount(app)
	const path = "Account/unmodelled/path"
	req, _ := http.NewRequest(http.MethodGet, "http://dragoman.test/api/v1/"+path, nil)
	req.Header.Set("X-Hmac-Authorization", espoSigned("tester", "tester-secret", "GET", path))
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || fwd.got == nil {
		t.Fatalf("signed pass-through: status %d, forwarded %v", resp.StatusCode, fwd.got != nil)
	}
	if v := fwd.got.Get("X-Hmac-Authorization"); v != "" {
		t.Errorf("the upstream was handed the client's signature %q", v)
	}
}
