package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// checkNew validates what becomes part of an upstream address before any
// request is rendered: a record (or none, for an unlinked upload), a field
// and a name, held to what every dialect can carry.
func checkNew(na upstream.NewAttachment) error {
	rec := na.Record
	if rec.ID != "" && rec.Collection == "" {
		return upstream.Errorf(upstream.KindInvalid, "a record needs a collection")
	}
	for _, v := range []string{rec.Collection, rec.ID} {
		if strings.ContainsFunc(v, unicode.IsControl) {
			return upstream.Errorf(upstream.KindInvalid, "record collection and id must not contain control characters")
		}
	}
	if na.Field != "" {
		if err := translate.ValidateField(na.Field); err != nil {
			return err
		}
	}
	if na.Name != "" {
		if err := translate.ValidateName(na.Name); err != nil {
			return err
		}
	}
	return nil
}

// finish runs a new attachment's Finish hook and checks what it left, as
// Create checks what it is given. An error from the hook keeps its kind if
// it has one and is invalid otherwise (it reads what follows the content
// in a request), as in the bundled store.
func finish(na *upstream.NewAttachment) error {
	field := na.Field
	if err := na.Finish(na); err != nil {
		if _, ok := errors.AsType[*upstream.Error](err); ok {
			return fmt.Errorf("finish: %w", err)
		}
		return upstream.Wrap(upstream.KindInvalid, fmt.Errorf("finish: %w", err), "the upload could not be completed")
	}
	if na.Field == "" {
		na.Field = field // the default, as Create made it
	}
	return checkNew(*na)
}

// checkData refuses record data that is not one JSON object.
func checkData(data json.RawMessage) error {
	if data == nil {
		return nil
	}
	trimmed := strings.TrimSpace(string(data))
	if !json.Valid(data) || !strings.HasPrefix(trimmed, "{") {
		return upstream.Errorf(upstream.KindInvalid, "record data must be a JSON object")
	}
	return nil
}
