package bundled

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/dragoman-gw/dragoman/upstream"
)

func errAttachmentNotFound() error {
	return upstream.Errorf(upstream.KindNotFound, "attachment not found")
}

func errRecordNotFound() error {
	return upstream.Errorf(upstream.KindNotFound, "record not found")
}

// ctxError gives a cancelled or expired context its kind, keeping the
// context's error in the chain for errors.Is. There is no kind for "the
// client went away"; nobody reads that answer, so timeout serves.
func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return upstream.Wrap(upstream.KindTimeout, err, "the request timed out")
	}
	return upstream.Wrap(upstream.KindTimeout, err, "the request was cancelled")
}

// classify adds context to err and makes sure it has a kind: an error that
// already has one (validation, not found, a reader's own upstream.Error)
// keeps it; a full, failing or read-only disk is unavailable; anything
// else is internal.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", what, err)
	if _, ok := errors.AsType[*upstream.Error](err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ctxError(err)
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return upstream.Wrap(upstream.KindUnavailable, err, "storage is full")
	}
	if errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EIO) {
		// A failing or read-only disk: no write can succeed now, reads may.
		return upstream.Wrap(upstream.KindUnavailable, err, "storage cannot be written")
	}
	return upstream.Wrap(upstream.KindInternal, err, "storage failure")
}
