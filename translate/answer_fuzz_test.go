package translate

import (
	"os"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// answerOps are the operations whose answers the remote store reads.
var answerOps = []Op{OpList, OpRecordGet, OpStat, OpCreate, OpLink, OpDownload, OpRecordUpdate, OpDelete}

// FuzzUpstreamAnswer feeds arbitrary bytes to every route's answer reader
// and error reader, as a broken or hostile upstream might send them: no
// panic, malformed JSON is bad_gateway, every error has a kind, and every
// file read back is placed in a record and a field.
func FuzzUpstreamAnswer(f *testing.F) {
	data, err := os.ReadFile("../routes.yaml")
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := Load(data)
	if err != nil {
		f.Fatal(err)
	}
	dialects := cfg.Dialects()
	for _, s := range []string{
		`{"field_id":"contracts","files":[{"name":"a.pdf","path":"/uploads/0123456789abcdef0-a.pdf","type":"application/pdf","size":5}]}`,
		`{"id":"42","table_id":"101","data":{"title":"x","n":[1],"contracts":[{"name":"a.pdf","path":"/uploads/p1-a.pdf","size":1}]}}`,
		`{"name":"a.pdf","type":"application/pdf","size":5,"data":"aGVsbG8="}`,
		`{"data":[{"type":"attachment","id":"Order/7/attachments/scans/2024/a b.txt","attributes":{"mimetype":"text/plain","size":5},"links":{"content":"x"}}]}`,
		`[{"id":"5f0c1e2d-0000-4000-8000-000000000000","recordId":"r1","name":"a.txt","type":"text/plain","size":5,"createdDateTime":"2024-01-02T03:04:05.678Z","tags":["x"]}]`,
		`{"link":"http://h:1/_dragoman/files/tok"}`,
		`{"id":"0123456789abcdef0","name":"a.txt","type":"text/plain","size":5,"role":"Attachment","field":"file","createdAt":"2024-01-02 03:04:05"}`,
		`{"name":"Doc","filesIds":["a1","b2"],"filesNames":{"a1":"x.txt","b2":"y.txt"},"fileId":"c3","fileName":"z.txt"}`,
		`{"attachments":[{"id":"AAAAAAAAAAAAAAAAAAAA","external_id":null,"parent_id":"A1","title":"t","media_type":"placeholder","original_filename":""}]}`,
		`{"error":"nope","message":"nope","errors":[{"detail":"x"}]}`,
		`{"data":[{"id":"a/b/attachments/../x","attributes":null},{"id":7},null,[]]}`,
		`{"a":1,"a":2,"files":{"x":[{"name":1}]},"\u0000":"\ud800"}`,
		``, `null`, `[]`, `true`, `"x"`, `{`,
	} {
		for i := range dialects {
			for j := range answerOps {
				f.Add(uint8(i), uint8(j), 200, []byte(s))
			}
		}
	}
	f.Fuzz(func(t *testing.T, dialect, op uint8, status int, body []byte) {
		sp, err := cfg.Speaker(dialects[int(dialect)%len(dialects)])
		if err != nil {
			t.Fatal(err)
		}
		target := &Target{Record: upstream.RecordRef{Collection: "c", ID: "r"}, Field: "files", Name: "a.txt",
			NativeID: "n1", Size: -1}
		rt, ok := sp.Find(answerOps[int(op)%len(answerOps)], target)
		if !ok {
			return
		}
		p, err := rt.Parse(body, target)
		switch {
		case err != nil && upstream.KindOf(err) == "":
			t.Fatalf("Parse error without a kind: %v", err)
		case err != nil && !gjson.ValidBytes(body) && !upstream.IsKind(err, upstream.KindBadGateway):
			t.Fatalf("malformed answer: %v, want bad_gateway", err)
		case err == nil:
			files := p.Files
			if p.One != nil {
				files = append(files, *p.One)
			}
			for _, r := range files {
				if r.Record.Collection == "" || r.Field == "" {
					t.Fatalf("a file read back without a place: %+v", r)
				}
			}
		}
		if status < 100 || status > 599 {
			status = 400 + status%200
			if status < 400 {
				status += 200
			}
		}
		header := func(string) string { return string(body) }
		if err := rt.ParseError(status, header, body); err == nil || upstream.KindOf(err) == "" {
			t.Fatalf("ParseError(%d): %v, want an error with a kind", status, err)
		}
	})
}
