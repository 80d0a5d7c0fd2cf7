// Package storetest is the conformance suite every upstream.Store runs: the
// bundled store directly, a remote store through a loopback gateway, any
// future backend. It uses only the Store interface.
//
// A store that cannot do an operation returns KindUnsupported, and the
// cases that need the operation skip, saying so. The cases of the optional
// interfaces (upstream.Appender, upstream.UnlinkedExpirer, ...) skip for a store
// that does not implement them. Which cases a store skips is part of what
// it declares (Options.Skips), so that nothing skips unnoticed.
package storetest

import (
	"slices"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Options describe the store under test, as rclone's fstests take a
// remote's own names: what the cases can write to, and which of them the
// store is known not to do.
type Options struct {
	// Collection is the collection the cases write their records to
	// ("tables" when empty); a store that knows only some collections
	// (an upstream speaking Media Pocket: assets and projects) names one.
	Collection string
	// Skips names every case the store skips. Run fails when a case skips
	// that is not named, or a named one does not skip.
	Skips []string
}

// Run runs every conformance case as a subtest, each on a fresh, empty
// store from newStore, which registers its own cleanup (Close, removing
// files) with the t it is given, and then holds the cases that skipped to
// opts.Skips.
func Run(t *testing.T, newStore func(t *testing.T) upstream.Store, opts Options) {
	cases := []struct {
		name string
		run  func(t *testing.T, s upstream.Store, o Options)
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
		{"OpenListed", testOpenListed},
		{"ListNamed", testListNamed},
		{"ListRecords", testListRecords},
	}
	var skipped []string
	ran := map[string]bool{} // -run may select some cases only
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran[c.name] = true
			defer func() {
				if t.Skipped() {
					skipped = append(skipped, c.name)
				}
			}()
			c.run(t, newStore(t), opts)
		})
	}
	var want []string
	for _, name := range opts.Skips {
		if ran[name] {
			want = append(want, name)
		}
	}
	slices.Sort(want)
	slices.Sort(skipped)
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped %d cases %v; the store declares %d: %v", len(skipped), skipped, len(want), want)
	}
}
