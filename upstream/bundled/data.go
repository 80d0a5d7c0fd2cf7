package bundled

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/dragoman-gw/dragoman/upstream"
)

// parseData decodes an update's record data into its top-level keys. Nil,
// empty or JSON null leaves the data unchanged (nil map); anything other
// than a JSON object is KindInvalid.
func parseData(raw json.RawMessage) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if trimmed[0] != '{' {
		return nil, upstream.Errorf(upstream.KindInvalid, "record data must be a JSON object")
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &patch); err != nil {
		return nil, upstream.Wrap(upstream.KindInvalid, err, "record data is not valid JSON")
	}
	return patch, nil
}

// mergeData sets patch's top-level keys in the stored data (a shallow
// merge: a key given as null is stored as null, not removed).
func mergeData(stored json.RawMessage, patch map[string]json.RawMessage) (json.RawMessage, error) {
	merged := map[string]json.RawMessage{}
	if len(stored) > 0 {
		if err := json.Unmarshal(stored, &merged); err != nil {
			return nil, fmt.Errorf("decode stored record data: %w", err)
		}
	}
	maps.Copy(merged, patch)
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("encode record data: %w", err)
	}
	return out, nil
}
