package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/compat/distribution"
	"github.com/berth-registry/berth/internal/config"
)

func TestMain(m *testing.M) {
	// This machine may have Debian's docker-registry, whose
	// /etc/docker/registry/config.yml `berth serve` would otherwise read.
	distributionPaths = nil
	os.Exit(m.Run())
}

// needTool finds a client or peer the test runs; missing, it skips, or
// fails under CI=true.
func needTool(t *testing.T, name string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			abs, _ := filepath.Abs(c)
			return abs
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (bash scripts/install-tools.sh; apt-get install docker-registry)", name)
	}
	t.Skipf("%s not found", name)
	return ""
}

// waitHTTP waits until base answers /v2/ with want (401 behind auth).
func waitHTTP(t *testing.T, base string, want int, exited <-chan error, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("server exited: %v\n%s", err, logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s/v2/ did not answer %d\n%s", base, want, logs)
}

func basicGet(t *testing.T, url, user, pw string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth(user, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// proveWithDistribution starts Debian's docker-registry (Distribution 2.8)
// on the configuration, checks that it serves with htpasswd auth, and
// stops it: the configuration is one Distribution accepts.
func proveWithDistribution(t *testing.T, cfgFile string, env []string, base, user, pw string) {
	t.Helper()
	bin := needTool(t, "docker-registry", "/usr/bin/docker-registry")
	cmd := exec.Command(bin, "serve", cfgFile)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, distribution.EnvPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	logs := &syncBuf{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	waitHTTP(t, base, http.StatusUnauthorized, exited, logs)
	if code := basicGet(t, base+"/v2/", user, pw); code != http.StatusOK {
		t.Fatalf("Distribution answers %d to the htpasswd user\n%s", code, logs)
	}
}

func layerTar(t *testing.T, file string) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	body := []byte("served by berth from a registry:2 configuration\n")
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDistributionConfigEndToEnd: a configuration Distribution 2.8 serves
// (a file, or REGISTRY_* variables over registry:2's default file) is
// served by Berth as it is; crane pushes and pulls with the htpasswd user.
func TestDistributionConfigEndToEnd(t *testing.T) {
	crane := needTool(t, "crane", "../../.tools/bin/crane")
	tests := []struct {
		name    string
		envOnly bool
	}{
		{"config file via registry serve CONFIG", false},
		{"REGISTRY variables only via berth serve", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const user, pw = "alice", "correct horse battery"
			hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			htpasswd := filepath.Join(dir, "htpasswd")
			os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600)
			root := filepath.Join(dir, "registry")
			addr := freeAddr(t)
			base := "http://" + addr

			cfgFile := filepath.Join(dir, "config.yml")
			var env []string
			if tc.envOnly {
				os.WriteFile(cfgFile, []byte(distribution.ImageDefault), 0o644) // what registry:2 reads
				env = []string{"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
					"REGISTRY_AUTH_HTPASSWD_PATH=" + htpasswd, "REGISTRY_HTTP_ADDR=" + addr,
					"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=" + root}
			} else {
				os.WriteFile(cfgFile, []byte(fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
http:
  addr: %s
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: basic-realm
    path: %s
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`, root, addr, htpasswd)), 0o644)
			}
			proveWithDistribution(t, cfgFile, env, base, user, pw)

			args := []string{"registry", "serve", cfgFile}
			if tc.envOnly {
				args = []string{"serve"} // no file anywhere: registry:2's default + the variables
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logs := &syncBuf{}
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, env, io.Discard, logs) }()
			waitHTTP(t, base, http.StatusUnauthorized, done, logs)
			if !strings.Contains(logs.String(), "serving a Distribution configuration") {
				t.Errorf("no compatibility report in the start-up log:\n%s", logs)
			}
			if _, err := os.Stat(filepath.Join(root, "berth", "berth.db")); err != nil {
				t.Errorf("Berth's database is not under the root directory: %v", err)
			}

			ref := addr + "/team/app:v1"
			craneRun := func(cfgDir string, args ...string) (string, error) {
				cmd := exec.Command(crane, append(args, "--insecure")...)
				cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfgDir)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			auth := filepath.Join(dir, "docker-auth")
			if out, err := craneRun(auth, "auth", "login", addr, "-u", user, "-p", pw); err != nil {
				t.Fatalf("crane auth login: %v\n%s", err, out)
			}
			layer := filepath.Join(dir, "layer.tar")
			layerTar(t, layer)
			if out, err := craneRun(auth, "append", "--oci-empty-base", "-f", layer, "-t", ref); err != nil {
				t.Fatalf("crane append (push): %v\n%s\n%s", err, out, logs)
			}
			dgst, err := craneRun(auth, "digest", ref)
			if err != nil || !strings.HasPrefix(dgst, "sha256:") {
				t.Fatalf("crane digest: %v %s", err, dgst)
			}
			if out, err := craneRun(auth, "pull", addr+"/team/app@"+strings.TrimSpace(dgst), filepath.Join(dir, "pulled.tar")); err != nil {
				t.Fatalf("crane pull: %v\n%s", err, out)
			}
			if out, err := craneRun(auth, "ls", addr+"/team/app"); err != nil || strings.TrimSpace(out) != "v1" {
				t.Fatalf("crane ls: %v %q", err, out)
			}
			if out, err := craneRun(filepath.Join(dir, "anonymous"), "digest", ref); err == nil {
				t.Fatalf("anonymous pull allowed: %s", out)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v", err)
			}

			if tc.envOnly {
				return
			}
			var out bytes.Buffer
			if err := run(context.Background(), []string{"registry", "garbage-collect", "--dry-run", cfgFile}, env, &out, io.Discard); err != nil {
				t.Fatalf("registry garbage-collect: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "garbage collection is online") || !strings.Contains(out.String(), "gc: would delete") {
				t.Errorf("registry garbage-collect output:\n%s", out.String())
			}
		})
	}
}

// TestLoadConfigSources: which file `berth serve` reads when given none,
// and how it tells Berth's format from Distribution's.
func TestLoadConfigSources(t *testing.T) {
	dir := t.TempDir()
	dist := filepath.Join(dir, "config.yml")
	os.WriteFile(dist, []byte("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+dir+"/reg\nhttp:\n  addr: 127.0.0.1:7001\n"), 0o644)
	other := filepath.Join(dir, "other.yml")
	os.WriteFile(other, []byte("version: 0.1\nstorage: {filesystem: {rootdirectory: "+dir+"/other}}\nhttp: {addr: \"127.0.0.1:7002\"}\n"), 0o644)
	own := filepath.Join(dir, "berth.yaml")
	os.WriteFile(own, []byte("version: 1\nhttp:\n  addr: 127.0.0.1:7003\n"), 0o644)
	defer func() { distributionPaths = nil }()
	tests := []struct {
		name     string
		path     string
		defaults []string
		env      []string
		addr     string // "" for an error
		report   bool
	}{
		{"nothing: Berth's defaults", "", nil, nil, ":5000", false},
		{"--data: Berth's own set-up, default paths not read", "", []string{dist}, []string{"BERTH_DATA=" + dir}, ":5000", false},
		{"a default path that exists", "", []string{filepath.Join(dir, "missing.yml"), dist}, nil, "127.0.0.1:7001", true},
		{"REGISTRY_CONFIGURATION_PATH before the default paths", "", []string{dist}, []string{"REGISTRY_CONFIGURATION_PATH=" + other}, "127.0.0.1:7002", true},
		{"REGISTRY_CONFIGURATION_PATH naming Berth's own file", "", nil, []string{"REGISTRY_CONFIGURATION_PATH=" + own}, "127.0.0.1:7003", false},
		{"--config wins over the default paths", own, []string{dist}, nil, "127.0.0.1:7003", false},
		{"--config naming Distribution's file", dist, nil, nil, "127.0.0.1:7001", true},
		{"REGISTRY_ variables alone start from registry:2's default", "", nil, []string{"REGISTRY_HTTP_ADDR=127.0.0.1:7004"}, "127.0.0.1:7004", true},
		{"REGISTRY_PORT alone is no configuration", "", nil, []string{"REGISTRY_PORT=tcp://10.0.0.1:5000"}, ":5000", false},
		{"BERTH_ variables apply after the mapping", dist, nil, []string{"BERTH_HTTP_ADDR=127.0.0.1:7005"}, "127.0.0.1:7005", true},
		{"refused key", "", nil, []string{"REGISTRY_AUTH=silly"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			distributionPaths = tc.defaults
			c, rep, err := loadConfig(tc.path, tc.env, config.Overrides{})
			if tc.addr == "" {
				if err == nil {
					t.Fatal("loaded")
				}
			} else if err != nil {
				t.Fatal(err)
			} else if c.HTTP.Addr != tc.addr {
				t.Errorf("addr %q, want %q", c.HTTP.Addr, tc.addr)
			}
			if (rep != nil) != tc.report {
				t.Errorf("report %v, want one: %v", rep, tc.report)
			}
		})
	}
}

func TestDistributionCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+dir+"\nauth:\n  silly: {}\n"), 0o644)
	fine := filepath.Join(dir, "fine.yml")
	os.WriteFile(fine, []byte("version: 0.1\nstorage: {filesystem: {rootdirectory: "+dir+"}}\nhttp: {secret: x}\n"), 0o644)
	own := filepath.Join(dir, "berth.yaml")
	os.WriteFile(own, []byte("version: 1\n"), 0o644)
	typo := filepath.Join(dir, "typo.yml")
	os.WriteFile(typo, []byte("version: 0.1\nstorage: {filesystem: {}}\nhttp: {adr: x}\n"), 0o644)
	tests := []struct {
		args    []string
		out     string
		wantErr string
	}{
		{[]string{"config", "check", "--distribution", fine}, "ignored  http.secret", ""},
		{[]string{"config", "check", fine}, "Berth can serve this configuration", ""},
		{[]string{"config", "check", "--distribution", good}, "refused  auth.silly", "auth.silly: refused"},
		{[]string{"config", "check", "--distribution", own}, "", "not a Distribution configuration"},
		{[]string{"config", "check", "--distribution", typo}, "", "adr"},
		{[]string{"config", "check", own}, "ok", ""},
		{[]string{"registry", "serve"}, "", "configuration path unspecified"},
		{[]string{"registry", "frobnicate"}, "", "unknown command"},
		{[]string{"registry", "--version"}, "berth ", ""},
		{[]string{"registry", "serve", good}, "", "auth.silly"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, nil, &out, io.Discard)
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) || tc.wantErr == "" && err != nil {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
		}
		if !strings.Contains(out.String(), tc.out) {
			t.Errorf("%v: output %q, want %q", tc.args, out.String(), tc.out)
		}
	}
}

func configOverrides(dir string) config.Overrides {
	return config.Overrides{Data: filepath.Join(dir, "data")}
}

// TestUnservableDefaultConfig: a registry:2 configuration Berth cannot
// serve, found only at Distribution's default path (Debian's
// docker-registry package installs one whose htpasswd path is a
// directory), is an error that says how to start Berth on its own
// configuration; with --data it is not read at all.
func TestUnservableDefaultConfig(t *testing.T) {
	dir := t.TempDir()
	dist := filepath.Join(dir, "config.yml")
	os.WriteFile(dist, []byte("version: 0.1\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: "+dir+"\n"), 0o644)
	distributionPaths = []string{dist}
	defer func() { distributionPaths = nil }()
	_, _, err := loadConfig("", nil, config.Overrides{})
	if err == nil || !strings.Contains(err.Error(), "--data DIR") {
		t.Fatalf("unservable default configuration: %v", err)
	}
	if _, _, err := loadConfig(dist, nil, config.Overrides{}); err == nil || strings.Contains(err.Error(), "--data DIR") {
		t.Fatalf("the same file asked for explicitly: %v (no hint wanted: the user chose it)", err)
	}
	if c, _, err := loadConfig("", nil, config.Overrides{Data: filepath.Join(dir, "data")}); err != nil || c.HTTP.Addr != ":5000" {
		t.Fatalf("with --data: %v", err)
	}
}
