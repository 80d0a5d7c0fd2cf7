package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// fuzzRoutes are the JSON routes FuzzJSONRequestDecode sends every body to.
var fuzzRoutes = []string{
	"/api/table/t1/record/r1/files/create",
	"/api/table/t1/record/r1/files/get",
	"/api/table/t1/record/r1/files/delete",
	"/api/table/t1/record/r1/update",
}

// fuzzStatuses are the answers a JSON request may get; 500 is a failure.
var fuzzStatuses = map[int]bool{200: true, 400: true, 401: true, 403: true, 413: true, 429: true}

// swappableStore lets one gateway serve a fresh store for every input.
type swappableStore struct{ upstream.Store }

// seedFuzzStore makes the state every fuzz input starts from: a.pdf
// (/uploads/0000000000000001c-a.pdf) in contracts and p.txt
// (/uploads/0000000000000002c-p.txt) in photos of t1/r1.
func seedFuzzStore(tb testing.TB) upstream.Store {
	s := newMemStore()
	for _, f := range [][3]string{{"contracts", "a.pdf", "%PDF-1.4\n"}, {"photos", "p.txt", "hello"}} {
		na := upstream.NewAttachment{Record: upstream.RecordRef{Collection: "t1", ID: "r1"}, Field: f[0], Name: f[1]}
		if _, err := s.Create(context.Background(), na, strings.NewReader(f[2])); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

func FuzzJSONRequestDecode(f *testing.F) {
	for _, s := range []string{
		`{"field_id":"contracts","name":"b.txt","data":"aGVsbG8="}`,
		`{"field_id":"contracts","name":"b.txt","type":"text/csv","data":"aGVsbG8"}`,
		`{"field_id":"contracts","path":"/uploads/0000000000000001c-a.pdf"}`,
		`{"field_id":"photos","path":"/uploads/0000000000000002c-p.txt"}`,
		`{"field_id":"contracts","path":"/uploads/0000000000000001d-a.pdf"}`,
		`{"data":{"title":"Lease","contracts":[{"name":"a.pdf","path":"/uploads/0000000000000001c-a.pdf","type":"application/pdf","size":9,"host":"h"}]}}`,
		`{"data":{"contracts":[],"tags":[],"":null,"a.b":{"c":[1,2]},"#":"x","<&>":"\u2028"}}`,
		`{"data":{":x":1}}`,
		`{"field_id":"../etc","name":"..","data":"!!"}`,
		`{"field_id":"a\u0000b","name":"x\\y","data":12,"path":true}`,
		`{"field_id":["contracts"],"name":{"a":1},"data":null}`,
		`{"data":"not an object"}`,
		`[1,2,3]`,
		`{"field_id":"contracts"`,
		``,
		`{"field_id":"c","name":"n","data":"` + strings.Repeat("QUFB", 300) + `"}`,
		`{"a":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`,
	} {
		f.Add([]byte(s))
	}
	cfg := testConfig(f)
	store := &swappableStore{}
	var panics panicCatcher
	app := newTestApp(cfg, store, panics.middleware())
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range fuzzRoutes {
			store.Store = seedFuzzStore(t)
			req, err := http.NewRequest(http.MethodPost, "http://dragoman.test"+path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer tester-secret")
			req.Header.Set("Content-Type", "application/json")
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("POST %s: reading the answer: %v", path, err)
			}
			if p := panics.take(); p != "" {
				t.Fatalf("POST %s %q: the gateway panicked:\n%s", path, body, p)
			}
			checkFuzzAnswer(t, path, body, resp, got)
		}
	})
}

// checkFuzzAnswer holds one answer to the dialect's promises.
func checkFuzzAnswer(t *testing.T, path string, body []byte, resp *http.Response, got []byte) {
	t.Helper()
	st := resp.StatusCode
	if !fuzzStatuses[st] {
		t.Fatalf("POST %s %q: status %d: %s", path, body, st, got)
	}
	if !gjson.ValidBytes(got) {
		t.Fatalf("POST %s %q: status %d, body is not JSON: %s", path, body, st, got)
	}
	if st == 200 {
		if strings.HasSuffix(path, "/update") {
			checkDataKept(t, body, got)
		}
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("POST %s %q: status %d with Content-Type %q", path, body, st, ct)
	}
	e := gjson.ParseBytes(got)
	if e.Get("error").Type != gjson.String || e.Get("status").Int() != int64(st) || len(e.Map()) != 2 {
		t.Fatalf("POST %s %q: status %d, body not in the InfoLobby error shape: %s", path, body, st, got)
	}
}

// checkDataKept checks that a successful record update kept every data
// value that is not a list (lists may be file fields): same key, same JSON.
func checkDataKept(t *testing.T, body, got []byte) {
	t.Helper()
	if !utf8.Valid(body) {
		return // JSON is UTF-8; what a store makes of other bytes is its own
	}
	sent := map[string]any{}
	gjson.GetBytes(body, "data").ForEach(func(k, v gjson.Result) bool {
		switch key := k.String(); {
		case v.IsArray() || key == "contracts" || key == "photos":
			delete(sent, key) // the last of duplicate keys wins
		default:
			sent[key] = jsonValue(v.Raw)
		}
		return true
	})
	have := map[string]any{}
	gjson.GetBytes(got, "data").ForEach(func(k, v gjson.Result) bool {
		have[k.String()] = jsonValue(v.Raw)
		return true
	})
	for k, v := range sent {
		if hv, ok := have[k]; !ok || !reflect.DeepEqual(hv, v) {
			t.Fatalf("update %s: data key %q was %s, the answer has %v (present: %v): %s", body, k, jsonText(v), jsonText(hv), ok, got)
		}
	}
}

func jsonValue(raw string) any {
	var v any
	_ = json.Unmarshal([]byte(raw), &v)
	return v
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestEscapePathKey checks that any key written through escapePathKey
// lands in the document as that key.
func TestEscapePathKey(t *testing.T) {
	for _, k := range []string{"plain", "a.b", "a*b", "a?b", "a|b", "#", "@this", "!x", `a\b`, "-1", "0", "", "a:b", "..", ":x", ":"} {
		t.Run(k, func(t *testing.T) {
			doc, err := sjson.SetRawBytes([]byte("{}"), escapePathKey(k), []byte("1"))
			if err != nil {
				t.Fatalf("sjson: %v", err)
			}
			var keys []string
			gjson.ParseBytes(doc).ForEach(func(kk, _ gjson.Result) bool { keys = append(keys, kk.String()); return true })
			if len(keys) != 1 || keys[0] != k {
				t.Fatalf("key %q is written as %s", k, doc)
			}
		})
	}
}
