package browser

import (
	"bytes"
	"encoding/json"
	"errors"
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

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/syncbuf"
)

// adminPassword is the password of the built-in admin of every server.
const adminPassword = "browser-admin-pw"

// server is one berth process with access control on.
type server struct {
	// Host is host:port on 127.0.0.1.
	Host string

	cmd    *exec.Cmd
	output *syncbuf.Buffer
	exited chan struct{}
}

// URL is an http URL on the server.
func (s *server) URL(path string) string { return "http://" + s.Host + path }

// startServer starts berth with builtin users, an admin password, GC on
// demand with no grace period, on a free port; it stops when the test ends
// (the server's log is printed if the test failed).
func startServer(t testing.TB) *server {
	t.Helper()
	return startServerEnv(t, nil)
}

// startServerEnv is startServer with more BERTH_* settings.
func startServerEnv(t testing.TB, extraEnv []string) *server {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStartServer(t, extraEnv)
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("start berth: %v", lastErr)
	return nil
}

var errPortTaken = errors.New("port taken")

func tryStartServer(t testing.TB, extraEnv []string) (*server, error) {
	dir := t.TempDir()
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	s := &server{Host: fmt.Sprintf("127.0.0.1:%d", port), output: &syncbuf.Buffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(serverBin, "serve", "--addr", s.Host, "--data", filepath.Join(dir, "data"))
	s.cmd.Env = append(serverEnv(),
		"BERTH_AUTH_MODE=builtin", "BERTH_AUTH_ADMIN_PASSWORD="+adminPassword, "BERTH_AUTH_BCRYPT_COST=4",
		"BERTH_GC_INTERVAL=0s", "BERTH_GC_GRACE_PERIOD=0s", "BERTH_LOG_LEVEL=warn")
	s.cmd.Env = append(s.cmd.Env, extraEnv...)
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(15 * time.Second); err != nil {
		s.cmd.Process.Kill()
		<-s.exited
		if strings.Contains(s.output.String(), "address already in use") {
			return nil, fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, fmt.Errorf("%v\nserver output:\n%s", err, s.output.String())
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			t.Errorf("berth did not stop 15 s after SIGTERM")
		}
		if t.Failed() || os.Getenv("BROWSER_TRACE") == "1" {
			t.Logf("berth output:\n%s", s.output.String())
		}
	})
	return s, nil
}

// serverEnv is the environment less this package's own BERTH_ variables,
// which berth would refuse as unknown configuration keys.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_SCREENSHOTS=") && !strings.HasPrefix(kv, "BERTH_CHROMIUM=") {
			env = append(env, kv)
		}
	}
	return env
}

func (s *server) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("berth exited before it was ready")
		default:
		}
		resp, err := client.Get(s.URL("/v2/"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("GET /v2/ not ready after %v (last: %s)", timeout, last)
}

// api calls the management API as the admin and checks the status; it
// returns the body.
func (s *server) api(t testing.TB, method, path, body string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, s.URL(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", adminPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s (want %d)", method, path, resp.StatusCode, data, want)
	}
	return data
}

// apiJSON is api decoding the answer into v.
func (s *server) apiJSON(t testing.TB, method, path, body string, want int, v any) {
	t.Helper()
	data := s.api(t, method, path, body, want)
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, data)
	}
}

// pushRandom pushes a small random image as the admin to repo:tag and
// returns its digest.
func (s *server) pushRandom(t testing.TB, repo, tag string, layers int) v1.Hash {
	t.Helper()
	img, err := random.Image(512, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(s.Host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: "admin", Password: adminPassword})
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// status is GET path's status code with a cookie header (or none).
func (s *server) status(t testing.TB, path, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL(path), nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// run runs a command and returns its combined output; it fails the test
// when the command fails.
func run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
