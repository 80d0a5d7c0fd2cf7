package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/dragoman-gw/dragoman/migrate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// endpointPair is the two stores a migrate or reconcile works on, with the
// flags that name them.
type endpointPair struct {
	a, b           string
	aToken, bToken string
	routes         string
	timeouts       remote.Timeouts
	// blobs and s3Endpoint place the bytes of a postgres:// end.
	blobs, s3Endpoint string
}

// addFlags adds the endpoint flags under the names aName and bName.
func (p *endpointPair) addFlags(fs *flag.FlagSet, aName, bName string) {
	fs.StringVar(&p.a, aName, "", "the source (the side taken as right): bundled:DIR (a data dir no server holds open) or DIALECT+URL")
	fs.StringVar(&p.b, bName, "", "the destination: bundled:DIR or DIALECT+URL")
	fs.StringVar(&p.aToken, aName+"-token", os.Getenv("DRAGOMAN_"+envName(aName)+"_TOKEN"), "credential for a remote --"+aName+" (default $DRAGOMAN_"+envName(aName)+"_TOKEN)")
	fs.StringVar(&p.bToken, bName+"-token", os.Getenv("DRAGOMAN_"+envName(bName)+"_TOKEN"), "credential for a remote --"+bName+" (default $DRAGOMAN_"+envName(bName)+"_TOKEN)")
	fs.StringVar(&p.routes, "routes", "", "routes.yaml replacing the embedded one (the dialects spoken to remote ends)")
	p.timeouts = remote.DefaultTimeouts
	fs.DurationVar(&p.timeouts.Connect, "connect-timeout", remote.DefaultTimeouts.Connect, "how long to wait for a connection to a remote end")
	fs.DurationVar(&p.timeouts.FirstByte, "timeout", remote.DefaultTimeouts.FirstByte, "how long to wait for a remote end's answer to begin")
	fs.DurationVar(&p.timeouts.Idle, "idle-timeout", remote.DefaultTimeouts.Idle, "how long a transfer may stall")
	fs.StringVar(&p.blobs, "blobs", "", "for an end postgres://...: its S3 bucket, s3://BUCKET[/PREFIX] (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)")
	fs.StringVar(&p.s3Endpoint, "s3-endpoint", "", "with --blobs: the S3 server's URL (default: AWS S3)")
}

func envName(flagName string) string {
	switch flagName {
	case "from":
		return "FROM"
	case "to":
		return "TO"
	case "a":
		return "A"
	}
	return "B"
}

// open opens both ends. A remote end keeps its id map in its own state
// directory under stateDir (never a server's data dir): "from" for the
// first end and "to" for the second, so that a second run, and a reconcile
// given the migration's state dir, know the ids the first run minted.
func (p *endpointPair) open(aName, bName, stateDir string) (a, b upstream.Store, err error) {
	if p.a == "" || p.b == "" {
		return nil, nil, fmt.Errorf("--%s and --%s are both required", aName, bName)
	}
	cfg, name, err := loadRoutes(p.routes)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", name, err)
	}
	open := func(flagName, spec, token, sub string) (upstream.Store, error) {
		if spec == "bundled" {
			return nil, fmt.Errorf("--%s bundled: name the data dir, bundled:DIR", flagName)
		}
		dir := filepath.Join(stateDir, sub)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
		// A remote end's id map is the migration's own: no client reads
		// an MD5 from it.
		return openEndpoint(spec, cfg, endpointOptions{flag: "--" + flagName, token: token, dataDir: dir, timeouts: p.timeouts,
			blobs: p.blobs, s3Endpoint: p.s3Endpoint, noMD5: true})
	}
	if a, err = open(aName, p.a, p.aToken, "from"); err != nil {
		return nil, nil, err
	}
	if b, err = open(bName, p.b, p.bToken, "to"); err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// readRecords reads --records; "" gives nil (every record of the source).
func readRecords(path string) ([]upstream.RecordRef, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--records: %w", err)
	}
	defer f.Close()
	refs, err := migrate.ParseRecords(f)
	if err != nil {
		return nil, fmt.Errorf("--records %s: %w", path, err)
	}
	return refs, nil
}

// isTerminal reports whether w is a terminal, where progress redraws a bar.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// migrateMemoryLimit is the soft heap limit of a migration.
const migrateMemoryLimit = 40 << 20

func migrateCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("migrate", "--from SRC --to DST [--from-token T] [--to-token T] [--records FILE] [--journal FILE] [--report FILE] [--parallel N] [--dry-run]", stdout, stderr)
	var ends endpointPair
	ends.addFlags(fs.FlagSet, "from", "to")
	records := fs.String("records", "", "file of collection/record lines to migrate (default: every record of a bundled source)")
	journal := fs.String("journal", "dragoman-migrate.journal", "the journal that makes the migration resumable")
	reportFile := fs.String("report", "", "write the JSON report to this file")
	parallel := fs.Int("parallel", 4, "files copied at once")
	dryRun := fs.Bool("dry-run", false, "list what would be copied and the totals, writing nothing")
	status := fs.String("status", "", "write the progress as JSON to this file every second, for serve --migrate-status (default: the journal's path + .status)")
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	if *parallel < 1 {
		fmt.Fprintln(stderr, "migrate: --parallel must be at least 1")
		return 2
	}
	refs, err := readRecords(*records)
	if err != nil {
		fmt.Fprintf(stderr, "migrate: %v\n", err)
		return 2
	}
	from, to, err := ends.open("from", "to", *journal+".d")
	if err != nil {
		fmt.Fprintf(stderr, "migrate: %v\n", err)
		return 2
	}
	defer from.Close()
	defer to.Close()
	if refs == nil {
		if _, ok := from.(migrate.Enumerator); !ok {
			fmt.Fprintf(stderr, "migrate: --from %s: %v\n", ends.a, migrate.ErrNoRecords)
			return 2
		}
	}
	opts := migrate.Options{From: from, To: to, Records: refs, Parallel: *parallel, DryRun: *dryRun, Plan: stdout}
	if !*dryRun {
		j, err := migrate.OpenJournal(*journal, ends.a, ends.b)
		if err != nil {
			fmt.Fprintf(stderr, "migrate: %v\n", err)
			return 2
		}
		defer j.Close()
		opts.Journal = j
		opts.Progress = migrate.NewProgress(stderr, isTerminal(stderr))
		opts.Progress.StatusFile, opts.Progress.From, opts.Progress.To = *status, ends.a, ends.b
		if *status == "" {
			opts.Progress.StatusFile = *journal + ".status"
		}
	}
	// The copies stream, so the heap holds buffers and little else; a soft
	// limit has the collector reclaim them before the heap doubles (a
	// remote store spools up to 16 MiB of an upload in memory). GOMEMLIMIT
	// in the environment is the operator's own choice.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(migrateMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var stopProgress func()
	if opts.Progress != nil {
		stopProgress = opts.Progress.Start()
	}
	report, runErr := migrate.Run(ctx, opts)
	if stopProgress != nil {
		stopProgress()
		if err := migrate.WriteStatus(opts.Progress.StatusFile, opts.Progress.Snapshot(finalState(ctx, runErr, &report))); err != nil {
			fmt.Fprintf(stderr, "migrate: %v\n", err)
		}
	}
	if errors.Is(runErr, migrate.ErrNoRecords) {
		fmt.Fprintf(stderr, "migrate: %v\n", runErr)
		return 2
	}
	fmt.Fprintf(stdout, "migrate: %s\n", report.Summary())
	if *reportFile != "" {
		if err := writeReport(*reportFile, &report); err != nil {
			fmt.Fprintf(stderr, "migrate: %v\n", err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "migrate: %v\n", runErr)
		return 1
	}
	if !report.OK() {
		return 1
	}
	return 0
}

// finalState is the state the status file is left in.
func finalState(ctx context.Context, runErr error, r *migrate.Report) string {
	switch {
	case ctx.Err() != nil:
		return migrate.StateCancelled
	case runErr != nil || !r.OK():
		return migrate.StateFailed
	}
	return migrate.StateDone
}

// writeReport writes the JSON report whole or not at all.
func writeReport(path string, r *migrate.Report) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("--report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	return os.Rename(tmp, path)
}
