package remote_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// TestHeldUploadSentBeforeACrash: the gateway is killed after the upstream
// took a held upload's whole file but before the gateway could say so.
// After the restart the record lists that one file, under the id the
// client holds, and the client's last chunk, sent again since it was never
// acknowledged, makes no second copy: whether the record is listed first
// or the chunk comes first.
func TestHeldUploadSentBeforeACrash(t *testing.T) {
	for _, resendFirst := range []bool{false, true} {
		name := "listed first"
		if resendFirst {
			name = "last chunk resent first"
		}
		t.Run(name, func(t *testing.T) { heldUploadSentBeforeACrash(t, resendFirst) })
	}
}

func heldUploadSentBeforeACrash(t *testing.T, resendFirst bool) {
	ctx := context.Background()
	dataDir := t.TempDir()
	g := loopbackWith(t, routes(t), "nimblex", t.TempDir())
	rec := upstream.RecordRef{Collection: "c", ID: "r"}
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	first, last := content[:40000], content[40000:]

	// An upstream that takes the upload and then never answers: the
	// gateway is killed while it waits.
	took := make(chan struct{})
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(context.Background(), r.Method, g.url+r.URL.RequestURI(), r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		req.Header = r.Header.Clone()
		req.ContentLength = r.ContentLength
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if r.Method == http.MethodPost {
			close(took)
			<-release
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
	}))
	defer hang.Close()
	defer close(release)

	before := openAt(t, "nimblex", hang.URL, dataDir, 0)
	a, err := before.Create(ctx, upstream.NewAttachment{Record: rec, Field: "files", Name: "big.bin", Type: "application/octet-stream", ExpectedSize: int64(len(content))}, nil)
	if err != nil {
		t.Fatalf("Create the placeholder: %v", err)
	}
	if _, err := before.Append(ctx, a.ID, bytes.NewReader(first)); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	go func() { _, _ = before.Append(ctx, a.ID, bytes.NewReader(last)) }()
	select {
	case <-took:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream never took the upload")
	}
	// The kill: the gateway's state is what it wrote until now.
	if err := before.Close(); err != nil {
		t.Fatal(err)
	}

	after := openAt(t, "nimblex", g.url, dataDir, 0)
	defer after.Close()
	if resendFirst {
		done, err := after.Append(ctx, a.ID, bytes.NewReader(last))
		if err != nil || done.ID != a.ID || !done.HasContent || done.Size != int64(len(content)) {
			t.Fatalf("the last chunk sent again: %+v, %v; want the whole file under id %s", done, err, a.ID)
		}
	}
	listed, err := after.List(ctx, rec)
	if err != nil {
		t.Fatalf("List after the restart: %v", err)
	}
	if len(listed) != 1 || listed[0].ID != a.ID || !listed[0].HasContent || listed[0].Size != int64(len(content)) {
		t.Fatalf("after the restart the record lists %+v, want the one whole file under id %s", listed, a.ID)
	}
	if got, err := g.back.List(ctx, rec); err != nil || len(got) != 1 {
		t.Fatalf("the upstream holds %d files (%v), want one", len(got), err)
	}
	_, c, err := after.Open(ctx, a.ID)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if b, _ := io.ReadAll(c); !bytes.Equal(b, content) {
		t.Fatalf("the file reads back %d bytes, not the %d sent", len(b), len(content))
	}
}
