package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/freeport"
)

// The systemd unit: its hardening settings are there, `systemd-analyze
// verify` accepts it (with ExecStart's binary pointing at one built
// here), the example configuration and environment file load, and the
// ExecStart command line with them serves until `berth healthcheck`
// (with the service's environment) says it is up, then stops cleanly on
// SIGTERM.
func TestSystemdUnit(t *testing.T) {
	dir := filepath.Join(repoRoot, "deploy", "systemd")
	unit := readUnit(t, filepath.Join(dir, "berth.service"))
	want := map[string]string{
		"DynamicUser": "yes", "StateDirectory": "berth", "ProtectSystem": "strict", "ProtectHome": "yes",
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
		"AmbientCapabilities": "", "RestrictSUIDSGID": "yes", "EnvironmentFile": "-/etc/default/berth",
	}
	for k, v := range want {
		if got, ok := unit[k]; !ok || got[len(got)-1] != v {
			t.Errorf("berth.service: %s=%v, want %q", k, got, v)
		}
	}
	argv := strings.Fields(unit["ExecStart"][0])
	if len(argv) != 4 || argv[0] != "/usr/bin/berth" || argv[1] != "serve" || argv[2] != "--config" {
		t.Fatalf("ExecStart=%v, want /usr/bin/berth serve --config FILE", argv)
	}
	cfg, err := config.Load(filepath.Join(dir, "berth.yaml"), nil, config.Overrides{})
	if err != nil {
		t.Fatalf("berth.yaml: %v", err)
	}
	if cfg.Data != "/var/lib/"+unit["StateDirectory"][0] {
		t.Errorf("berth.yaml's data is %s, the unit's StateDirectory /var/lib/%s", cfg.Data, unit["StateDirectory"][0])
	}

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "berth")
	build := exec.Command("go", "build", "-o", bin, "./cmd/berth")
	build.Dir, build.Env = repoRoot, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		local := strings.Replace(readFile(t, filepath.Join(dir, "berth.service")), "ExecStart=/usr/bin/berth", "ExecStart="+bin, 1)
		path := filepath.Join(tmp, "berth.service")
		os.WriteFile(path, []byte(local), 0o644)
		cmd := exec.Command(analyze, "verify", "--man=no", path)
		out, err := cmd.CombinedOutput()
		// Unknown keys and bad values are warnings with exit code 0.
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Log("systemd-analyze not found: the unit is checked without it")
	}

	// ExecStart's command line with the example files: the environment
	// file as systemd reads it, the data directory and address moved to
	// where a test may write.
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, line := range strings.Split(readFile(t, filepath.Join(dir, "berth.default")), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "BERTH_DATA="+filepath.Join(tmp, "data"), "BERTH_HTTP_ADDR="+addr)
	if cfg, err := config.Load(filepath.Join(dir, "berth.yaml"), env, config.Overrides{}); err != nil {
		t.Fatalf("berth.yaml with berth.default: %v", err)
	} else if cfg.Auth.Admin.Password == "" {
		t.Error("berth.default sets no BERTH_AUTH_ADMIN_PASSWORD")
	}
	srv := exec.Command(bin, argv[1], argv[2], filepath.Join(dir, "berth.yaml"))
	srv.Env, srv.Dir = env, tmp
	logf, err := os.Create(filepath.Join(tmp, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = srv.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", readFile(t, filepath.Join(tmp, "serve.log")))
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		check := exec.Command(bin, "healthcheck", "--config", filepath.Join(dir, "berth.yaml"), "--timeout", "1s")
		check.Env = env
		out, err := check.CombinedOutput()
		if err == nil {
			t.Logf("healthcheck: %s", strings.TrimSpace(string(out)))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy after 20s: %v %s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("serve exited after SIGTERM: %v", waitErr)
		}
	case <-time.After(15 * time.Second):
		t.Error("serve did not stop within 15s of SIGTERM")
	}
}

// readUnit reads a unit file's Key=Value lines (all sections; a key
// given several times has all its values, in order).
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not Key=Value: %q", path, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
