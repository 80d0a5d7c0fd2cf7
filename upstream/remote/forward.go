package remote

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Pass sends a request the gateway does not model (the same-dialect
// pass-through) to the upstream through the store's one client, with its
// pool, its connect, first-byte and idle timeouts, its breaker and its
// retries: req's URI is the client's path and query, which go below the
// upstream's base; its Host and credential become the upstream's, and its
// X-Request-Id the request's. resp is filled with the answer, whose body
// may still be streaming (the caller closes it). A request that got an
// answer returns nil whatever its status; otherwise a canonical error
// (KindTimeout, KindBadGateway, or the breaker's refusal).
//
// No deadline bounds the whole exchange: a transfer that keeps moving is
// never cut off. When ctx ends (the client went away) the upstream
// connection is closed at once, whatever the exchange was doing.
func (s *Store) Pass(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	return s.t.pass(ctx, req, resp)
}

func (t *transport) pass(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	var buf [512]byte
	uri := append(append(append(buf[:0], t.scheme...), "://"...), t.host...)
	uri = append(append(uri, t.base...), req.Header.RequestURI()...)
	req.SetRequestURIBytes(uri)
	req.Header.SetHost(t.host)
	req.Header.Del(t.credName)
	req.Header.Set(t.credName, t.credVal)
	if id := telemetry.RequestID(ctx); id != "" {
		req.Header.Set(telemetry.RequestIDHeader, id)
	}
	// A body read from the client cannot be sent twice; a read without
	// one is retried when the connection failed, as do retries.
	streamed := req.IsBodyStream() || len(req.Body()) > 0
	attempts := 1
	if !streamed && req.Header.IsGet() {
		attempts += t.retries
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if werr := backoff(ctx, i); werr != nil {
				return werr
			}
		}
		if err = t.breaker.allow(); err != nil {
			return err
		}
		start := time.Now()
		err = t.passOnce(ctx, req, resp)
		if err == nil {
			telemetry.ObserveUpstream(ctx, t.name, resp.StatusCode(), time.Since(start))
			var failure error
			if st := resp.StatusCode(); st >= 500 && st != 501 {
				failure = upstream.Errorf(statusKind(st), "upstream answered %d", st)
			}
			t.breaker.record(failure)
			return nil
		}
		telemetry.ObserveUpstream(ctx, t.name, 0, time.Since(start))
		if ctx.Err() != nil {
			// The caller went away and took the call with it: not the
			// upstream's failure.
			t.breaker.release()
			return ctxError(ctx)
		}
		err = classify(err)
		if streamed {
			// The client's body may be what failed: the upstream is not
			// blamed for it.
			t.breaker.release()
			return err
		}
		t.breaker.record(err)
		if upstream.IsKind(err, upstream.KindTimeout) {
			return err
		}
	}
	return err
}

// passWhole is the largest answer body read whole into the response (its
// pooled buffer) rather than streamed: a small answer frees its
// connection at once.
const passWhole = 64 << 10

func (t *transport) passOnce(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	req.URI().DisablePathNormalizing = true
	resp.Reset()
	x, err := t.roundTrip(ctx, req, &resp.Header)
	if err != nil {
		return err
	}
	if x.done {
		return nil
	}
	if x.chunked == nil && !x.untilClose && x.remaining <= passWhole {
		return x.readInto(resp)
	}
	resp.SetBodyStream(x, resp.Header.ContentLength())
	return nil
}
