package bundled

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

var decodeRef = upstream.RecordRef{Collection: "bench", ID: "small"}

// TestDecodeRecord: the fast decoder gives json.Unmarshal's record for
// what putRecord writes, and says no to anything else.
func TestDecodeRecord(t *testing.T) {
	stamp := time.Date(2026, 12, 3, 18, 51, 57, 901762396, time.UTC)
	for _, r := range []upstream.Record{
		{Ref: decodeRef, Created: stamp, Modified: stamp.Add(time.Second)},
		{Ref: decodeRef, Data: json.RawMessage(`{"title":"x","n":[1,2,{"a":"\u00e9\""}]}`), Created: stamp, Modified: stamp},
		{Ref: decodeRef, Data: json.RawMessage(`{}`)},
		{Ref: upstream.RecordRef{Collection: "a\"b", ID: "c\\d\u00e9"}, Created: stamp},
	} {
		v, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeRecord(r.Ref, v)
		if !ok {
			t.Errorf("%s: not decoded", v)
			continue
		}
		var want upstream.Record
		if err := json.Unmarshal(v, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", v, got, want)
		}
	}
	for _, v := range []string{
		``, `null`, `[]`, `{"ref":{"collection":"bench","id":"other"}}`, `{"created":"2026-01-01T00:00:00Z"}`,
		`{"ref":{"collection":"bench","id":"small"},"data":null}`, `{"ref":{"collection":"bench","id":"small"},"data":[1]}`,
		`{"ref":{"collection":"bench","id":"small"},"created":"yesterday"}`, `{"ref":{"collection":"bench","id":"small"},"created":1}`,
		`{"ref":{"collection":"bench","id":"small"},"extra":1}`, `{"ref":{"collection":"bench","id":"small"}`,
	} {
		if r, ok := decodeRecord(decodeRef, []byte(v)); ok {
			t.Errorf("%s: decoded as %+v, want a refusal (json.Unmarshal decides)", v, r)
		}
	}
}

// FuzzDecodeRecord: whatever the fast decoder accepts, json.Unmarshal
// accepts too, into the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{
		`{"ref":{"collection":"bench","id":"small"},"data":{"title":"x"},"created":"2026-12-03T18:51:57.901762396Z","modified":"2026-12-03T18:51:57Z"}`,
		`{"ref":{"collection":"bench","id":"small"},"created":"2026-12-03T18:51:57+01:00"}`,
		`{"ref":{"collection":"bench","id":"sm\u0061ll"},"ref":{"collection":"bench","id":"small"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, ok := decodeRecord(decodeRef, v)
		if !ok {
			return
		}
		var want upstream.Record
		if err := json.Unmarshal(v, &want); err != nil {
			t.Fatalf("%s: decoded as %+v, json.Unmarshal says %v", v, got, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", v, got, want)
		}
	})
}
