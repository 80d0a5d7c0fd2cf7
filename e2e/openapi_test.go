package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// exchange is one request as sent and its answer as received.
type exchange struct {
	req  *http.Request
	body []byte // the request body, kept to replay it
	// bad marks a request made to be refused: only its answer is held
	// to the document.
	bad  bool
	resp *http.Response
	got  []byte
}

// recorder is a client that keeps every exchange it makes.
type recorder struct {
	t     *testing.T
	log   []exchange
	hdrs  hdr
	gw    *gateway
	stats map[int]int
}

// bad makes a request that is meant to be refused.
func (r *recorder) bad(method, path string, h hdr, contentType string, body []byte) {
	r.t.Helper()
	r.do(method, path, h, contentType, body)
	r.log[len(r.log)-1].bad = true
}

func (r *recorder) do(method, path string, h hdr, contentType string, body []byte) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.gw.url(path), bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if body == nil {
		req, _ = http.NewRequest(method, r.gw.url(path), nil)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.t.Fatal(err)
	}
	r.log = append(r.log, exchange{req: req, body: body, resp: resp, got: got})
	return resp.StatusCode, got
}

// TestOpenAPIDocumentsHoldTheTraffic fetches each dialect's document from
// --admin, validates it as OpenAPI 3.1, then replays real requests and
// answers of that dialect against it.
func TestOpenAPIDocumentsHoldTheTraffic(t *testing.T) {
	t.Parallel()
	admin := freeAddr(t)
	gw := startGateway(t, "--admin", admin)
	key := gw.key(t, "openapi")
	auth := map[string]hdr{
		"nimblex": bearer(key), "infolobby": bearer(key), "transactionlink": {"Authorization": key},
		"espocrm": {"X-Api-Key": key}, "mediapocket": {"X-API-KEY": key},
	}
	traffic := map[string]func(r *recorder){
		"nimblex": func(r *recorder) {
			r.do("POST", "/jsonapi/records/Case/O1/attachments/content/a.txt", r.hdrs, "text/plain", []byte("hello"))
			r.do("GET", "/jsonapi/records/Case/O1/attachments", r.hdrs, "", nil)
			r.do("GET", "/jsonapi/records/Case/O1/attachments/content/a.txt", r.hdrs, "", nil)
			r.do("GET", "/jsonapi/records/Case/O1/attachments/content/none.txt", r.hdrs, "", nil)
			r.do("DELETE", "/jsonapi/records/Case/O1/attachments/a.txt", r.hdrs, "", nil)
			r.bad("GET", "/jsonapi/records/Case/O1/attachments", nil, "", nil)
		},
		"infolobby": func(r *recorder) {
			_, body := r.do("POST", "/api/table/T1/record/R1/files/create", r.hdrs, "application/json",
				[]byte(`{"field_id":"docs","name":"a.txt","data":"aGVsbG8="}`))
			var created struct {
				Files []struct {
					Path string `json:"path"`
				} `json:"files"`
			}
			json.Unmarshal(body, &created)
			if len(created.Files) == 0 {
				r.t.Fatalf("infolobby create: %s", body)
			}
			p, _ := json.Marshal(created.Files[0].Path)
			r.do("POST", "/api/table/T1/record/R1/files/get", r.hdrs, "application/json", []byte(`{"field_id":"docs","path":`+string(p)+`}`))
			r.do("GET", "/api/table/T1/record/R1/get", r.hdrs, "", nil)
			r.bad("POST", "/api/table/T1/record/R1/files/create", r.hdrs, "application/json", []byte(`{"field_id":"docs"}`))
		},
		"transactionlink": func(r *recorder) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			fw, _ := mw.CreateFormFile("file", "a.txt")
			fw.Write([]byte("hello"))
			mw.WriteField("tags", "x")
			mw.Close()
			_, body := r.do("POST", "/tables/T/records/R/attachments", r.hdrs, mw.FormDataContentType(), b.Bytes())
			var a struct {
				ID string `json:"id"`
			}
			json.Unmarshal(body, &a)
			r.do("GET", "/tables/T/records/R/attachments", r.hdrs, "", nil)
			r.do("GET", "/tables/T/records/R/attachments/"+a.ID, r.hdrs, "", nil)
			r.do("DELETE", "/tables/T/records/R/attachments/"+a.ID, r.hdrs, "", nil)
			r.do("GET", "/tables/T/records/R/attachments/"+a.ID, r.hdrs, "", nil)
		},
		"espocrm": func(r *recorder) {
			_, body := r.do("POST", "/api/v1/Attachment", r.hdrs, "application/json",
				[]byte(`{"name":"a.txt","type":"text/plain","role":"Attachment","relatedType":"Note","field":"attachments","file":"data:text/plain;base64,aGVsbG8="}`))
			var a struct {
				ID string `json:"id"`
			}
			json.Unmarshal(body, &a)
			r.do("GET", "/api/v1/Attachment/file/"+a.ID, r.hdrs, "", nil)
			r.do("GET", "/api/v1/Attachment/file/00000000000000000", r.hdrs, "", nil)
		},
		"mediapocket": func(r *recorder) {
			// The asset's record comes into being through another dialect.
			do(t, "POST", gw.url("/jsonapi/records/assets/A1/attachments/content/seed.txt"), bearer(key), []byte("seed"))
			r.do("GET", "/api/v2/assets/A1/attachments", r.hdrs, "", nil)
			r.do("POST", "/api/v2/assets/A1/attachments", r.hdrs, "application/json", []byte(`{"title":"Contract","description":"d","category":"legal"}`))
			r.do("GET", "/api/v2/assets/nope/attachments", r.hdrs, "", nil)
		},
	}
	for dialect, run := range traffic {
		t.Run(dialect, func(t *testing.T) {
			st, h, doc := do(t, http.MethodGet, "http://"+admin+"/openapi/"+dialect+".json", nil, nil)
			if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Fatalf("GET /openapi/%s.json: %d %s", dialect, st, snippet(doc))
			}
			document, err := libopenapi.NewDocument(doc)
			if err != nil {
				t.Fatal(err)
			}
			v, errs := validator.NewValidator(document)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if ok, verrs := v.ValidateDocument(); !ok {
				for _, e := range verrs {
					t.Errorf("document: %s: %s", e.Message, e.Reason)
				}
			}
			r := &recorder{t: t, gw: gw, hdrs: auth[dialect]}
			run(r)
			for _, ex := range r.log {
				ex.req.Body = io.NopCloser(bytes.NewReader(ex.body))
				if ex.body == nil {
					ex.req.Body = nil
				}
				ex.resp.Body = io.NopCloser(bytes.NewReader(ex.got))
				ex.resp.Request = ex.req
				check := v.ValidateHttpRequestResponse
				if ex.bad {
					check = func(req *http.Request, resp *http.Response) (bool, []*verrors.ValidationError) {
						return v.ValidateHttpResponse(req, resp)
					}
				}
				if ok, verrs := check(ex.req, ex.resp); !ok {
					for _, e := range verrs {
						t.Errorf("%s %s -> %d %s: %s: %s", ex.req.Method, ex.req.URL.Path, ex.resp.StatusCode, snippet(ex.got), e.Message, e.Reason)
						for _, se := range e.SchemaValidationErrors {
							t.Errorf("    %s: %s", se.KeywordLocation, se.Reason)
						}
					}
				}
			}
			if len(r.log) < 3 {
				t.Errorf("only %d exchanges replayed", len(r.log))
			}
		})
	}
}
