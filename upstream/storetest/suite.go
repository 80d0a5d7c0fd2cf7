// Package storetest is the conformance suite every upstream.Store runs: the
// bundled store directly, a remote store through a loopback gateway, any
// future backend. It uses only the Store interface.
//
// A store that cannot do an operation returns KindUnsupported, and the
// cases that need the operation skip, saying so. The cases of the optional
// interfaces (upstream.Appender, upstream.UnlinkedExpirer) skip for a store
// that does not implement them.
package storetest

import (
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Run runs every conformance case as a subtest, each on a fresh, empty
// store from newStore, which registers its own cleanup (Close, removing
// files) with the t it is given.
func Run(t *testing.T, newStore func(t *testing.T) upstream.Store) {
	cases := []struct {
		name string
		run  func(t *testing.T, s upstream.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Seek", testSeek},
		{"Placeholder", testPlaceholder},
		{"ListOrder", testListOrder},
		{"ListUnknownRecord", testListUnknownRecord},
		{"RecordOutlivesItsFiles", testRecordOutlivesFiles},
		{"DeleteTwice", testDeleteTwice},
		{"UnknownID", testUnknownID},
		{"MalformedID", testMalformedID},
		{"ReplaceSameName", testReplaceSameName},
		{"MaxSize", testMaxSize},
		{"FailingReader", testFailingReader},
		{"CancelledContext", testCancelledContext},
		{"UpdateRecordReorder", testUpdateReorder},
		{"UpdateRecordMove", testUpdateMove},
		{"UpdateRecordDeletesUnlisted", testUpdateDeletesUnlisted},
		{"UpdateRecordUnknownID", testUpdateUnknownID},
		{"UpdateRecordData", testUpdateData},
		{"UpdateRecordBadData", testUpdateBadData},
		{"UpdateRecordCreates", testUpdateCreates},
		{"GetRecordUnknown", testGetRecordUnknown},
		{"ConcurrentCreate", testConcurrentCreate},
		{"LargeStream", testLargeStream},
		{"Unlinked", testUnlinked},
		{"UnlinkedLink", testUnlinkedLink},
		{"FinishMetadata", testFinishMetadata},
		{"FinishPlace", testFinishPlace},
		{"FinishError", testFinishError},
		{"FinishNotCalled", testFinishNotCalled},
		{"FinishValidated", testFinishValidated},
		{"AppendChunks", testAppendChunks},
		{"AppendRefused", testAppendRefused},
		{"AppendOver", testAppendOver},
		{"AppendConcurrent", testAppendConcurrent},
		{"AppendUnlinked", testAppendUnlinked},
		{"AppendMoved", testAppendMoved},
		{"ExpireUnlinked", testExpireUnlinked},
		{"ReadRecord", testReadRecord},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}
