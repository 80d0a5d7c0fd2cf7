package translate

import (
	"context"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Op names a canonical operation: what a route does to the store, whatever
// its dialect calls it. routes.yaml's `op:` is one of these.
type Op string

// The canonical operations. Each is described once, in operations below.
const (
	OpCreate       Op = "create"
	OpList         Op = "list"
	OpStat         Op = "stat"
	OpDownload     Op = "download"
	OpDelete       Op = "delete"
	OpLink         Op = "link"
	OpAppend       Op = "append"
	OpRecordGet    Op = "record.get"
	OpRecordUpdate Op = "record.update"
	OpRecordList   Op = "record.list"
)

// Operation is everything the gateway knows about one canonical operation:
// the compiler checks a route against it, the handler runs it, and the
// matrix and the remote store read from it what an upstream must be able
// to do for a client route of it to work.
type Operation struct {
	Op Op
	// Doc says what the operation does, in a sentence.
	Doc string
	// Needs are canonical values every route of the operation must bind.
	Needs []string
	// Addresses is set for operations on one existing attachment, which a
	// route names by id, or by record and name.
	Addresses bool
	// Answers says what a route's response can show beyond the request's
	// own values.
	Answers Answers
	// Uses are the upstream capabilities a client route of the operation
	// relies on, most specific first; the first one an upstream lacks is
	// the one the matrix and the 'unsupported' error name.
	Uses []Capability
	// run performs the operation against the store.
	run func(ctx context.Context, x *exchange) (*result, error)
}

// Answers is what an operation's result holds for response templates.
type Answers struct {
	// Content: the bytes (raw responses, $content).
	Content bool
	// Files: a list of attachments ($files) without response.list.
	Files bool
	// Link: a presigned URL ($link).
	Link bool
	// Records: a page of records, each with its files ($records, $total).
	Records bool
}

// operations is the one table of canonical operations. It is read-only:
// entries are found by Op through operationOf.
var operations = []Operation{
	{
		Op: OpCreate, Doc: "store a new attachment (or a placeholder without content) on a record, or linked to none yet",
		Needs: []string{"record.collection"},
		Uses:  []Capability{CapCreate, CapList},
		run:   runCreate,
	},
	{
		Op: OpList, Doc: "list a record's attachments, optionally of one field",
		Needs:   []string{"record.collection", "record.id"},
		Answers: Answers{Files: true},
		Uses:    []Capability{CapList},
		run:     runList,
	},
	{
		Op: OpStat, Doc: "describe one attachment", Addresses: true,
		Uses: []Capability{CapStat},
		run:  runStat,
	},
	{
		Op: OpDownload, Doc: "return one attachment's bytes", Addresses: true,
		Answers: Answers{Content: true},
		Uses:    []Capability{CapStat, CapDownload},
		run:     runDownload,
	},
	{
		Op: OpDelete, Doc: "delete one attachment; its record stays", Addresses: true,
		Uses: []Capability{CapStat, CapDelete},
		run:  runDelete,
	},
	{
		Op: OpLink, Doc: "make a presigned URL that downloads one attachment without credentials", Addresses: true,
		Answers: Answers{Link: true},
		Uses:    []Capability{CapStat, CapDownload},
		run:     runLink,
	},
	{
		Op: OpAppend, Doc: "append a chunk to a placeholder that announced its size (EspoCRM's chunked upload)", Addresses: true,
		// The gateway holds the chunks in front of an upstream and sends
		// the whole file with its create (upstream/remote's held uploads).
		Uses: []Capability{CapCreate},
		run:  runAppend,
	},
	{
		Op: OpRecordGet, Doc: "read a record's data and its file fields",
		Needs:   []string{"record.collection", "record.id"},
		Answers: Answers{Files: true},
		Uses:    []Capability{CapRecordGet, CapList},
		run:     runRecordGet,
	},
	{
		Op: OpRecordList, Doc: "list a page of a collection's records, each with its file fields, filtered by record data",
		Needs:   []string{"record.collection"},
		Answers: Answers{Files: true, Records: true},
		Uses:    []Capability{CapRecordList},
		run:     runRecordList,
	},
	{
		Op: OpRecordUpdate, Doc: "create or update a record: merge its data, set its file fields (linking unlinked uploads)",
		Needs:   []string{"record.collection", "record.id"},
		Answers: Answers{Files: true},
		Uses:    []Capability{CapRecordUpdate},
		run:     runRecordUpdate,
	},
}

// operationOf returns the operation named op.
func operationOf(op Op) (*Operation, bool) {
	for i := range operations {
		if operations[i].Op == op {
			return &operations[i], true
		}
	}
	return nil, false
}

// Operations lists every canonical operation, in the table's order.
func Operations() []Operation { return append([]Operation(nil), operations...) }

// Capability is something an upstream store does for the gateway. A
// remote upstream does each with a route of its dialect, composes it from
// other routes, or cannot; capabilityOf below says how.
type Capability string

// The upstream capabilities, in the order the matrix lists them.
const (
	CapCreate       Capability = "create"      // a file with its bytes
	CapPlaceholder  Capability = "placeholder" // a file without bytes yet
	CapList         Capability = "list"
	CapStat         Capability = "stat"
	CapDownload     Capability = "download"
	CapDelete       Capability = "delete"
	CapRecordGet    Capability = "record.get"
	CapRecordUpdate Capability = "record.update"
	// CapRecordCreate: make a record under an id the gateway names.
	CapRecordCreate Capability = "record.create"
	// CapRecordList: list a collection's records.
	CapRecordList Capability = "record.list"
)

// Capabilities lists every upstream capability in the matrix's order.
func Capabilities() []Capability {
	return []Capability{CapCreate, CapPlaceholder, CapList, CapStat, CapDownload, CapDelete, CapRecordGet, CapRecordUpdate, CapRecordCreate, CapRecordList}
}

// capabilityWays says how an upstream may do each capability: with a
// route of the capability's own operation, or else composed from another
// capability (the remote store composes them in this order).
var capabilityWays = []struct {
	cap Capability
	// direct reports whether a dialect does it with a route of its own.
	direct func(d *compiledDialect) bool
	// via are the capabilities it can be composed from, tried in order.
	via []Capability
	// composable reports whether the dialect allows the composition.
	composable func(d *compiledDialect) bool
	// gateway reports whether, where the upstream has no way, the gateway
	// keeps what the capability makes in its own data dir (upstream/remote).
	gateway func(d *compiledDialect) bool
}{
	{cap: CapCreate, direct: func(d *compiledDialect) bool {
		return d.some(func(r *compiledRoute) bool { return r.op.Op == OpCreate && r.byTarget["content"] != nil })
	}},
	// A create route whose JSON body can leave the content out. A raw or
	// multipart upload is its content, and a content required unless a
	// size is announced (EspoCRM's chunked upload) makes a placeholder only
	// for chunks to fill, which is appending, not a placeholder.
	{cap: CapPlaceholder, direct: func(d *compiledDialect) bool {
		return d.some(func(r *compiledRoute) bool { return r.op.Op == OpCreate && carriesContent(r, &Target{}) })
	}, gateway: always},
	{cap: CapList, direct: hasOp(OpList), via: []Capability{CapRecordGet}},
	{cap: CapStat, direct: hasOp(OpStat), via: []Capability{CapList}},
	{cap: CapDownload, direct: hasOp(OpDownload), via: []Capability{capLink}},
	// A record update leaves a file out of its field where its record
	// data names the field's files (EspoCRM's link attributes).
	{cap: CapDelete, direct: hasOp(OpDelete), via: []Capability{CapRecordUpdate},
		composable: func(d *compiledDialect) bool {
			return d.some(func(r *compiledRoute) bool { return r.op.Op == OpRecordUpdate && carriesFiles(r) })
		}},
	{cap: CapRecordGet, direct: hasOp(OpRecordGet), via: []Capability{CapList}},
	{cap: CapRecordUpdate, direct: hasOp(OpRecordUpdate), gateway: always},
	// A record update that makes the record it names where it is missing;
	// where the dialect has no record update at all, the gateway keeps
	// records, new ones too.
	// A dialect that makes its own record ids (EspoCRM's record create)
	// makes one too: the remote store maps the gateway's id to its own,
	// where it has a record update to do the rest with (Media Pocket's
	// POST /assets has none; the gateway keeps its records).
	{cap: CapRecordCreate, direct: func(d *compiledDialect) bool {
		return d.some(func(r *compiledRoute) bool {
			return r.op.Op == OpRecordUpdate && ((makesRecordID(r) && hasOp(OpRecordUpdate)(d)) || (!r.spec.RequireRecord && !makesRecordID(r)))
		})
	}, gateway: func(d *compiledDialect) bool { return !hasOp(OpRecordUpdate)(d) }},
	// No remote store lists an upstream's records with its dialect's
	// routes (EspoCRM's GET /{Entity} pages are not read back): the
	// gateway lists the records it knows, each read from the upstream.
	{cap: CapRecordList, direct: func(*compiledDialect) bool { return false }, gateway: always},
	// capLink is no capability of its own, only a way to download.
	{cap: capLink, direct: hasOp(OpLink)},
}

// capLink names an upstream's presigned-link route as a way to download.
const capLink Capability = "link"

func always(*compiledDialect) bool { return true }

// makesRecordID reports whether the route names a new record with an id
// the gateway makes (from: new_id), so it always creates one.
func makesRecordID(r *compiledRoute) bool {
	b := r.byTarget["record.id"]
	return b != nil && b.source == "new_id"
}

// hasOp reports whether the dialect has a route of op the remote store
// can use: a paged listing (EspoCRM's GET /Attachment) shows a page only,
// and a route that makes up its record id cannot address a canonical
// record (fits refuses it).
func hasOp(op Op) func(d *compiledDialect) bool {
	return func(d *compiledDialect) bool {
		return d.some(func(r *compiledRoute) bool { return r.op.Op == op && !paged(r) && !makesRecordID(r) })
	}
}

// some reports whether any route of the dialect satisfies f.
func (d *compiledDialect) some(f func(r *compiledRoute) bool) bool {
	for _, r := range d.routes {
		if f(r) {
			return true
		}
	}
	return false
}

// Means is how an upstream dialect does one capability.
type Means struct {
	Cap Capability
	// Direct: with a route of its own.
	Direct bool
	// Via names the capability it is composed from, when not direct.
	Via Capability
	// Gateway: the upstream has no way, and the gateway keeps what the
	// capability makes in its own data dir, joined with the upstream's
	// answers on every read.
	Gateway bool
}

// OK reports whether the capability can be had in front of the upstream.
func (m Means) OK() bool { return m.Direct || m.Via != "" || m.Gateway }

// String is the matrix's word for it: direct, via X, gateway, or no.
func (m Means) String() string {
	switch {
	case m.Direct:
		return "direct"
	case m.Via != "":
		return "via " + string(m.Via)
	case m.Gateway:
		return "gateway"
	}
	return "no"
}

// capabilitiesOf works out, once per dialect, how it does each capability
// as an upstream: a route of its own, else a composition from a capability
// it has (capabilityWays lists a capability after those it may be composed
// from, so that those are settled first).
func capabilitiesOf(d *compiledDialect) map[Capability]Means {
	out := map[Capability]Means{}
	for _, w := range capabilityWays {
		out[w.cap] = Means{Cap: w.cap, Direct: w.direct(d)}
	}
	for _, w := range capabilityWays {
		m := out[w.cap]
		if m.Direct || (w.composable != nil && !w.composable(d)) {
			continue
		}
		for _, v := range w.via {
			if out[v].Direct || out[v].Via != "" {
				m.Via = v
				break
			}
		}
		m.Gateway = m.Via == "" && w.gateway != nil && w.gateway(d)
		out[w.cap] = m
	}
	return out
}

// Can says how the spoken dialect does a capability as an upstream.
func (s *Speaker) Can(c Capability) Means { return s.d.caps[c] }

// storeLacks is the error of a store without an optional interface an
// operation needs.
func storeLacks(what string) error {
	return upstream.Errorf(upstream.KindUnsupported, "this store cannot %s", what)
}
