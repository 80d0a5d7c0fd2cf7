package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema's versions: migrations[i] takes the schema
// from version i to i+1. Each runs in one transaction with the version
// bump, under an advisory lock, so gateways starting together upgrade it
// once. Text columns are COLLATE "C" so that ORDER BY is byte order, as
// the bundled store's keys are.
//
//	records        one row per record; data is its JSON text as stored,
//	               match what a RecordQuery compares (see match.go)
//	attachments    one row per attachment: record_id '' when unlinked;
//	               objects and object_sizes name its bytes in the bucket,
//	               in order (one object, or one per chunk of a chunked
//	               upload); expected_size and digest_state are set while
//	               Append fills it
//	loose_objects  objects no attachment row names: uploads in progress
//	               (touched as they go) and objects released by a delete;
//	               the sweeper removes those not touched for the grace
//	settings       named values shared by every gateway (the link secret)
//	api_keys       the keys (see keys.go)
//	rate_buckets   one token bucket per key, shared by every gateway
var migrations = []string{
	`CREATE TABLE records (
		collection text COLLATE "C" NOT NULL,
		id text COLLATE "C" NOT NULL,
		data text,
		created timestamptz NOT NULL,
		modified timestamptz NOT NULL,
		PRIMARY KEY (collection, id)
	);
	CREATE TABLE attachments (
		id text COLLATE "C" PRIMARY KEY,
		collection text COLLATE "C" NOT NULL,
		record_id text COLLATE "C" NOT NULL,
		field text COLLATE "C" NOT NULL,
		position bigint NOT NULL,
		name text NOT NULL,
		type text NOT NULL,
		size bigint NOT NULL,
		sha256 text NOT NULL,
		md5 text NOT NULL,
		tags text[],
		title text NOT NULL,
		description text NOT NULL,
		category text NOT NULL,
		status text NOT NULL,
		external_id text NOT NULL,
		owner text NOT NULL,
		created timestamptz NOT NULL,
		modified timestamptz NOT NULL,
		has_content boolean NOT NULL,
		objects text[] NOT NULL DEFAULT '{}',
		object_sizes bigint[] NOT NULL DEFAULT '{}',
		expected_size bigint,
		digest_state bytea
	);
	CREATE INDEX attachments_place ON attachments (collection, record_id, field, position);
	CREATE INDEX attachments_unlinked ON attachments (created) WHERE record_id = '';
	CREATE TABLE loose_objects (
		name text COLLATE "C" PRIMARY KEY,
		upload_id text,
		touched timestamptz NOT NULL
	);
	CREATE TABLE settings (
		name text PRIMARY KEY,
		value bytea NOT NULL
	);
	CREATE TABLE api_keys (
		name text PRIMARY KEY,
		key jsonb NOT NULL
	);
	CREATE TABLE rate_buckets (
		key text PRIMARY KEY,
		tokens double precision NOT NULL,
		updated timestamptz NOT NULL,
		allowed boolean NOT NULL
	);`,
	// Version 2: records.match, what a RecordQuery compares (see
	// match.go). Existing rows with data get theirs from backfillMatch at
	// Open; a gateway of version 1 still running during the upgrade
	// inserts rows without data (the default, '{}', is right for those)
	// and changes data without match, which the trigger marks unknown
	// (a gateway of version 2 or later says dragoman.match=on when it
	// connects, and writes match with data).
	`ALTER TABLE records ADD COLUMN match jsonb;
	ALTER TABLE records ALTER COLUMN match SET DEFAULT '{}';
	UPDATE records SET match = '{}' WHERE data IS NULL;
	CREATE INDEX records_match ON records USING gin (match jsonb_path_ops);
	CREATE INDEX records_match_unknown ON records (collection) WHERE match IS NULL OR match = 'null';
	CREATE FUNCTION records_match_stale() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		NEW.match := NULL;
		RETURN NEW;
	END $$;
	CREATE TRIGGER records_match_stale BEFORE UPDATE OF data ON records FOR EACH ROW
		WHEN (NEW.data IS DISTINCT FROM OLD.data AND current_setting('dragoman.match', true) IS DISTINCT FROM 'on')
		EXECUTE FUNCTION records_match_stale();`,
	// A download by name reads the files of that name (ListNamed), not
	// its record's thousands.
	`CREATE INDEX attachments_name ON attachments (collection, record_id, name);`,
}

// SchemaVersion is the schema version this binary creates and expects.
var SchemaVersion = len(migrations)

// schemaLock is the advisory lock key that serialises migrations.
const schemaLock = 0x647261676f6d616e // "dragoman"

// migrate brings the schema to SchemaVersion and reports the version it
// found. A schema newer than this binary's is refused: an older gateway
// must not write rows it does not understand.
func migrate(ctx context.Context, conn *pgx.Conn) (found int, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
		return 0, fmt.Errorf("lock schema: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS dragoman_schema (version integer NOT NULL)`); err != nil {
		return 0, fmt.Errorf("create schema table: %w", err)
	}
	err = tx.QueryRow(ctx, `SELECT version FROM dragoman_schema`).Scan(&found)
	if err == pgx.ErrNoRows {
		if _, err := tx.Exec(ctx, `INSERT INTO dragoman_schema (version) VALUES (0)`); err != nil {
			return 0, err
		}
		found = 0
	} else if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if found > SchemaVersion {
		return found, fmt.Errorf("the database's schema is version %d, newer than this binary's %d: upgrade dragoman", found, SchemaVersion)
	}
	for v := found; v < SchemaVersion; v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return found, fmt.Errorf("migrate schema to version %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE dragoman_schema SET version = $1`, SchemaVersion); err != nil {
		return found, err
	}
	return found, tx.Commit(ctx)
}
