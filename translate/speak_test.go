package translate

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// The Speaker is the routes.yaml description read backwards. These tables
// pin both directions without HTTP: a Target rendered into each dialect's
// request (Render), and a canned answer of each dialect read back into
// Remote values (Parse).

// speaker returns the repository routes' speaker of a dialect.
func speaker(t *testing.T, dialect string) *Speaker {
	t.Helper()
	data, err := os.ReadFile("../routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := cfg.Speaker(dialect)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func rec(c, id string) upstream.RecordRef { return upstream.RecordRef{Collection: c, ID: id} }

func TestRender(t *testing.T) {
	ilFile := Remote{Attachment: upstream.Attachment{Name: "a.pdf", Type: "application/pdf", Size: 3}, NativeID: "/uploads/0123456789abcdef0-a.pdf"}
	tests := []struct {
		name, dialect string
		op            Op
		target        Target
		route         string // the route Find must choose
		method, path  string
		headers       map[string]string // a subset
		json          string            // the body, compared as JSON
		raw           *string           // the body, exactly
	}{
		{
			name: "infolobby upload", dialect: "infolobby", op: "create",
			target: Target{Record: rec("101", "42"), Field: "contracts", Name: "hello.txt", Type: "text/plain",
				Content: strings.NewReader("hello"), Size: 5},
			route: "files.create", method: "POST", path: "/api/table/101/record/42/files/create",
			headers: map[string]string{"Content-Type": "application/json"},
			json:    `{"field_id":"contracts","name":"hello.txt","type":"text/plain","data":"aGVsbG8="}`,
		},
		{
			name: "infolobby delete by path", dialect: "infolobby", op: "delete",
			target: Target{Record: rec("101", "42"), Field: "contracts", NativeID: ilFile.NativeID},
			route:  "files.delete", method: "POST", path: "/api/table/101/record/42/files/delete",
			json: `{"field_id":"contracts","path":"/uploads/0123456789abcdef0-a.pdf"}`,
		},
		{
			name: "infolobby download", dialect: "infolobby", op: "download",
			target: Target{Record: rec("101", "42"), Field: "contracts", NativeID: ilFile.NativeID},
			route:  "files.get", method: "POST", path: "/api/table/101/record/42/files/get",
			json: `{"field_id":"contracts","path":"/uploads/0123456789abcdef0-a.pdf"}`,
		},
		{
			name: "infolobby record get", dialect: "infolobby", op: "record.get",
			target: Target{Record: rec("101", "42")},
			route:  "record.get", method: "GET", path: "/api/table/101/record/42/get", raw: new(""),
		},
		{
			name: "infolobby record update", dialect: "infolobby", op: "record.update",
			target: Target{Record: rec("101", "42"), Data: json.RawMessage(`{"title":"x"}`),
				Fields: map[string][]Remote{"contracts": {ilFile}, "photos": {}}},
			route: "record.update", method: "POST", path: "/api/table/101/record/42/update",
			json: `{"data":{"title":"x","contracts":[{"name":"a.pdf","path":"/uploads/0123456789abcdef0-a.pdf",
				"type":"application/pdf","size":3,"host":"files.dragoman.local"}],"photos":[]}}`,
		},
		{
			name: "nimblex upload into a folder", dialect: "nimblex", op: "create",
			target: Target{Record: rec("Order", "7"), Field: "scans/2024", Name: "a b.txt", Type: "text/plain",
				Content: strings.NewReader("hello"), Size: -1},
			route: "attachments.content.upload", method: "POST",
			path:    "/jsonapi/records/Order/7/attachments/content/scans/2024/a%20b.txt",
			headers: map[string]string{"Content-Type": "text/plain"}, raw: new("hello"),
		},
		{
			name: "nimblex upload without folder", dialect: "nimblex", op: "create",
			target: Target{Record: rec("Order", "7"), Field: "attachments", Name: "x.bin", Content: strings.NewReader(""), Size: 0},
			route:  "attachments.content.upload", method: "POST", path: "/jsonapi/records/Order/7/attachments/content/x.bin", raw: new(""),
		},
		{
			name: "nimblex list", dialect: "nimblex", op: "list", target: Target{Record: rec("Order", "7")},
			route: "attachments.list", method: "GET", path: "/jsonapi/records/Order/7/attachments", raw: new(""),
		},
		{
			name: "nimblex download", dialect: "nimblex", op: "download",
			target: Target{Record: rec("Order", "7"), Field: "scans", Name: "a.pdf"},
			route:  "attachments.content.get", method: "GET", path: "/jsonapi/records/Order/7/attachments/content/scans/a.pdf", raw: new(""),
		},
		{
			name: "nimblex delete", dialect: "nimblex", op: "delete",
			target: Target{Record: rec("Order", "7"), Field: "attachments", Name: "a.pdf"},
			route:  "attachments.delete", method: "DELETE", path: "/jsonapi/records/Order/7/attachments/a.pdf", raw: new(""),
		},
		{
			name: "transactionlink link", dialect: "transactionlink", op: "link",
			target: Target{Record: rec("t1", "r1"), NativeID: "5f0c1e2d-0000-4000-8000-000000000000"},
			route:  "attachments.link", method: "GET", path: "/tables/t1/records/r1/attachments/5f0c1e2d-0000-4000-8000-000000000000", raw: new(""),
		},
		{
			name: "transactionlink delete", dialect: "transactionlink", op: "delete",
			target: Target{Record: rec("t1", "r1"), NativeID: "5f0c1e2d-0000-4000-8000-000000000000"},
			route:  "attachments.delete", method: "DELETE", path: "/tables/t1/records/r1/attachments/5f0c1e2d-0000-4000-8000-000000000000", raw: new(""),
		},
		{
			name: "espocrm upload linked", dialect: "espocrm", op: "create",
			target: Target{Record: rec("Document", "r1"), Field: "file", Name: "a.txt", Type: "text/plain",
				Content: strings.NewReader("hello"), Size: 5},
			route: "attachment.create", method: "POST", path: "/api/v1/Attachment",
			json: `{"name":"a.txt","type":"text/plain","field":"file","relatedType":"Document","relatedId":"r1",
				"file":"data:text/plain;base64,aGVsbG8="}`,
		},
		{
			name: "espocrm upload unlinked", dialect: "espocrm", op: "create",
			target: Target{Record: rec("Document", ""), Field: "file", Name: "a.txt", Type: "text/plain",
				Content: strings.NewReader("hi"), Size: 2},
			route: "attachment.create", method: "POST", path: "/api/v1/Attachment",
			json: `{"name":"a.txt","type":"text/plain","field":"file","relatedType":"Document","file":"data:text/plain;base64,aGk="}`,
		},
		{
			name: "espocrm placeholder for chunks", dialect: "espocrm", op: "create",
			target: Target{Record: rec("Document", ""), Field: "file", Name: "big.iso", ExpectedSize: 1 << 30},
			route:  "attachment.create", method: "POST", path: "/api/v1/Attachment",
			json: `{"name":"big.iso","field":"file","relatedType":"Document","size":1073741824}`,
		},
		{
			name: "espocrm record update, not record create", dialect: "espocrm", op: "record.update",
			target: Target{Record: rec("Document", "r1"), Data: json.RawMessage(`{"name":"Doc"}`),
				Fields: map[string][]Remote{"attachments": {{NativeID: "0123456789abcdef0"}, {NativeID: "fedcba98765432100"}}}},
			route: "record.update", method: "PUT", path: "/api/v1/Document/r1",
			json: `{"name":"Doc","attachmentsIds":["0123456789abcdef0","fedcba98765432100"]}`,
		},
		{
			name: "espocrm stat", dialect: "espocrm", op: "stat", target: Target{NativeID: "0123456789abcdef0"},
			route: "attachment.read", method: "GET", path: "/api/v1/Attachment/0123456789abcdef0", raw: new(""),
		},
		{
			name: "espocrm download", dialect: "espocrm", op: "download", target: Target{NativeID: "0123456789abcdef0"},
			route: "attachment.file", method: "GET", path: "/api/v1/Attachment/file/0123456789abcdef0", raw: new(""),
		},
		{
			name: "mediapocket placeholder titled by its name", dialect: "mediapocket", op: "create",
			target: Target{Record: rec("assets", "A1"), Name: "scan.pdf", Description: "d", Tags: []string{"x"}},
			route:  "assets.attachments.create", method: "POST", path: "/api/v2/assets/A1/attachments",
			json: `{"title":"scan.pdf","description":"d","tags":["x"]}`,
		},
		{
			name: "mediapocket project placeholder", dialect: "mediapocket", op: "create",
			target: Target{Record: rec("projects", "P1"), Name: "n", Title: "A title", ExternalID: "e1"},
			route:  "projects.attachments.create", method: "POST", path: "/api/v2/projects/P1/attachments",
			json: `{"title":"A title","external_id":"e1"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, ok := speaker(t, tt.dialect).Find(tt.op, &tt.target)
			if !ok {
				t.Fatalf("no %s route for %+v", tt.op, tt.target)
			}
			if rt.Name() != tt.dialect+"."+tt.route {
				t.Fatalf("chose %s, want %s.%s", rt.Name(), tt.dialect, tt.route)
			}
			req, err := rt.Render(&tt.target)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if req.Method != tt.method || req.Path != tt.path {
				t.Fatalf("%s %s, want %s %s", req.Method, req.Path, tt.method, tt.path)
			}
			for k, v := range tt.headers {
				if got := header(req, k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			body := readBody(t, req)
			switch {
			case tt.json != "":
				sameJSONText(t, body, tt.json)
			case tt.raw != nil && body != *tt.raw:
				t.Fatalf("body %q, want %q", body, *tt.raw)
			}
		})
	}
}

func header(req *Request, name string) string {
	for _, h := range req.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// readBody reads a rendered body, checking it is as long as announced.
func readBody(t *testing.T, req *Request) string {
	t.Helper()
	if req.Body == nil {
		return ""
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if req.BodyLen >= 0 && int64(len(b)) != req.BodyLen {
		t.Fatalf("body is %d bytes, announced %d", len(b), req.BodyLen)
	}
	return string(b)
}

func sameJSONText(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body %s\nwant %s", got, want)
	}
}

// TestRenderMultipart checks TransactionLink's upload: the file part, and
// the tags after it, rendered from the target as it is once the bytes are
// read (a late value changed while they streamed is sent).
func TestRenderMultipart(t *testing.T) {
	for _, size := range []int64{-1, 5} {
		target := Target{Record: rec("t1", "r1"), Name: `we"ird.txt`, Type: "text/plain",
			Tags: []string{"early"}, Content: strings.NewReader("hello"), Size: size}
		rt, ok := speaker(t, "transactionlink").Find("create", &target)
		if !ok {
			t.Fatal("no create route")
		}
		req, err := rt.Render(&target)
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != "POST" || req.Path != "/tables/t1/records/r1/attachments" {
			t.Fatalf("%s %s", req.Method, req.Path)
		}
		if size < 0 {
			target.Tags = []string{"late1", "late2"} // before the tail is read
		}
		body := readBody(t, req)
		_, params, err := mime.ParseMediaType(header(req, "Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("size %d: %v\n%q", size, err, body)
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, p.FormName()+"|"+p.FileName()+"|"+p.Header.Get("Content-Type")+"|"+string(b))
		}
		want := []string{`file|we"ird.txt|text/plain|hello`, "tags|||early"}
		if size < 0 {
			want = []string{`file|we"ird.txt|text/plain|hello`, "tags|||late1", "tags|||late2"}
		}
		if !reflect.DeepEqual(parts, want) {
			t.Fatalf("size %d: parts %q, want %q", size, parts, want)
		}
	}
}

// TestFind checks which targets a dialect can render at all.
func TestFind(t *testing.T) {
	tests := []struct {
		dialect string
		op      Op
		target  Target
		ok      bool
	}{
		{"nimblex", "create", Target{Record: rec("c", "r"), Name: "n"}, false},                                          // a raw upload is its content
		{"transactionlink", "create", Target{Record: rec("c", "r"), Name: "n"}, false},                                  // so is a multipart one
		{"infolobby", "create", Target{Record: rec("c", "r"), Field: "f", Name: "n"}, false},                            // data is required
		{"espocrm", "create", Target{Record: rec("c", ""), Name: "n"}, false},                                           // a file, or a size for chunks
		{"espocrm", "create", Target{Record: rec("", ""), Name: "n", Content: strings.NewReader("")}, false},            // relatedType is required
		{"mediapocket", "create", Target{Record: rec("assets", "a"), Name: "n", Content: strings.NewReader("")}, false}, // no bytes at all
		{"mediapocket", "create", Target{Record: rec("tables", "a"), Name: "n"}, false},                                 // only assets and projects
		{"mediapocket", "list", Target{Record: rec("projects", "p")}, true},
		{"nimblex", "create", Target{Record: rec("c", ""), Name: "n", Content: strings.NewReader("")}, false}, // the record is in the path
		{"espocrm", "record.update", Target{Record: rec("Document", "")}, false},                              // never record.create
		{"transactionlink", "delete", Target{Record: rec("c", "r")}, false},                                   // needs the id
	}
	for _, tt := range tests {
		if _, ok := speaker(t, tt.dialect).Find(tt.op, &tt.target); ok != tt.ok {
			t.Errorf("%s %s %+v: found %v, want %v", tt.dialect, tt.op, tt.target, ok, tt.ok)
		}
	}
}

func TestParse(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)
	att := func(a upstream.Attachment) upstream.Attachment {
		a.HasContent = true
		return a
	}
	tests := []struct {
		name, dialect string
		op            Op
		target        Target
		body          string
		want          Parsed
	}{
		{
			name: "infolobby upload answer lists the field", dialect: "infolobby", op: "create",
			target: Target{Record: rec("101", "42"), Field: "contracts", Name: "a.pdf", Content: strings.NewReader("")},
			body: `{"field_id":"contracts","files":[{"name":"a.pdf","path":"/uploads/0123456789abcdef0-a.pdf",
				"type":"application/pdf","size":3,"host":"files.dragoman.local"}]}`,
			want: Parsed{
				One: &Remote{Attachment: att(upstream.Attachment{Record: rec("101", "42"), Field: "contracts"})},
				Files: []Remote{{NativeID: "/uploads/0123456789abcdef0-a.pdf", Attachment: att(upstream.Attachment{
					Record: rec("101", "42"), Field: "contracts", Name: "a.pdf", Type: "application/pdf", Size: 3})}},
			},
		},
		{
			name: "infolobby record: file fields and data", dialect: "infolobby", op: "record.get",
			target: Target{Record: rec("101", "42")},
			body: `{"id":"42","table_id":"101","data":{"title":"x","n":[1],"contracts":[{"name":"a.pdf","path":"/uploads/p1-a.pdf",
				"type":"application/pdf","size":3,"host":"h"}],"photos":[{"name":"b.png","path":"/uploads/p2-b.png","type":"image/png","size":4,"host":"h"}]}}`,
			want: Parsed{
				One: &Remote{Attachment: att(upstream.Attachment{Record: rec("101", "42"), Field: "attachments"})},
				Files: []Remote{
					{NativeID: "/uploads/p1-a.pdf", Attachment: att(upstream.Attachment{Record: rec("101", "42"), Field: "contracts", Name: "a.pdf", Type: "application/pdf", Size: 3})},
					{NativeID: "/uploads/p2-b.png", Attachment: att(upstream.Attachment{Record: rec("101", "42"), Field: "photos", Name: "b.png", Type: "image/png", Size: 4})},
				},
				Data: json.RawMessage(`{"title":"x","n":[1]}`),
			},
		},
		{
			name: "infolobby download carries base64", dialect: "infolobby", op: "download",
			target: Target{Record: rec("101", "42"), Field: "contracts", NativeID: "/uploads/p1-a.pdf"},
			body:   `{"name":"a.pdf","type":"application/pdf","size":5,"data":"aGVsbG8="}`,
			want: Parsed{
				One:     &Remote{Attachment: att(upstream.Attachment{Record: rec("101", "42"), Field: "contracts", Name: "a.pdf", Type: "application/pdf", Size: 5})},
				Content: []byte("hello"),
			},
		},
		{
			name: "nimblex list: folder and name from the id", dialect: "nimblex", op: "list",
			target: Target{Record: rec("Order", "7")},
			body: `{"data":[{"type":"attachment","id":"Order/7/attachments/scans/2024/a b.txt","attributes":{"mimetype":"text/plain","size":5},
				"links":{"content":"http://h/jsonapi/records/Order/7/attachments/content/scans/2024/a%20b.txt"}},
				{"type":"attachment","id":"Order/7/attachments/x.bin","attributes":{"mimetype":"application/octet-stream","size":0},"links":{"content":"u"}}]}`,
			want: Parsed{Files: []Remote{
				{Attachment: att(upstream.Attachment{Record: rec("Order", "7"), Field: "scans/2024", Name: "a b.txt", Type: "text/plain", Size: 5})},
				{Attachment: att(upstream.Attachment{Record: rec("Order", "7"), Field: "attachments", Name: "x.bin", Type: "application/octet-stream"})},
			}},
		},
		{
			name: "transactionlink list is a bare array", dialect: "transactionlink", op: "list",
			target: Target{Record: rec("t1", "r1")},
			body: `[{"id":"5f0c1e2d-0000-4000-8000-000000000000","recordId":"r1","name":"a.txt","type":"text/plain","size":5,
				"createdDateTime":"2024-01-02T03:04:05.678Z","tags":["x","y"]}]`,
			want: Parsed{Files: []Remote{{NativeID: "5f0c1e2d-0000-4000-8000-000000000000", Attachment: att(upstream.Attachment{
				Record: rec("t1", "r1"), Field: "attachments", Name: "a.txt", Type: "text/plain", Size: 5,
				Created: created, Tags: []string{"x", "y"}})}}},
		},
		{
			name: "transactionlink upload answer: no field even if one was asked", dialect: "transactionlink", op: "create",
			target: Target{Record: rec("t1", "r1"), Field: "attachments", Name: "a.txt", Content: strings.NewReader("")},
			body:   `{"id":"5f0c1e2d-0000-4000-8000-000000000000","recordId":"r1","name":"a.txt","type":"text/plain","size":5,"createdDateTime":"2024-01-02T03:04:05.678Z","tags":[]}`,
			want: Parsed{One: &Remote{NativeID: "5f0c1e2d-0000-4000-8000-000000000000", Attachment: att(upstream.Attachment{
				Record: rec("t1", "r1"), Field: "attachments", Name: "a.txt", Type: "text/plain", Size: 5, Created: created})}},
		},
		{
			name: "transactionlink link", dialect: "transactionlink", op: "link",
			target: Target{Record: rec("t1", "r1"), NativeID: "5f0c1e2d-0000-4000-8000-000000000000"},
			body:   `{"link":"http://h:1/_dragoman/files/tok"}`,
			want:   Parsed{Link: "http://h:1/_dragoman/files/tok"},
		},
		{
			name: "espocrm attachment", dialect: "espocrm", op: "stat", target: Target{NativeID: "0123456789abcdef0"},
			body: `{"id":"0123456789abcdef0","name":"a.txt","type":"text/plain","size":5,"role":"Attachment","field":"file",
				"parentType":"Document","parentId":"r1","relatedType":"Document","relatedId":"r1","sourceId":null,"storage":null,
				"isBeingUploaded":false,"createdAt":"2024-01-02 03:04:05","createdById":"gateway"}`,
			want: Parsed{One: &Remote{NativeID: "0123456789abcdef0", Attachment: att(upstream.Attachment{
				Record: rec("Document", "r1"), Field: "file", Name: "a.txt", Type: "text/plain", Size: 5,
				Created: created.Truncate(time.Second), Owner: "gateway"})}},
		},
		{
			name: "espocrm unlinked attachment", dialect: "espocrm", op: "stat", target: Target{NativeID: "0123456789abcdef0"},
			body: `{"id":"0123456789abcdef0","name":"a.txt","type":"text/plain","size":5,"field":"file",
				"parentType":"Document","parentId":null,"relatedType":"Document","relatedId":null,"createdAt":null,"createdById":"g"}`,
			want: Parsed{One: &Remote{NativeID: "0123456789abcdef0", Attachment: att(upstream.Attachment{
				Record: rec("Document", ""), Field: "file", Name: "a.txt", Type: "text/plain", Size: 5, Owner: "g"})}},
		},
		{
			name: "espocrm record: links name files, the rest is data", dialect: "espocrm", op: "record.get",
			target: Target{Record: rec("Document", "r1")},
			body: `{"name":"Doc","assignedUserId":"u1","filesIds":["a1","b2"],"filesNames":{"a1":"x.txt","b2":"y.txt"},
				"filesId":"b2","filesName":"y.txt","id":"r1"}`,
			want: Parsed{
				One: &Remote{Attachment: att(upstream.Attachment{Record: rec("Document", "r1"), Field: "attachments"})},
				Files: []Remote{
					{NativeID: "a1", Partial: true, Attachment: att(upstream.Attachment{Record: rec("Document", "r1"), Field: "files", Name: "x.txt"})},
					{NativeID: "b2", Partial: true, Attachment: att(upstream.Attachment{Record: rec("Document", "r1"), Field: "files", Name: "y.txt"})},
				},
				Data: json.RawMessage(`{"name":"Doc","assignedUserId":"u1"}`),
			},
		},
		{
			name: "mediapocket placeholder has no content", dialect: "mediapocket", op: "list",
			target: Target{Record: rec("assets", "A1")},
			body: `{"attachments":[{"id":"AAAAAAAAAAAAAAAAAAAA","external_id":null,"parent_id":"A1","project_id":null,"owner":"k",
				"title":"T","description":null,"category":null,"tags":["t"],"ai_tags":[],"status":"open","media_type":"placeholder",
				"original_filename":"","drop_folder_id":null,"md5_sum":null,"created_date":"2024-01-02T03:04:05.678Z",
				"modification_date":"2024-01-02T03:04:05.678Z","deleted":null}]}`,
			want: Parsed{Files: []Remote{{NativeID: "AAAAAAAAAAAAAAAAAAAA", Attachment: upstream.Attachment{
				Record: rec("assets", "A1"), Field: "attachments", Owner: "k", Title: "T", Tags: []string{"t"}, Status: "open",
				Created: created, Modified: created}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, ok := speaker(t, tt.dialect).Find(tt.op, &tt.target)
			if !ok {
				t.Fatalf("no %s route", tt.op)
			}
			p, err := rt.Parse([]byte(tt.body), &tt.target)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.want.Data != nil {
				sameJSONText(t, string(p.Data), string(tt.want.Data))
				p.Data, tt.want.Data = nil, nil
			}
			if !reflect.DeepEqual(*p, tt.want) {
				t.Fatalf("parsed\n%s\nwant\n%s", dump(*p), dump(tt.want))
			}
		})
	}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

func TestParseMalformed(t *testing.T) {
	target := Target{Record: rec("t1", "r1")}
	rt, _ := speaker(t, "transactionlink").Find("list", &target)
	_, err := rt.Parse([]byte(`[{"id":`), &target)
	if upstream.KindOf(err) != upstream.KindBadGateway {
		t.Fatalf("malformed answer: %v, want bad_gateway", err)
	}
}

func TestParseError(t *testing.T) {
	tlErr := func(kind string) string {
		return `{"fingerprint":"f","errors":[{"code":"` + kind + `","message":"m"}]}`
	}
	tests := []struct {
		name, dialect string
		op            Op
		target        Target
		status        int
		header        map[string]string
		body          string
		want          upstream.Kind
	}{
		{"transactionlink: the kind in the body", "transactionlink", "list", Target{Record: rec("t", "r")}, 404, nil, tlErr("NOT_FOUND"), upstream.KindNotFound},
		{"transactionlink: a kind the status map would not tell", "transactionlink", "list", Target{Record: rec("t", "r")}, 400, nil, tlErr("MISSING"), upstream.KindMissing},
		{"transactionlink: upstream internal is our bad gateway", "transactionlink", "list", Target{Record: rec("t", "r")}, 500, nil, tlErr("INTERNAL"), upstream.KindBadGateway},
		{"infolobby: the route's message", "infolobby", "delete", Target{Record: rec("t", "r"), Field: "f", NativeID: "p"}, 400, nil, `{"error":"Attachment not found","status":400}`, upstream.KindNotFound},
		{"infolobby: any other 400", "infolobby", "delete", Target{Record: rec("t", "r"), Field: "f", NativeID: "p"}, 400, nil, `{"error":"field must not be empty","status":400}`, upstream.KindInvalid},
		{"infolobby: too large", "infolobby", "create", Target{Record: rec("t", "r"), Field: "f", Name: "n", Content: strings.NewReader("")}, 413, nil, `{"error":"big","status":413}`, upstream.KindTooLarge},
		{"espocrm: 403 is forbidden before too large", "espocrm", "stat", Target{NativeID: "x"}, 403, map[string]string{"X-Status-Reason": "no"}, "", upstream.KindForbidden},
		{"espocrm: 500 is the upstream failing", "espocrm", "stat", Target{NativeID: "x"}, 500, nil, "", upstream.KindBadGateway},
		{"espocrm: 503 is unavailable", "espocrm", "stat", Target{NativeID: "x"}, 503, nil, "", upstream.KindUnavailable},
		{"nimblex: bare 404", "nimblex", "list", Target{Record: rec("c", "r")}, 404, nil, "", upstream.KindNotFound},
		{"nimblex: our credential refused", "nimblex", "list", Target{Record: rec("c", "r")}, 401, nil, "", upstream.KindBadGateway},
		{"nimblex: not implemented", "nimblex", "list", Target{Record: rec("c", "r")}, 501, nil, "", upstream.KindUnsupported},
		{"nimblex: gateway timeout", "nimblex", "list", Target{Record: rec("c", "r")}, 504, nil, "", upstream.KindTimeout},
		{"nimblex: a status it never sends", "nimblex", "list", Target{Record: rec("c", "r")}, 418, nil, "", upstream.KindBadGateway},
		{"mediapocket: 422 is missing", "mediapocket", "list", Target{Record: rec("assets", "a")}, 422, nil, `{"error":"Missing parameter title"}`, upstream.KindMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, ok := speaker(t, tt.dialect).Find(tt.op, &tt.target)
			if !ok {
				t.Fatalf("no %s route", tt.op)
			}
			err := rt.ParseError(tt.status, func(k string) string { return tt.header[k] }, []byte(tt.body))
			if got := upstream.KindOf(err); got != tt.want {
				t.Fatalf("kind %s (%v), want %s", got, err, tt.want)
			}
		})
	}
}
