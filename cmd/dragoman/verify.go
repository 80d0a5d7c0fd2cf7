package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/dragoman-gw/dragoman/upstream/bundled"
)

func verifyCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", "--data DIR", stdout, stderr)
	data := fs.String("data", "./data", "data directory of the gateway (served or not)")
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	found := func(p bundled.Problem) { fmt.Fprintln(stdout, p) }
	rep, how, err := runVerify(ctx, *data, found)
	if err != nil {
		fmt.Fprintf(stderr, "dragoman verify: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "verified %s, %d bytes (%s): %d missing or corrupt\n", files(rep.Checked), rep.Bytes, how, len(rep.Problems))
	if len(rep.Problems) > 0 {
		return 1
	}
	return 0
}

// runVerify verifies the store of dataDir through the running server's
// control socket or, when none answers, by opening it.
func runVerify(ctx context.Context, dataDir string, found func(bundled.Problem)) (bundled.VerifyReport, string, error) {
	client, err := dialControl(dataDir)
	if err != nil {
		return bundled.VerifyReport{}, "", err
	}
	if client == nil {
		store, err := openStoreOffline(dataDir)
		if err != nil {
			return bundled.VerifyReport{}, "", err
		}
		defer store.Close()
		rep, err := store.Verify(ctx, found)
		return rep, "offline", err
	}
	const how = "online, through the running server"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://dragoman/verify", nil)
	if err != nil {
		return bundled.VerifyReport{}, how, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return bundled.VerifyReport{}, how, fmt.Errorf("ask the server to verify: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return bundled.VerifyReport{}, how, fmt.Errorf("ask the server to verify: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line verifyLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return bundled.VerifyReport{}, how, fmt.Errorf("the server's answer: %w", err)
		}
		switch {
		case line.Problem != nil:
			found(*line.Problem)
		case line.Report != nil:
			return *line.Report, how, nil
		case line.Error != "":
			return bundled.VerifyReport{}, how, errors.New(line.Error)
		}
	}
	if err := sc.Err(); err != nil {
		return bundled.VerifyReport{}, how, fmt.Errorf("the server's answer: %w", err)
	}
	return bundled.VerifyReport{}, how, errors.New("the server's answer ended before its report")
}
