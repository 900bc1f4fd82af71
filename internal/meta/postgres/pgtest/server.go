package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/testproc"
)

var errNoBinaries = errors.New("PostgreSQL binaries (initdb, postgres, pg_ctl) not found; `make tools` installs them")

// server is a running postmaster, a child of the test binary.
type server struct {
	bin  string // directory with initdb, postgres, pg_ctl
	root string // temporary directory: data/, the socket, postgres.log
	port int
	cred *syscall.Credential // run as the postgres user (when root), or nil
	proc *testproc.Process
}

func startServer() (*server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &server{bin: bin}
	if os.Geteuid() == 0 { // initdb and postgres refuse to run as root
		if s.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if s.root, err = tempRoot(s.cred != nil); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.root, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(s.root)
			return nil, err
		}
	}
	if err := s.initdb(); err != nil {
		os.RemoveAll(s.root)
		return nil, err
	}
	// The free port can be taken between the probe and the bind: try again.
	for range 3 {
		if err = s.run(); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(s.root)
	return nil, err
}

// findBin prefers PostgreSQL 15 (what Debian 12 ships), then any other
// installed major version, then whatever PATH has.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs) // newest first (good enough for two-digit versions)
	dirs = append([]string{"/usr/lib/postgresql/15/bin"}, dirs...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		ok := true
		for _, b := range []string{"initdb", "postgres", "pg_ctl"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.Mode()&0o111 == 0 {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", errNoBinaries
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// tempRoot makes the server's directory. Another user can only reach it if
// every parent lets others search it (o+x), which a 0700 temporary
// directory (t.TempDir, TMPDIR from some tools) does not: then use /tmp.
func tempRoot(otherUser bool) (string, error) {
	bases := []string{os.TempDir()}
	if otherUser {
		bases = append(bases, "/tmp")
	}
	for _, base := range bases {
		if otherUser && !searchable(base) {
			continue
		}
		dir, err := os.MkdirTemp(base, "berth-pgtest-")
		if err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
		return dir, nil
	}
	return "", fmt.Errorf("no temporary directory the postgres user can reach (tried %v; each parent needs o+x)", bases)
}

func searchable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// command prepares a PostgreSQL binary to run as the server's user, with
// an environment of our own (no PG* variables from the caller's).
func (s *server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C", "LC_ALL=C"}
	cmd.Dir = s.root
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *server) data() string { return filepath.Join(s.root, "data") }

// initdb makes the cluster. The ICU default collation is not byte order,
// so tests catch ORDER BY clauses that forgot COLLATE "C"; without ICU,
// the C locale.
func (s *server) initdb() error {
	var err error
	for _, locale := range [][]string{
		{"--locale-provider=icu", "--icu-locale=en-US", "--locale=C.UTF-8"},
		{"--locale=C"},
	} {
		os.RemoveAll(s.data())
		args := append([]string{"-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"}, locale...)
		out, cerr := s.command("initdb", args...).CombinedOutput()
		if cerr == nil {
			return nil
		}
		err = errors.Join(err, fmt.Errorf("initdb %v: %w\n%s", locale, cerr, out))
	}
	return err
}

// run starts the postmaster on a free port and waits until it accepts
// connections.
func (s *server) run() error {
	port, err := freeport.Port()
	if err != nil {
		return err
	}
	s.port = port
	cmd := s.command("postgres", "-D", s.data(),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+s.root,
		"-c", "max_connections=200",
		// Durability is not what these tests are about.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	// SIGQUIT: immediate shutdown if we die.
	if s.proc, err = testproc.Start(cmd, filepath.Join(s.root, "postgres.log"), syscall.SIGQUIT); err != nil {
		return err
	}
	return s.proc.WaitReady(30*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		if err == nil {
			conn.Close(context.Background())
		}
		return err
	})
}

// stop shuts the server down (fast: sessions are ended, no waiting for
// clients) and removes its directory.
func (s *server) stop() error {
	out, err := s.command("pg_ctl", "stop", "-D", s.data(), "-m", "fast", "-w", "-t", "30").CombinedOutput()
	if err != nil {
		err = fmt.Errorf("pg_ctl stop: %w: %s", err, bytes.TrimSpace(out))
	}
	select {
	case <-s.proc.Exited():
	case <-time.After(30 * time.Second):
		// SIGQUIT makes the postmaster end its backends too; SIGKILL if
		// even that hangs.
		s.proc.Stop(syscall.SIGQUIT, 10*time.Second)
	}
	return errors.Join(err, os.RemoveAll(s.root))
}
