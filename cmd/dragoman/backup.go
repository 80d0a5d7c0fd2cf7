package main

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dragoman-gw/dragoman/upstream/bundled"
)

func backupCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup", "--data DIR --out FILE", stdout, stderr)
	data := fs.String("data", "./data", "data directory of the gateway (served or not)")
	out := fs.String("out", "", "the backup file to write (a tar archive; required; - for stdout)")
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	if *out == "" {
		return fs.fail("--out is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, how, err := takeBackup(ctx, *data, *out, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "dragoman backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "dragoman backup: %s (%s): %s, %d bytes, and %s\n", *out, how, files(m.Blobs), m.Bytes, strings.Join(append([]string{"meta.db"}, m.Files...), ", "))
	if len(m.Problems) > 0 {
		for _, p := range m.Problems {
			fmt.Fprintf(stderr, "dragoman backup: damaged in the source: %s\n", p)
		}
		fmt.Fprintf(stderr, "dragoman backup: the backup is written, but %d files of the data dir were damaged (run dragoman verify)\n", len(m.Problems))
		return 1
	}
	return 0
}

// takeBackup writes the backup of dataDir to out, through the running
// server's control socket or, when none answers, from the store itself.
// The stream is read as it is written, and counts as whole only if its
// manifest comes last and agrees; a file is written under a temporary
// name, fsynced and only then renamed to out. how says which way it went.
func takeBackup(ctx context.Context, dataDir, out string, stdout io.Writer) (m backupManifest, how string, err error) {
	client, err := dialControl(dataDir)
	if err != nil {
		return m, "", err
	}
	var stream io.ReadCloser
	if client != nil {
		how = "online, from the running server"
		stream, err = backupFromServer(ctx, client)
	} else {
		how = "offline: no server is running on " + dataDir
		stream, err = backupFromStore(ctx, dataDir)
	}
	if err != nil {
		return m, how, err
	}
	defer stream.Close()
	if out == "-" {
		m, err = copyCheckedBackup(stdout, stream)
		return m, how, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return m, how, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if m, err = copyCheckedBackup(tmp, stream); err != nil {
		return m, how, err
	}
	if err = tmp.Sync(); err != nil {
		return m, how, err
	}
	if err = tmp.Close(); err != nil {
		return m, how, err
	}
	if err = os.Rename(tmp.Name(), out); err != nil {
		return m, how, err
	}
	return m, how, syncDir(filepath.Dir(out))
}

func backupFromServer(ctx context.Context, client *http.Client) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dragoman/backup", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the server for a backup: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("ask the server for a backup: %s", resp.Status)
	}
	return resp.Body, nil
}

// backupFromStore opens the store of a data dir no server holds and
// streams its backup; closing the stream waits for the writer to stop.
func backupFromStore(ctx context.Context, dataDir string) (io.ReadCloser, error) {
	store, err := openStoreOffline(dataDir)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer store.Close()
		_, err := writeBackup(ctx, store, dataDir, pw)
		pw.CloseWithError(err)
	}()
	return ownedReader{pr, done}, nil
}

// ownedReader is a pipe's reading end whose Close also waits for the
// goroutine writing the other end.
type ownedReader struct {
	*io.PipeReader
	done <-chan struct{}
}

func (o ownedReader) Close() error {
	err := o.PipeReader.Close() // a writer still going fails at once
	<-o.done
	return err
}

// copyCheckedBackup copies a backup stream to w while reading it as a
// tar archive, and returns its manifest: the stream is whole only if the
// manifest comes last and counts what came before it.
func copyCheckedBackup(w io.Writer, r io.Reader) (backupManifest, error) {
	var m backupManifest
	tr := tar.NewReader(io.TeeReader(r, w))
	blobs, bytes, seenManifest := 0, int64(0), false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, fmt.Errorf("the backup stream is broken (cut short?): %w", err)
		}
		if seenManifest {
			return m, fmt.Errorf("entry %q after the manifest", hdr.Name)
		}
		switch name, inStore := strings.CutPrefix(hdr.Name, storeEntryRoot); {
		case hdr.Name == manifestName:
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return m, fmt.Errorf("manifest: %w", err)
			}
			seenManifest = true
		case inStore && name != "meta.db":
			blobs++
			bytes += hdr.Size
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return m, fmt.Errorf("the backup stream is broken (cut short?): %w", err)
		}
	}
	// Drain the tar's end-of-archive padding into w too.
	if _, err := io.Copy(io.Discard, io.TeeReader(r, w)); err != nil {
		return m, err
	}
	if !seenManifest {
		return m, fmt.Errorf("no %s at the end: the backup is incomplete", manifestName)
	}
	if m.Blobs != blobs || m.Bytes != bytes {
		return m, fmt.Errorf("the manifest counts %d files of %d bytes, the archive holds %d of %d", m.Blobs, m.Bytes, blobs, bytes)
	}
	return m, nil
}

func restoreCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("restore", "--from FILE --data DIR", stdout, stderr)
	from := fs.String("from", "", "the backup file, as dragoman backup wrote it (required)")
	data := fs.String("data", "", "the data directory to create: it must not exist, or be empty (required)")
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	if *from == "" || *data == "" {
		return fs.fail("--from and --data are required")
	}
	m, rep, err := restore(*from, *data)
	if err != nil {
		fmt.Fprintf(stderr, "dragoman restore: %v\n", err)
		return 1
	}
	for _, p := range m.Problems {
		fmt.Fprintf(stderr, "dragoman restore: damaged when the backup was taken: %s\n", p)
	}
	fmt.Fprintf(stdout, "restored %s into %s: %s, %d bytes, every one verified; also %s\n",
		*from, *data, files(rep.Checked), rep.Bytes, strings.Join(append([]string{"meta.db"}, m.Files...), ", "))
	if len(m.Problems) > 0 {
		return 1
	}
	return 0
}

// restore unpacks the backup at from into a new directory beside dataDir,
// opens and verifies the store there, and only then renames it to dataDir.
// Nothing is left at dataDir if any step fails.
func restore(from, dataDir string) (backupManifest, bundled.VerifyReport, error) {
	var m backupManifest
	var rep bundled.VerifyReport
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return m, rep, fmt.Errorf("%s is not empty: restore into a new directory (then stop the server and swap them)", dataDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return m, rep, err
	}
	f, err := os.Open(from)
	if err != nil {
		return m, rep, err
	}
	defer f.Close()
	parent := filepath.Dir(filepath.Clean(dataDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return m, rep, err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(parent, "."+filepath.Base(dataDir)+".restore-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return m, rep, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if m, err = unpackBackup(f, tmp); err != nil {
		return m, rep, err
	}
	store, err := bundled.Open(filepath.Join(tmp, "store"))
	if err != nil {
		return m, rep, err
	}
	rep, err = store.Verify(context.Background(), nil)
	store.Close()
	if err != nil {
		return m, rep, err
	}
	known := map[string]bool{}
	for _, p := range m.Problems {
		known[p.ID] = true
	}
	for _, p := range rep.Problems {
		if !known[p.ID] {
			return m, rep, fmt.Errorf("the restored store does not verify: %s", p)
		}
	}
	if err := os.Remove(dataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return m, rep, err
	}
	if err := os.Rename(tmp, dataDir); err != nil {
		return m, rep, err
	}
	ok = true
	return m, rep, syncDir(parent)
}

// unpackBackup writes every entry of the backup r into dir, refusing any
// name a backup does not have, and checks it against its manifest.
func unpackBackup(r io.Reader, dir string) (backupManifest, error) {
	var m backupManifest
	tr := tar.NewReader(r)
	storeDir := filepath.Join(dir, "store")
	blobs, bytes, seenManifest := 0, int64(0), false
	var files []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, fmt.Errorf("read backup: %w", err)
		}
		if seenManifest {
			return m, fmt.Errorf("read backup: entry %q after the manifest", hdr.Name)
		}
		if hdr.Typeflag != tar.TypeReg {
			return m, fmt.Errorf("read backup: %q is not a regular file", hdr.Name)
		}
		name, inStore := strings.CutPrefix(hdr.Name, storeEntryRoot)
		switch {
		case hdr.Name == manifestName:
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return m, fmt.Errorf("read backup: manifest: %w", err)
			}
			seenManifest = true
		case inStore:
			if err := bundled.RestoreEntry(storeDir, name, tr); err != nil {
				return m, err
			}
			if name != "meta.db" {
				blobs++
				bytes += hdr.Size
			}
		case slices.Contains(dataDirFiles(), hdr.Name) && !slices.Contains(files, hdr.Name):
			if err := writeFileSync(filepath.Join(dir, hdr.Name), tr); err != nil {
				return m, err
			}
			files = append(files, hdr.Name)
		default:
			return m, fmt.Errorf("read backup: unexpected entry %q", hdr.Name)
		}
	}
	switch {
	case !seenManifest:
		return m, fmt.Errorf("read backup: no %s at the end: the backup is incomplete", manifestName)
	case m.Format != backupFormat:
		return m, fmt.Errorf("read backup: format %d, this dragoman reads %d", m.Format, backupFormat)
	case m.Blobs != blobs || m.Bytes != bytes:
		return m, fmt.Errorf("read backup: the manifest counts %d files of %d bytes, the archive holds %d of %d", m.Blobs, m.Bytes, blobs, bytes)
	case !slices.Equal(m.Files, files):
		return m, fmt.Errorf("read backup: the manifest lists %q, the archive holds %q", m.Files, files)
	}
	if _, err := os.Stat(filepath.Join(storeDir, "meta.db")); err != nil {
		return m, fmt.Errorf("read backup: no store/meta.db")
	}
	if err := bundled.SyncRestored(dir); err != nil {
		return m, err
	}
	return m, nil
}

// writeFileSync writes r to a new file at path (0600) and fsyncs it.
func writeFileSync(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory, making the names created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// files is "1 file" or "N files".
func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

// backupManifest is the last entry of a backup: what it holds, so a
// truncated copy is told from a whole one.
type backupManifest struct {
	Format   int               `json:"format"`
	Schema   uint64            `json:"schema"`
	Version  string            `json:"dragoman"`
	Created  time.Time         `json:"created"`
	Blobs    int               `json:"blobs"`
	Bytes    int64             `json:"bytes"`
	Files    []string          `json:"files"` // the entries besides the store's
	Problems []bundled.Problem `json:"problems,omitempty"`
}

const (
	manifestName   = "dragoman-backup.json"
	backupFormat   = 1
	storeEntryRoot = "store/"
)

// dataDirFiles are the files of a data dir besides the store that a
// backup carries: the keys and the link signing secret.
func dataDirFiles() []string { return []string{"keys.json", "link.key"} }

// writeBackup writes the backup of dataDir, whose store is open as store,
// to w as a tar stream: the store (see bundled.Store.Backup), keys.json
// and link.key, then the manifest.
func writeBackup(ctx context.Context, store *bundled.Store, dataDir string, w io.Writer) (backupManifest, error) {
	tw := tar.NewWriter(w)
	st, err := store.Backup(ctx, tw, storeEntryRoot)
	if err != nil {
		return backupManifest{}, err
	}
	m := backupManifest{Format: backupFormat, Version: currentVersion(),
		Created: time.Now().UTC(), Blobs: st.Blobs, Bytes: st.Bytes, Problems: st.Problems}
	_, m.Schema = store.Schema()
	for _, name := range dataDirFiles() {
		// keys.json is replaced by rename, never edited in place: what we
		// read is one whole version of it.
		data, err := os.ReadFile(filepath.Join(dataDir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return m, fmt.Errorf("backup %s: %w", name, err)
		}
		if err := writeTarFile(tw, name, data); err != nil {
			return m, err
		}
		m.Files = append(m.Files, name)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if err := writeTarFile(tw, manifestName, append(data, '\n')); err != nil {
		return m, err
	}
	return m, tw.Close()
}

func writeTarFile(tw *tar.Writer, name string, data []byte) error {
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: time.Now().UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}
