package translate

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Limits on the non-file parts of a multipart body: they are metadata, and
// a client that sends megabytes of it is broken or hostile.
const (
	maxFormValue  = 64 << 10
	maxFormTotal  = 1 << 20
	maxFormParts  = 1000
	maxFilePrefix = 512 // bytes of the file part peeked for sniffing
)

// multipartForm reads a multipart/form-data body as a stream: the values
// before the file part, the file part itself as a reader that the store
// drains, and, after that, the values that follow it.
type multipartForm struct {
	mr        *multipart.Reader
	fileField string
	values    map[string][]string
	total     int
	file      *multipart.Part
	parts     int
	done      bool
}

// openMultipart reads the body up to the part named fileField.
func openMultipart(c *fiber.Ctx, max int64, fileField string) (*multipartForm, error) {
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, upstream.Errorf(upstream.KindInvalid, "request body must be multipart/form-data with a boundary")
	}
	body, err := rawBody(c, max)
	if err != nil {
		return nil, err
	}
	f := &multipartForm{mr: multipart.NewReader(body, params["boundary"]), fileField: fileField, values: map[string][]string{}}
	if err := f.readValues(true); err != nil {
		return nil, err
	}
	return f, nil
}

// readValues reads value parts until the file part (when stopAtFile) or
// the end of the body.
func (f *multipartForm) readValues(stopAtFile bool) error {
	for !f.done {
		if f.parts++; f.parts > maxFormParts {
			return upstream.Errorf(upstream.KindInvalid, "multipart body has more than %d parts", maxFormParts)
		}
		p, err := f.mr.NextPart()
		if errors.Is(err, io.EOF) {
			f.done = true
			return nil
		}
		if err != nil {
			return multipartError(err)
		}
		name := p.FormName()
		if name == f.fileField && f.file == nil && stopAtFile {
			f.file = p
			return nil
		}
		if p.FileName() != "" || name == f.fileField {
			// Another file: not ours to store, so not ours to keep.
			if _, err := io.Copy(io.Discard, p); err != nil {
				return multipartError(err)
			}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFormValue+1))
		if err != nil {
			return multipartError(err)
		}
		if len(v) > maxFormValue {
			return upstream.Errorf(upstream.KindInvalid, "form field %q is longer than %d bytes", name, maxFormValue)
		}
		if f.total += len(v); f.total > maxFormTotal {
			return upstream.Errorf(upstream.KindInvalid, "form fields are longer than %d bytes in all", maxFormTotal)
		}
		f.values[name] = append(f.values[name], string(v))
	}
	return nil
}

// rest reads the values after the file part, once the file was consumed.
func (f *multipartForm) rest() error {
	if f.file != nil {
		// The store read the file to EOF; this only drains a stray tail.
		if _, err := io.Copy(io.Discard, f.file); err != nil {
			return multipartError(err)
		}
	}
	return f.readValues(false)
}

func multipartError(err error) error {
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return err
	}
	return upstream.Wrap(upstream.KindInvalid, err, "malformed multipart body")
}

// fileType is the file part's declared MIME type.
func (f *multipartForm) fileType() string {
	if f.file == nil {
		return ""
	}
	return f.file.Header.Get("Content-Type")
}

// splitFormList reads repeated form values as one list; a value that is a
// JSON array of strings contributes its elements.
func splitFormList(values []string) []string {
	var out []string
	for _, v := range values {
		t := strings.TrimSpace(v)
		if strings.HasPrefix(t, "[") {
			if items, ok := jsonStringArray(t); ok {
				out = append(out, items...)
				continue
			}
		}
		out = append(out, v)
	}
	return out
}
