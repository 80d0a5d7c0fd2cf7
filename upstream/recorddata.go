package upstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
)

// ParseRecordData decodes an update's record data into its top-level keys.
// Nil, empty or JSON null leaves the data unchanged (nil map); anything
// other than a JSON object is KindInvalid.
func ParseRecordData(raw json.RawMessage) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if trimmed[0] != '{' {
		return nil, Errorf(KindInvalid, "record data must be a JSON object")
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &patch); err != nil {
		return nil, Wrap(KindInvalid, err, "record data is not valid JSON")
	}
	return patch, nil
}

// MergeRecordData sets patch's top-level keys in the stored data, as
// UpdateRecord promises: a shallow merge, where a key given as null is
// stored as null, not removed.
func MergeRecordData(stored json.RawMessage, patch map[string]json.RawMessage) (json.RawMessage, error) {
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
