package translate

import (
	"github.com/dragoman-gw/dragoman/upstream"
)

// compileErrorStatus fills d.errStatus from errors.status, which must map
// every canonical error kind to an error status. A misspelt kind is one
// problem: the kind it was meant to be is not also reported unmapped.
func compileErrorStatus(d *compiledDialect, at func(...any) int, fail func(int, string, ...any)) {
	status := d.spec.Errors.Status
	meant := map[string]bool{}
	for _, k := range sortedKeys(status) {
		if isKnownKind(k) {
			if st := status[k]; st < 400 || st > 599 {
				fail(at("errors", "status", k), "dialect %s: status %d for `%s` is not an error status (400 to 599)", d.name, st, k)
			}
			continue
		}
		var unmapped []string
		for _, kk := range kindNames() {
			if _, ok := status[kk]; !ok {
				unmapped = append(unmapped, kk)
			}
		}
		hint := ""
		if best, ok := closest(k, unmapped); ok {
			meant[best] = true
			hint = didYouMean(k, unmapped)
		}
		fail(at("errors", "status", k), "dialect %s: unknown error kind `%s`%s", d.name, k, hint)
	}
	var unmapped []string
	for _, k := range upstream.Kinds() {
		st, ok := status[string(k)]
		switch {
		case ok:
			d.errStatus[k] = st
		case !meant[string(k)]:
			unmapped = append(unmapped, string(k))
		}
	}
	if len(unmapped) > 0 {
		fail(at("errors", "status"), "dialect %s: errors.status does not map %s %s; every error kind needs a status", d.name, plural(len(unmapped), "kind", "kinds"), allOf(unmapped))
	}
}
