package s3blobs_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

// TestPresignURL checks that a one-object content has a presigned URL the
// S3 server answers without credentials, whole and by range, with the
// Content-Type and Content-Disposition asked for, and that a content of
// several objects has none.
func TestPresignURL(t *testing.T) {
	b := newBucket(t)
	ctx := context.Background()
	content := pattern(70_000)
	if _, err := b.Put(ctx, "one", bytes.NewReader(content), func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	r := b.Open(ctx, []s3blobs.Segment{{Name: "one", Size: int64(len(content))}})
	defer r.Close()
	pc, ok := r.(upstream.PresignedContent)
	if !ok {
		t.Fatalf("%T is not upstream.PresignedContent", r)
	}
	url, err := pc.PresignURL(ctx, time.Minute, "text/plain; charset=utf-8", `attachment; filename="a b.txt"`)
	if err != nil || url == "" {
		t.Fatalf("PresignURL: %q, %v", url, err)
	}
	tests := []struct {
		name       string
		rangeHdr   string
		wantStatus int
		want       []byte
	}{
		{"whole", "", http.StatusOK, content},
		{"a range", "bytes=100-199", http.StatusPartialContent, content[100:200]},
		{"a suffix", "bytes=-10", http.StatusPartialContent, content[len(content)-10:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			if tt.rangeHdr != "" {
				req.Header.Set("Range", tt.rangeHdr)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !bytes.Equal(body, tt.want) {
				t.Fatalf("GET: %d with %d bytes, want %d with %d bytes", resp.StatusCode, len(body), tt.wantStatus, len(tt.want))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="a b.txt"` {
				t.Errorf("Content-Disposition %q", cd)
			}
		})
	}

	expired, err := pc.PresignURL(ctx, time.Second, "", "")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	resp, err := http.Get(expired)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an expired URL: %d, want 403", resp.StatusCode)
	}

	chunks := b.Open(ctx, []s3blobs.Segment{{Name: "one", Size: 10}, {Name: "one", Size: 10}})
	defer chunks.Close()
	if url, err := chunks.(upstream.PresignedContent).PresignURL(ctx, time.Minute, "", ""); url != "" || err != nil {
		t.Errorf("a content of two objects: URL %q, %v; want none", url, err)
	}
}
