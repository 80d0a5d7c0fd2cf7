package remote

import "github.com/valyala/fasthttp"

// HostClient is the upstream's one pooled client, with the store's
// connect, first-byte and idle timeouts: the same-dialect pass-through
// sends through it too, so an upstream has one pool and one set of
// timeouts, and a long transfer that keeps moving is never cut off.
func (s *Store) HostClient() *fasthttp.HostClient { return s.t.hc }
