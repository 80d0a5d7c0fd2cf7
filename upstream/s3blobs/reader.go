package s3blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Segment is one object of a content made of several (a file uploaded in
// chunks keeps each chunk as an object of its own).
type Segment struct {
	Name string
	Size int64
}

// Open returns a reader of the segments' bytes, one after the other. It
// makes no request until the first Read; each Read continues one ranged
// GET, and a Seek drops it, so a range served from a Seek costs one GET
// per segment it covers. The reader lives beyond ctx's cancellation (the
// caller may return before the bytes are sent) until Close.
func (b *Bucket) Open(ctx context.Context, segs []Segment) io.ReadSeekCloser {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &reader{b: b, ctx: ctx, cancel: cancel, segs: segs}
	for _, s := range segs {
		r.size += s.Size
	}
	return r
}

type reader struct {
	b      *Bucket
	ctx    context.Context
	cancel context.CancelFunc
	segs   []Segment
	size   int64
	pos    int64
	// body reads segment seg from off.
	body io.ReadCloser
	seg  int
}

func (r *reader) Read(p []byte) (int, error) {
	for {
		if r.pos >= r.size {
			return 0, io.EOF
		}
		if r.body == nil {
			if err := r.get(); err != nil {
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		r.pos += int64(n)
		if errors.Is(err, io.EOF) {
			r.body.Close()
			r.body = nil
			if r.pos < r.segEnd() {
				return n, fmt.Errorf("s3: object %s ended early at %d bytes: %w", r.segs[r.seg].Name, r.pos, io.ErrUnexpectedEOF)
			}
			err = nil
			if n == 0 {
				continue
			}
		}
		if err != nil {
			return n, fmt.Errorf("s3: read %s: %w", r.segs[r.seg].Name, err)
		}
		return n, nil
	}
}

// segEnd is the offset where the current segment ends.
func (r *reader) segEnd() int64 {
	end := int64(0)
	for i := 0; i <= r.seg; i++ {
		end += r.segs[i].Size
	}
	return end
}

// get starts a GET of the segment holding pos, from pos.
func (r *reader) get() error {
	start := int64(0)
	for i, s := range r.segs {
		if r.pos < start+s.Size {
			out, err := r.b.c.GetObject(r.ctx, &s3.GetObjectInput{Bucket: &r.b.bucket, Key: aws.String(r.b.key(s.Name)),
				Range: aws.String(fmt.Sprintf("bytes=%d-", r.pos-start))})
			if err != nil {
				return fmt.Errorf("s3: get %s: %w", s.Name, err)
			}
			r.body, r.seg = out.Body, i
			return nil
		}
		start += s.Size
	}
	return io.EOF
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	var to int64
	switch whence {
	case io.SeekStart:
		to = offset
	case io.SeekCurrent:
		to = r.pos + offset
	case io.SeekEnd:
		to = r.size + offset
	default:
		return 0, errors.New("s3: bad whence")
	}
	if to < 0 {
		return 0, errors.New("s3: seek before the start")
	}
	if to != r.pos && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.pos = to
	return to, nil
}

func (r *reader) Close() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.cancel()
	return nil
}

// PresignGet returns a URL that downloads name without credentials until
// ttl has passed, answering with contentType and disposition (when not
// empty) as its Content-Type and Content-Disposition.
func (b *Bucket) PresignGet(ctx context.Context, name string, ttl time.Duration, contentType, disposition string) (string, error) {
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(name))}
	if contentType != "" {
		in.ResponseContentType = aws.String(contentType)
	}
	if disposition != "" {
		in.ResponseContentDisposition = aws.String(disposition)
	}
	req, err := b.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("s3: presign %s: %w", name, err)
	}
	return req.URL, nil
}

// PresignURL implements upstream.PresignedContent: a content of one object
// has its presigned URL; one of several (chunks) has none.
func (r *reader) PresignURL(ctx context.Context, ttl time.Duration, contentType, disposition string) (string, error) {
	if len(r.segs) != 1 {
		return "", nil
	}
	return r.b.PresignGet(ctx, r.segs[0].Name, ttl, contentType, disposition)
}
