package translate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// statusPreference breaks ties when a dialect maps several kinds to one
// status (EspoCRM answers 403 for forbidden and too large, 500 for
// unsupported and internal, 503 for four kinds; InfoLobby 400 for invalid,
// missing, not found and conflict): the kind a bare status most likely
// means comes first. A route names its not-found message where its dialect
// shares the status, and a message match comes before this.
var statusPreference = []upstream.Kind{
	upstream.KindInvalid, upstream.KindMissing, upstream.KindNotFound, upstream.KindUnauthorized,
	upstream.KindForbidden, upstream.KindConflict, upstream.KindTooLarge, upstream.KindUnavailable,
	upstream.KindTimeout, upstream.KindBadGateway, upstream.KindRateLimited, upstream.KindInternal,
	upstream.KindUnsupported,
}

// ParseError reads an upstream's error answer back into a canonical error.
// The kind comes from the answer's body when its template carries $kind,
// else from a message the route names for a kind, else from the dialect's
// status map. An upstream's internal error, or its refusal of the gateway's
// own credential, is the gateway's bad gateway: neither is the client's to
// fix.
func (rt *Route) ParseError(status int, header func(string) string, body []byte) error {
	d := rt.s.d
	msg, kindText := "", ""
	if d.spec.Errors.Header != "" {
		msg = header(d.spec.Errors.Header)
	}
	if d.errBody != nil && gjson.ValidBytes(body) {
		v := gjson.ParseBytes(body)
		if msg == "" {
			msg = findExpr(d.errBody, v, "message")
		}
		kindText = strings.ToLower(findExpr(d.errBody, v, "kind"))
	}
	if msg == "" {
		msg = fmt.Sprintf("upstream %s answered %d", d.name, status)
	}
	kind, found := upstream.Kind(""), false
	if isKnownKind(kindText) {
		kind, found = upstream.Kind(kindText), true
	}
	if !found {
		for k, m := range rt.r.messages {
			if m == msg {
				kind, found = k, true
			}
		}
	}
	if !found {
		kind = upstream.KindBadGateway
		for _, k := range statusPreference {
			if d.errStatus[k] == status {
				kind = k
				break
			}
		}
	}
	switch kind {
	case upstream.KindInternal:
		return upstream.Errorf(upstream.KindBadGateway, "upstream %s failed: %s", d.name, msg)
	case upstream.KindUnauthorized:
		return upstream.Errorf(upstream.KindBadGateway, "upstream %s refused the gateway's credential: %s", d.name, msg)
	}
	return upstream.Errorf(kind, "upstream: %s", msg)
}

// findExpr finds the value an error template puts where $name goes.
func findExpr(t tmpl, v gjson.Result, name string) string {
	switch n := t.(type) {
	case *tExpr:
		if n.x.name == name {
			return v.String()
		}
	case *tObject:
		for i, k := range n.keys {
			if m := findExpr(n.vals[i], v.Get(escapePathKey(k)), name); m != "" {
				return m
			}
		}
	case *tArray:
		for i, it := range n.items {
			if m := findExpr(it, v.Get(strconv.Itoa(i)), name); m != "" {
				return m
			}
		}
	}
	return ""
}
