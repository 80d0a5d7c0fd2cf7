package e2e

import (
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerUID is the user the Dockerfile runs the gateway as.
const containerUID = 65532

// TestStaticBuildRunsAsTheImageDoes builds the binary the way the
// Dockerfile does (deploy/build-static.sh), checks that it needs no
// dynamic loader or library, and, as root, runs it as the image would:
// chrooted into a directory holding only /dragoman and /data (what FROM
// scratch gives), as the image's non-root user, its data dir a directory
// only that user may enter. There is no Docker engine to test the image
// itself; this is everything in it but the engine.
func TestStaticBuildRunsAsTheImageDoes(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// What this test stands in for is the Dockerfile: hold them together.
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deploy/build-static.sh /out/dragoman", "FROM scratch", "COPY --from=build /out/dragoman /dragoman",
		fmt.Sprintf("USER %d:%d", containerUID, containerUID), fmt.Sprintf("--chown=%d:%d /out/rootfs/ /", containerUID, containerUID),
		"chmod 0700 /out/rootfs/data", "VOLUME /data", `ENTRYPOINT ["/dragoman"]`, `CMD ["serve", "--listen", "0.0.0.0:8080", "--data", "/data"]`} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("the Dockerfile no longer says %q: update this test with it", want)
		}
	}
	image := t.TempDir()
	if err := os.Chmod(image, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(image, "dragoman")
	build := exec.Command(filepath.Join(root, "deploy", "build-static.sh"), bin)
	build.Env = append(os.Environ(), "VERSION=v0.0.0-e2e", "COMMIT=e2e0000000000000000000000000000000000000")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build-static.sh: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP): it would not start FROM scratch")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %q", libs)
	}
	f.Close()
	code, stdout, _ := dragomanAt(t, bin, "version")
	if want := "dragoman v0.0.0-e2e commit e2e0000000000000000000000000000000000000\n"; code != 0 || stdout != want {
		t.Errorf("version: %d %q, want %q", code, stdout, want)
	}

	if os.Geteuid() != 0 {
		t.Skip("chroot and a switch of user need root (CI runs as root); the static build is checked above")
	}
	data := filepath.Join(image, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, containerUID, containerUID); err != nil {
		t.Fatal(err)
	}
	inImage := func(args ...string) *exec.Cmd {
		cmd := exec.Command("/dragoman", args...)
		cmd.Path = "/dragoman" // resolved inside the chroot, not here
		cmd.Dir = "/"
		cmd.Env = []string{} // scratch has no environment but what docker sets
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: image,
			Credential: &syscall.Credential{Uid: containerUID, Gid: containerUID}}
		return cmd
	}
	out, err := inImage("keys", "create", "--data", "/data", "--name", "docker").Output()
	if err != nil {
		t.Fatalf("keys create in the image: %v", err)
	}
	key := strings.TrimSpace(string(out))

	addr := freeAddr(t)
	srv := inImage("serve", "--listen", addr, "--data", "/data")
	var log syncBuffer
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the gateway in the image did not exit cleanly on SIGTERM: %v\n%s", err, log.String())
			}
		case <-time.After(stopTimeout):
			srv.Process.Kill()
			t.Errorf("the gateway in the image did not stop on SIGTERM")
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(healthTimeout)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway in the image is not ready: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := nx{gw: &gateway{base: base}, key: key}
	c.upload(t, "inv", "1", "", "a.txt", []byte("from the image"), "text/plain")
	if got := c.content(t, "inv", "1", "", "a.txt"); string(got) != "from the image" {
		t.Errorf("download in the image: %q", got)
	}
	// Everything the gateway wrote belongs to the image's user.
	err = filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != containerUID {
			t.Errorf("%s belongs to uid %d, want %d", p, st.Uid, containerUID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An online backup from inside the image, through its control socket.
	if out, err := inImage("backup", "--data", "/data", "--out", "/data/backup.tar").CombinedOutput(); err != nil || !strings.Contains(string(out), "online") {
		t.Errorf("backup in the image: %v: %s", err, out)
	}
}
