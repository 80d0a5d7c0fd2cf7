// Package keys holds the API keys of the gateway: created by the CLI,
// checked by the server.
//
// Keys live in DIR/keys.json, a JSON array of entries. The file holds only
// the sha256 of each secret, never the secret itself. Writers (Create, Revoke, Rotate)
// serialize on an exclusive flock of DIR/keys.lock and replace keys.json
// atomically (temp file, fsync, rename, fsync of the directory), so the
// CLI may add, revoke and rotate keys while a server is reading the same
// directory. The server holds a Ring, which notices a new file on the next
// authentication.
package keys
