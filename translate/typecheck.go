package translate

import (
	"mime"
	"net/http"
	"strings"
)

// uploadType is the MIME type stored for an upload, from the type the
// client declared and the first bytes of the content (up to 512, peeked as
// the upload streams). A missing or generic type is sniffed. A declared
// type that the bytes clearly contradict is replaced by what the bytes
// are, rather than the upload refused: the client meant to store the
// file, and every later download then carries the right type.
//
// Clearly means: a text type (text/*, JSON, XML, JavaScript, YAML, ...)
// over bytes that are binary (a PNG sent as application/json), or a
// media or document type over bytes whose signature is another known
// format (a PDF sent as image/png). Bytes that say only "text" or
// "binary", and formats built on another (a .docx is a zip), leave the
// declared type alone.
func uploadType(declared string, head []byte, name string) string {
	if isGenericType(declared) {
		return SniffType(head, name)
	}
	if len(head) == 0 {
		return declared
	}
	dt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		return declared
	}
	sniffed := http.DetectContentType(head)
	st, _, _ := mime.ParseMediaType(sniffed)
	switch {
	case isTextType(dt):
		if !strings.HasPrefix(st, "text/") {
			return sniffed
		}
	case hasSignature(dt):
		if st != "application/octet-stream" && !strings.HasPrefix(st, "text/") && !sameFormat(dt, st) {
			return sniffed
		}
	}
	return declared
}

// isTextType reports whether a media type promises text.
func isTextType(mt string) bool {
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/ecmascript",
		"application/x-ndjson", "application/ld+json", "application/yaml", "application/x-yaml",
		"application/csv", "application/sql", "application/graphql":
		return true
	}
	return false
}

// hasSignature reports whether a type is a format whose files begin with
// a signature: images, audio, video, fonts, and the document and archive
// formats the sniffer knows.
func hasSignature(mt string) bool {
	top, _, _ := strings.Cut(mt, "/")
	switch top {
	case "image", "audio", "video", "font":
		return true
	}
	switch mt {
	case "application/pdf", "application/zip", "application/gzip", "application/x-gzip",
		"application/x-rar-compressed", "application/vnd.rar", "application/wasm", "application/ogg",
		"application/postscript", "application/vnd.ms-fontobject":
		return true
	}
	return false
}

// typeAliases are spellings of one format under two names.
var typeAliases = map[string]string{
	"application/x-gzip": "application/gzip", "application/vnd.rar": "application/x-rar-compressed",
	"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-ms-bmp": "image/bmp",
	"image/vnd.microsoft.icon": "image/x-icon", "audio/mp3": "audio/mpeg", "audio/x-wav": "audio/wave",
	"audio/wav": "audio/wave", "audio/vnd.wave": "audio/wave", "video/x-msvideo": "video/avi",
	"audio/x-aiff": "audio/aiff",
}

// sameFormat reports whether a declared and a sniffed type name one format:
// the same type, aliases, or one container heard as audio or seen as video
// (audio/mp4 and video/mp4, audio/ogg and application/ogg).
func sameFormat(declared, sniffed string) bool {
	canon := func(t string) string {
		if a, ok := typeAliases[t]; ok {
			return a
		}
		return t
	}
	d, s := canon(declared), canon(sniffed)
	if d == s {
		return true
	}
	_, dsub, _ := strings.Cut(d, "/")
	_, ssub, _ := strings.Cut(s, "/")
	return dsub == ssub
}
