package translate

import (
	"bufio"
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
	// multipartReadBuffer is what a multipart body is read through.
	multipartReadBuffer = 256 << 10
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
	// content is the file part's bytes; for a part without a filename,
	// a reader that peeked at them to name the file.
	content io.Reader
	// derivedName names a file part that came without a filename.
	derivedName string
	parts       int
	done        bool
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
	// mime/multipart reads through a 4 KiB buffer of its own, and fasthttp
	// fills that from its 16 KiB one: a file part cost a read system call
	// per 16 KiB. Through this buffer the socket is read 256 KiB at a time
	// (fasthttp reads a large request straight into it), with no more
	// copies than before: it stands where fasthttp's buffer stood.
	body = bufio.NewReaderSize(body, multipartReadBuffer)
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
			f.file, f.content = p, p
			if p.FileName() == "" && !hasFilenameParam(p) {
				f.nameUnnamedFile()
			}
			return nil
		}
		name = formListName(name)
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

// fileName is the file part's filename, or the name made for a part
// that has none.
func (f *multipartForm) fileName() string {
	if f.file == nil {
		return ""
	}
	if n := f.file.FileName(); n != "" {
		return n
	}
	return f.derivedName
}

// hasFilenameParam reports whether a part says filename at all. A browser
// sends filename="" for a file input left empty: that is no file, not a
// file to name.
func hasFilenameParam(p *multipart.Part) bool {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return false
	}
	_, plain := params["filename"]
	_, ext := params["filename*"]
	return plain || ext
}

// nameUnnamedFile names a file part sent without a filename (curl's
// -F 'file=<path', Guzzle's string contents, Go's CreateFormField): the
// part's name, with the extension of its declared type or, when that says
// nothing, of the type its first bytes show: "file.png".
func (f *multipartForm) nameUnnamedFile() {
	typ := f.fileType()
	if isGenericType(typ) {
		br := bufio.NewReaderSize(f.file, maxFilePrefix)
		head, _ := br.Peek(maxFilePrefix)
		typ, f.content = SniffType(head, ""), br
	}
	f.derivedName = unnamedFileName(f.fileField, typ)
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

// formListName reads the list spellings of a form field's name that PHP,
// jQuery ($.param) and axios (FormData with arrays) send: "tags[]" and
// "tags[3]" are both values of "tags", in the order they come. Any other
// name, nested ones ("a[b]") included, is left as it is.
func formListName(name string) string {
	open := strings.IndexByte(name, '[')
	if open <= 0 || name[len(name)-1] != ']' {
		return name
	}
	for _, c := range name[open+1 : len(name)-1] {
		if c < '0' || c > '9' {
			return name
		}
	}
	return name[:open]
}

// typeExtensions give a made-up file name its extension: a fixed table
// rather than mime.ExtensionsByType, whose answer depends on the host's
// mime.types files.
var typeExtensions = map[string]string{
	"application/gzip": ".gz", "application/json": ".json", "application/msword": ".doc",
	"application/ogg": ".ogg", "application/pdf": ".pdf", "application/postscript": ".ps",
	"application/vnd.ms-excel": ".xls", "application/vnd.ms-powerpoint": ".ppt",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.rar": ".rar", "application/wasm": ".wasm", "application/x-7z-compressed": ".7z",
	"application/x-gzip": ".gz", "application/x-rar-compressed": ".rar", "application/xml": ".xml",
	"application/zip": ".zip", "audio/aiff": ".aiff", "audio/mpeg": ".mp3", "audio/ogg": ".ogg",
	"audio/wave": ".wav", "audio/wav": ".wav", "font/otf": ".otf", "font/ttf": ".ttf",
	"font/woff": ".woff", "font/woff2": ".woff2", "image/avif": ".avif", "image/bmp": ".bmp",
	"image/gif": ".gif", "image/heic": ".heic", "image/jpeg": ".jpg", "image/png": ".png",
	"image/svg+xml": ".svg", "image/tiff": ".tiff", "image/webp": ".webp", "image/x-icon": ".ico",
	"text/csv": ".csv", "text/html": ".html", "text/markdown": ".md", "text/plain": ".txt",
	"text/xml": ".xml", "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm",
	"video/avi": ".avi",
}

// unnamedFileName is the name of a file part without a filename: the
// part's name and the extension its type is known by, if any.
func unnamedFileName(partName, typ string) string {
	mt, _, err := mime.ParseMediaType(typ)
	if err != nil {
		mt = ""
	}
	return safeFilename(partName + typeExtensions[mt])
}
