// Package testbackends starts the servers the PostgreSQL and S3 store is
// tested against: a throwaway PostgreSQL cluster (Debian's postgresql
// package) and a versitygw S3 server on a posix directory, each in a temp
// dir on a free loopback port. Only tests import it.
//
// When a server cannot start the test fails with the reason. The one
// exception is a developer machine without the binaries: with CI unset,
// a missing postgres or versitygw skips, saying what to install. Under
// CI=true (as .ci/run sets) it fails like any other cause.
package testbackends

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

// Servers is one PostgreSQL cluster and one S3 server, started on first
// use and shared by the tests of one test binary (starting them costs
// seconds; each test gets a schema and a key prefix of its own). The
// package's TestMain owns it and calls Stop.
type Servers struct {
	once sync.Once
	err  error
	// missing is set when a binary is absent (skippable off CI).
	missing bool

	dir      string
	pg, s3   *exec.Cmd
	pgPort   int
	s3Port   int
	password string
}

// Backend is what one test gets: a database URL whose search_path is a
// schema of its own, and an S3 config whose prefix is its own.
type Backend struct {
	// DatabaseURL is postgres://USER:PASS@127.0.0.1:PORT/DB?search_path=SCHEMA.
	DatabaseURL string
	// AdminURL is the same database without the search_path.
	AdminURL string
	// S3 is the bucket, endpoint and credentials, with a fresh prefix.
	S3 s3blobs.Config
	// BlobsURL is s3://BUCKET/PREFIX, as serve's --blobs takes it.
	BlobsURL string
	// Env is AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=..., AWS_REGION=...
	Env []string
}

const (
	bucket    = "dragoman-test"
	accessKey = "dragomantest"
	secretKey = "dragomantestsecret"
)

// Get returns a fresh backend, starting the servers on first use. It
// fails t when they cannot start (or skips, see the package doc).
func (s *Servers) Get(t testing.TB) Backend {
	t.Helper()
	s.once.Do(func() { s.err = s.start() })
	if s.err != nil {
		if s.missing && os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL/S3 tests skipped (CI unset): %v", s.err)
		}
		t.Fatalf("start PostgreSQL and S3 servers: %v", s.err)
	}
	name := "t_" + randHex(6)
	admin := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres", s.password, s.pgPort)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	cfg := s3blobs.Config{Bucket: bucket, Prefix: name + "/", Endpoint: fmt.Sprintf("http://127.0.0.1:%d", s.s3Port),
		Region: "us-east-1", AccessKey: accessKey, SecretKey: secretKey}
	return Backend{
		DatabaseURL: admin + "?search_path=" + name,
		AdminURL:    admin,
		S3:          cfg,
		BlobsURL:    "s3://" + bucket + "/" + name,
		Env:         []string{"AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey, "AWS_REGION=us-east-1"},
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Stop stops the servers and removes their files.
func (s *Servers) Stop() {
	for _, c := range []*exec.Cmd{s.s3, s.pg} {
		if c != nil && c.Process != nil {
			// SIGINT is PostgreSQL's fast shutdown; versitygw exits on it.
			_ = c.Process.Signal(syscall.SIGINT)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = c.Process.Kill()
				<-done
			}
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func (s *Servers) start() error {
	pgBin, err := postgresBin()
	if err != nil {
		s.missing = true
		return err
	}
	vgw, err := versitygwBin()
	if err != nil {
		s.missing = true
		return err
	}
	if s.dir, err = os.MkdirTemp("", "dragoman-backends-*"); err != nil {
		return err
	}
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	if err := s.startPostgres(pgBin); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.startS3(vgw); err != nil {
		return fmt.Errorf("versitygw: %w", err)
	}
	return nil
}

// postgresBin finds the directory of initdb and postgres: Debian keeps
// them out of PATH, under /usr/lib/postgresql/VERSION/bin.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (apt-get install postgresql)")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func versitygwBin() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", errors.New("no versitygw binary (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
}

// asUser runs cmd as nobody when the tests run as root: postgres refuses
// to run as root.
func asUser(cmd *exec.Cmd, dirs ...string) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("postgres cannot run as root and there is no user nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, d := range dirs {
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Servers) startPostgres(bin string) error {
	data := filepath.Join(s.dir, "pg")
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	s.password = randHex(12)
	pwfile := filepath.Join(s.dir, "pgpass")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o644); err != nil {
		return err
	}
	var out bytes.Buffer
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile,
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.Stdout, initdb.Stderr = &out, &out
	if err := asUser(initdb, data); err != nil {
		return err
	}
	if err := initdb.Run(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out.Bytes())
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.pgPort = port
	logf, err := os.Create(filepath.Join(s.dir, "pg.log"))
	if err != nil {
		return err
	}
	// Durability is not what these tests check: without fsync a cluster
	// shared by parallel test binaries on two cores stays fast.
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", "",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := asUser(cmd); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.pg = cmd
	url := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres", s.password, port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("not accepting connections after 30s: %v; log: %s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Servers) startS3(bin string) error {
	root := filepath.Join(s.dir, "s3")
	if err := os.Mkdir(root, 0o700); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.s3Port = port
	logf, err := os.Create(filepath.Join(s.dir, "s3.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet", "posix", root)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.s3 = cmd
	b, err := s3blobs.New(s3blobs.Config{Bucket: bucket, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		Region: "us-east-1", AccessKey: accessKey, SecretKey: secretKey})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := b.CreateBucket(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("bucket not created after 30s: %v; log: %s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
