package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dragoman-gw/dragoman/keys"
)

// CreateKey stores a new key (see keys.New) and returns its secret; only
// the secret's sha256 is stored. A name in use is keys.ErrNameTaken.
func (s *KeyStore) CreateKey(ctx context.Context, name string, readOnly bool, collections []string, opts ...keys.Option) (string, error) {
	k, secret, err := keys.New(name, readOnly, collections, opts...)
	if err != nil {
		return "", err
	}
	doc, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	tag, err := s.db.Exec(ctx, `INSERT INTO api_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, doc)
	if err != nil {
		return "", fmt.Errorf("create key %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return "", fmt.Errorf("create key %q: %w", name, keys.ErrNameTaken)
	}
	return secret, nil
}

// RevokeKey deletes a key; an unknown name is keys.ErrNoSuchKey.
func (s *KeyStore) RevokeKey(ctx context.Context, name string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM api_keys WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("revoke key %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke key %q: %w", name, keys.ErrNoSuchKey)
	}
	return nil
}

// RotateKey gives the key named name a new secret (see keys.Key.Rotated)
// and returns it; an unknown name is keys.ErrNoSuchKey. The row is
// locked from read to write, so two rotations of one key never both
// believe theirs is the secret.
func (s *KeyStore) RotateKey(ctx context.Context, name string) (string, error) {
	var secret string
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var doc []byte
		err := tx.QueryRow(ctx, `SELECT key FROM api_keys WHERE name = $1 FOR UPDATE`, name).Scan(&doc)
		if err == pgx.ErrNoRows {
			return keys.ErrNoSuchKey
		}
		if err != nil {
			return err
		}
		var k keys.Key
		if err := json.Unmarshal(doc, &k); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if k, secret, err = k.Rotated(); err != nil {
			return err
		}
		if doc, err = json.Marshal(k); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET key = $2 WHERE name = $1`, name, doc)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("rotate key %q: %w", name, err)
	}
	return secret, nil
}

// Keys returns every key, in creation order.
func (s *KeyStore) Keys(ctx context.Context) ([]keys.Key, error) {
	rows, err := s.db.Query(ctx, `SELECT key FROM api_keys ORDER BY key->>'created', name`)
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	defer rows.Close()
	var out []keys.Key
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("load keys: %w", err)
		}
		var k keys.Key
		if err := json.Unmarshal(doc, &k); err != nil {
			return nil, fmt.Errorf("load keys: decode: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// KeyRefresh is how soon a key created or revoked through one gateway
// counts on the others.
const KeyRefresh = time.Second

// Ring is the server's view of the keys in the database (see
// keys.NewSourceRing).
func (s *KeyStore) Ring() (*keys.Ring, error) {
	return keys.NewSourceRing(func() ([]keys.Key, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.Keys(ctx)
	}, KeyRefresh)
}

// Secret returns the 32-byte secret named name that every gateway shares
// (the link signing secret), making it on first use: the first gateway's
// insert wins and all read the winner.
func (s *KeyStore) Secret(ctx context.Context, name string) ([]byte, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if _, err := s.db.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, b); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if err := s.db.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&b); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return b, nil
}

// KeyStore is the keys, shared secrets and rate limits in the database,
// which the keys commands use without the bucket.
type KeyStore struct {
	db *pgxpool.Pool
}

// KeyStore returns the store's key store, on its connection pool.
func (s *Store) KeyStore() *KeyStore { return &KeyStore{db: s.db} }

// OpenKeyStore connects to the database at url (creating or upgrading the
// schema) for the keys alone.
func OpenKeyStore(ctx context.Context, url string) (*KeyStore, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errMalformedURL
	}
	db, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	conn, err := db.Acquire(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s:%d: %w", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, err)
	}
	_, err = migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		db.Close()
		return nil, err
	}
	return &KeyStore{db: db}, nil
}

// Close closes the key store's own pool (one from OpenKeyStore).
func (s *KeyStore) Close() { s.db.Close() }
