package remote

import (
	"context"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

var _ upstream.RecordReader = (*Store)(nil)

// ReadRecord reads a record and its files with one record call, where the
// dialect's record answer names the record's files (InfoLobby's fields,
// EspoCRM's link attributes): GetRecord then List would make that same
// call twice, and could pair data from before an update with files from
// after it. Elsewhere the record and its files come from two places (a
// record call and a list call, or the gateway's kept record and the
// upstream's listing), and ReadRecord says so with KindUnsupported, for
// the caller to read them one after the other.
func (s *Store) ReadRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, []upstream.Attachment, error) {
	if rec.Collection == "" || rec.ID == "" {
		return upstream.Record{}, nil, upstream.Errorf(upstream.KindNotFound, "record not found")
	}
	t := &translate.Target{Record: rec, Size: -1}
	rt, ok := s.sp.Find(translate.OpRecordGet, t)
	if !ok || s.sp.Can(translate.CapList).Via != translate.CapRecordGet {
		return upstream.Record{}, nil, s.unsupported("read a record and its files in one call")
	}
	lr, kept, err := s.ids.localRecord(rec)
	if err != nil {
		return upstream.Record{}, nil, err
	}
	if kept {
		return upstream.Record{}, nil, s.unsupported("read a record the gateway keeps and its files in one call")
	}
	held := s.heldIn(rec)
	var data []byte
	var rs []translate.Remote
	p, err := s.call(ctx, rt, t)
	switch {
	case upstream.IsKind(err, upstream.KindNotFound) && len(held) > 0:
		// Not upstream until a file reaches it; the gateway holds one.
	case err != nil:
		return upstream.Record{}, nil, err
	default:
		data = p.Data
		if rs, err = s.completePartial(ctx, p.Files); err != nil {
			return upstream.Record{}, nil, err
		}
		if err := s.ids.noteRecord(rec); err != nil {
			return upstream.Record{}, nil, err
		}
	}
	atts, err := s.join(rec, rs, held, lr)
	if err != nil {
		return upstream.Record{}, nil, err
	}
	return upstream.Record{Ref: rec, Data: data}, atts, nil
}
