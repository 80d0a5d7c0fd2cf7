package s3blobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ErrTooLarge is what Put returns for content that needs more than
// MaxParts parts.
var ErrTooLarge = errors.New("s3: content exceeds the largest multipart upload")

// cleanupTimeout bounds the abort of a failed upload, which runs even when
// the upload's own context is done.
const cleanupTimeout = 30 * time.Second

// Put streams r into the object name and returns its size once the object
// is complete: content shorter than one part goes up in one PUT, longer
// content as a multipart upload whose parts are read from r while the one
// before is sent, so an upload holds two part buffers whatever its size.
// started, if set, is told the multipart upload's id before the first part
// is sent (the caller records it, so that an upload a crash abandons can be
// aborted). On error the multipart upload is aborted and nothing of name is
// left (a single PUT creates nothing unless it succeeds).
//
// An error from r is returned as it is, wrapped; the caller tells it from
// an S3 failure with errors.Is.
func (b *Bucket) Put(ctx context.Context, name string, r io.Reader, started func(uploadID string) error) (int64, error) {
	cur := b.parts.Get().(*[]byte)
	defer b.parts.Put(cur)
	n, rerr := io.ReadFull(r, *cur)
	if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
		_, err := b.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(name)),
			Body: bytes.NewReader((*cur)[:n]), ContentLength: aws.Int64(int64(n))})
		if err != nil {
			return 0, fmt.Errorf("s3: put %s: %w", name, err)
		}
		return int64(n), nil
	}
	if rerr != nil {
		return 0, fmt.Errorf("read content: %w", rerr)
	}

	mpu, err := b.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: aws.String(b.key(name))})
	if err != nil {
		return 0, fmt.Errorf("s3: start upload of %s: %w", name, err)
	}
	id := aws.ToString(mpu.UploadId)
	done := false
	defer func() {
		if !done {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			_ = b.Abort(actx, name, id) // if this fails too, the sweeper aborts it
		}
	}()
	if started != nil {
		if err := started(id); err != nil {
			return 0, err
		}
	}
	next := b.parts.Get().(*[]byte)
	defer b.parts.Put(next)

	var parts []types.CompletedPart
	total := int64(0)
	for num := int32(1); ; num++ {
		if num > MaxParts {
			return 0, ErrTooLarge
		}
		// Send this part while the next one is read from the client.
		sent := make(chan error, 1)
		body := (*cur)[:n]
		go func() {
			out, err := b.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b.bucket, Key: aws.String(b.key(name)),
				UploadId: &id, PartNumber: aws.Int32(num), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
			if err == nil {
				parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			}
			sent <- err
		}()
		total += int64(n)
		last := rerr != nil
		if !last {
			n, rerr = io.ReadFull(r, *next)
		}
		if err := <-sent; err != nil {
			return 0, fmt.Errorf("s3: upload part %d of %s: %w", num, name, err)
		}
		if last {
			break
		}
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("read content: %w", rerr)
		}
		if n == 0 { // the content ended on a part boundary
			break
		}
		cur, next = next, cur
	}
	_, err = b.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b.bucket, Key: aws.String(b.key(name)),
		UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return 0, fmt.Errorf("s3: complete upload of %s: %w", name, err)
	}
	done = true
	return total, nil
}

// Abort aborts the multipart upload id of name; one already gone is no
// error.
func (b *Bucket) Abort(ctx context.Context, name, id string) error {
	_, err := b.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: aws.String(b.key(name)), UploadId: &id})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("s3: abort upload of %s: %w", name, err)
	}
	return nil
}

// Upload is a multipart upload in progress.
type Upload struct {
	Name, ID  string
	Initiated time.Time
}

// Uploads lists the multipart uploads in progress under the prefix that
// began before before.
func (b *Bucket) Uploads(ctx context.Context, before time.Time) ([]Upload, error) {
	var out []Upload
	in := &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: aws.String(b.prefix)}
	for {
		page, err := b.c.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("s3: list uploads: %w", err)
		}
		for _, u := range page.Uploads {
			if u.Initiated != nil && u.Initiated.Before(before) {
				out = append(out, Upload{Name: aws.ToString(u.Key)[len(b.prefix):], ID: aws.ToString(u.UploadId), Initiated: *u.Initiated})
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// Object is one stored object.
type Object struct {
	Name     string
	Size     int64
	Modified time.Time
}

// Objects calls fn with each object under the prefix, in key order, until
// fn returns false.
func (b *Bucket) Objects(ctx context.Context, fn func(Object) bool) error {
	in := &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.prefix)}
	for {
		page, err := b.c.ListObjectsV2(ctx, in)
		if err != nil {
			return fmt.Errorf("s3: list objects: %w", err)
		}
		for _, o := range page.Contents {
			if !fn(Object{Name: aws.ToString(o.Key)[len(b.prefix):], Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)}) {
				return nil
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// Begin starts a multipart upload of name and returns its id, leaving it
// open: what a process killed mid-upload leaves behind (the sweeper's
// tests make one this way).
func (b *Bucket) Begin(ctx context.Context, name string) (string, error) {
	mpu, err := b.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: aws.String(b.key(name))})
	if err != nil {
		return "", fmt.Errorf("s3: start upload of %s: %w", name, err)
	}
	return aws.ToString(mpu.UploadId), nil
}
