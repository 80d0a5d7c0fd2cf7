package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dragoman-gw/dragoman/upstream/pgstore"
	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

// isPostgres reports whether an endpoint names the PostgreSQL + S3 store.
func isPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// openTimeout bounds connecting to PostgreSQL and S3 at start.
const openTimeout = 30 * time.Second

// openPostgres opens the store of postgres://... with its bytes in the
// bucket blobs (s3://BUCKET[/PREFIX]) at endpoint, signed with the AWS_*
// credentials of the environment.
func openPostgres(flag, spec, blobs, endpoint string) (*pgstore.Store, error) {
	if blobs == "" {
		return nil, fmt.Errorf("%s postgres://...: --blobs s3://BUCKET is required (the bytes go to an S3 bucket)", flag)
	}
	cfg, err := s3blobs.FromEnv(blobs, endpoint, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	s, err := pgstore.Open(ctx, pgstore.Options{DatabaseURL: spec, Blobs: cfg})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return s, nil
}

// openKeyStore opens the keys of the PostgreSQL store at spec, for the
// keys commands.
func openKeyStore(spec string) (*pgstore.KeyStore, error) {
	if !isPostgres(spec) {
		return nil, fmt.Errorf("--upstream %q: the keys commands take postgres://USER:PASS@HOST:PORT/DB (or --data for keys.json)", spec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	return pgstore.OpenKeyStore(ctx, spec)
}
