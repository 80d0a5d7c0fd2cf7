package translate

import (
	"strings"

	"github.com/dragoman-gw/dragoman/upstream"
)

// A dialect that addresses files by record, field and name (Nimblex: no
// id_format) cannot tell apart two files of one name in one field, which
// other dialects can make. Such a dialect shows the newest of them under
// its name (the one a request by that name reaches, as resolve picks it)
// and each older one under its name with a tag of its canonical id before
// the extension, "report~0f3a9c2b.pdf", which a request by that name
// reaches in turn.

// dupTagLen is how much of the canonical id tags a duplicate: 32 bits,
// to tell apart the few files of one name in one field.
const dupTagLen = 8

// uniqueNames renames all but the newest file of each name in each field.
// files is in List order, each field's files oldest first.
func uniqueNames(files []upstream.Attachment) []upstream.Attachment {
	if len(files) <= 32 && !hasDuplicateName(files) {
		// The usual case, told without a map per listing.
		return files
	}
	newest := map[[2]string]int{}
	dup := false
	for i, f := range files {
		k := [2]string{f.Field, f.Name}
		if _, seen := newest[k]; seen {
			dup = true
		}
		newest[k] = i
	}
	if !dup {
		return files
	}
	out := append([]upstream.Attachment(nil), files...)
	for i := range out {
		if newest[[2]string{out[i].Field, out[i].Name}] != i {
			out[i].Name = tagName(out[i].Name, out[i].ID)
		}
	}
	return out
}

// hasDuplicateName reports whether two files share a field and a name,
// comparing every pair: for a few files, cheaper than a map.
func hasDuplicateName(files []upstream.Attachment) bool {
	for i := range files {
		for j := i + 1; j < len(files); j++ {
			if files[i].Name == files[j].Name && files[i].Field == files[j].Field {
				return true
			}
		}
	}
	return false
}

// tagName puts a tag of id into name, before its extension.
func tagName(name, id string) string {
	tag := id
	if len(tag) > dupTagLen {
		tag = tag[:dupTagLen]
	}
	stem, ext := splitExt(name)
	return stem + "~" + tag + ext
}

// untagName reads a tagged name back: the file's own name and the tag.
func untagName(name string) (base, tag string, ok bool) {
	stem, ext := splitExt(name)
	i := strings.LastIndexByte(stem, '~')
	if i <= 0 || len(stem)-i-1 != dupTagLen {
		return "", "", false
	}
	return stem[:i] + ext, stem[i+1:], true
}

// splitExt splits name before its last dot; a leading dot (".env") starts
// no extension.
func splitExt(name string) (stem, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i:]
}
