package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dragoman-gw/dragoman/migrate"
)

func reconcileCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("reconcile", "--a SRC --b DST [--a-token T] [--b-token T] [--records FILE] [--repair] [--parallel N] [--state DIR]", stdout, stderr)
	var ends endpointPair
	ends.addFlags(fs.FlagSet, "a", "b")
	records := fs.String("records", "", "file of collection/record lines to compare (default: every record of bundled sides)")
	repair := fs.Bool("repair", false, "make b agree with a: delete b's extra and differing files, copy a's missing ones")
	parallel := fs.Int("parallel", 4, "records compared at once")
	state := fs.String("state", "dragoman-reconcile.d", "where remote ends keep their id maps (give a migration's JOURNAL.d to reuse what it knows)")
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	if *parallel < 1 {
		fmt.Fprintln(stderr, "reconcile: --parallel must be at least 1")
		return 2
	}
	refs, err := readRecords(*records)
	if err != nil {
		fmt.Fprintf(stderr, "reconcile: %v\n", err)
		return 2
	}
	a, b, err := ends.open("a", "b", *state)
	if err != nil {
		fmt.Fprintf(stderr, "reconcile: %v\n", err)
		return 2
	}
	defer a.Close()
	defer b.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	enc := json.NewEncoder(stdout)
	sum, err := migrate.Reconcile(ctx, migrate.ReconcileOptions{A: a, B: b, Records: refs, Repair: *repair,
		Parallel: *parallel, Out: func(d migrate.Difference) { enc.Encode(d) }})
	if errors.Is(err, migrate.ErrNoRecords) {
		fmt.Fprintf(stderr, "reconcile: --a %s: %v\n", ends.a, err)
		return 2
	}
	fmt.Fprintf(stderr, "reconcile: %d records, %d differences, %d repaired, %d remaining\n",
		sum.Records, sum.Differences, sum.Repaired, sum.Remaining)
	if err != nil {
		fmt.Fprintf(stderr, "reconcile: %v\n", err)
		return 1
	}
	if sum.Remaining > 0 {
		return 1
	}
	return 0
}
