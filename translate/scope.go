package translate

import "github.com/dragoman-gw/dragoman/upstream"

// ReadOnlyCaller is a Caller that can say it may edit nothing at all,
// whatever the collection. A Caller without it counts as read-only when it
// may not edit the unnamed collection "".
type ReadOnlyCaller interface {
	Caller
	ReadOnly() bool
}

// readOnly reports whether caller may edit no collection.
func readOnly(caller Caller) bool {
	if ro, ok := caller.(ReadOnlyCaller); ok {
		return ro.ReadOnly()
	}
	return !caller.CanEdit("")
}

func errReadOnly() error {
	return upstream.Errorf(upstream.KindForbidden, "this key is read-only")
}
