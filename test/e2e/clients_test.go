package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testproc"
)

// defaultCommandTimeout bounds one client command.
const defaultCommandTimeout = 5 * time.Minute

// clients runs client tools against one registry, each with configuration
// isolated in the test's own directories: nothing is read from or written
// to the user's ~/.docker, ~/.config/containers, regctl config, /var/tmp...
type clients struct {
	t   testing.TB
	reg *registry
	dir string
	env []string
	// runDir is a short path for podman's runroot.
	runDir string

	regctlReady bool
	// regctlSetArgs are extra `regctl registry set` flags (blob chunking).
	regctlSetArgs []string
}

func newClients(t testing.TB, reg *registry) *clients {
	t.Helper()
	dir := t.TempDir()
	c := &clients{t: t, reg: reg, dir: dir}
	mk := func(parts ...string) string {
		p := filepath.Join(append([]string{dir}, parts...)...)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	home := mk("home")
	docker := mk("docker")
	regctlDir := mk("regctl")
	containers := mk("containers")
	tmp := mk("tmp")
	writeFile(t, filepath.Join(docker, "config.json"), []byte(`{"auths":{}}`))
	writeFile(t, filepath.Join(containers, "auth.json"), []byte(`{"auths":{}}`))
	writeFile(t, filepath.Join(containers, "registries.conf"),
		[]byte("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n"))
	// podman insists on a runroot in storage.conf even with --runroot,
	// and on one of at most 50 characters: t.TempDir() names are longer.
	run, err := os.MkdirTemp("", "e2e-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	c.runDir = run
	writeFile(t, filepath.Join(containers, "storage.conf"), []byte(fmt.Sprintf(
		"[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(run, "default"), filepath.Join(containers, "storage"))))
	writeFile(t, filepath.Join(containers, "policy.json"),
		[]byte(`{"default":[{"type":"insecureAcceptAnything"}]}`))

	overrides := map[string]string{
		"HOME":                       home,
		"XDG_CONFIG_HOME":            filepath.Join(home, ".config"),
		"XDG_DATA_HOME":              filepath.Join(home, ".local", "share"),
		"XDG_CACHE_HOME":             filepath.Join(home, ".cache"),
		"DOCKER_CONFIG":              docker,
		"REGCTL_CONFIG":              filepath.Join(regctlDir, "config.json"),
		"REGISTRY_AUTH_FILE":         filepath.Join(containers, "auth.json"),
		"CONTAINERS_REGISTRIES_CONF": filepath.Join(containers, "registries.conf"),
		"CONTAINERS_STORAGE_CONF":    filepath.Join(containers, "storage.conf"),
		"TMPDIR":                     tmp,
		"NO_COLOR":                   "1",
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "CONTAINER_HOST", "REGISTRY_AUTH_FILE",
			"XDG_RUNTIME_DIR", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy":
			continue
		}
		if _, ok := overrides[name]; ok {
			continue
		}
		c.env = append(c.env, kv)
	}
	for k, v := range overrides {
		c.env = append(c.env, k+"="+v)
	}
	c.env = append(c.env, "NO_PROXY=*", "no_proxy=*")
	return c
}

// forT returns the same clients reporting to a subtest.
func (c *clients) forT(t testing.TB) *clients {
	cc := *c
	cc.t = t
	return &cc
}

// policyFile is a containers-policy.json accepting anything, for podman
// and buildah (--signature-policy) instead of /etc/containers/policy.json.
func (c *clients) policyFile() string { return filepath.Join(c.dir, "containers", "policy.json") }

// cmdResult is what one client command did.
type cmdResult struct {
	Stdout, Stderr string
	Err            error
}

type runOpts struct {
	stdin   io.Reader
	stdout  io.Writer // instead of capturing stdout
	timeout time.Duration
}

// exec runs a tool and returns its output and error without failing.
func (c *clients) exec(o runOpts, name string, args ...string) cmdResult {
	c.t.Helper()
	path := testproc.Need(c.t, name)
	if o.timeout == 0 {
		o.timeout = defaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.Stdin = o.stdin
	var stdout, stderr bytes.Buffer
	if o.stdout != nil {
		cmd.Stdout = o.stdout
	} else {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %v)", err, o.timeout)
	}
	c.t.Logf("$ %s %s  (%.1fs)", name, strings.Join(args, " "), time.Since(start).Seconds())
	return cmdResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// run runs a tool, fails the test if it fails, and returns its stdout.
func (c *clients) run(name string, args ...string) string {
	c.t.Helper()
	return c.runWith(runOpts{}, name, args...)
}

func (c *clients) runWith(o runOpts, name string, args ...string) string {
	c.t.Helper()
	r := c.exec(o, name, args...)
	if r.Err != nil {
		c.t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.Err,
			truncate(r.Stdout, 8000), truncate(r.Stderr, 8000))
	}
	return r.Stdout
}

// Tool wrappers with the flags each tool wants for a plain-HTTP registry.

func (c *clients) crane(args ...string) string {
	c.t.Helper()
	return c.run("crane", append(args, "--insecure")...)
}

func (c *clients) skopeo(args ...string) string {
	c.t.Helper()
	return c.run("skopeo", append([]string{"--insecure-policy"}, args...)...)
}

func (c *clients) oras(args ...string) string {
	c.t.Helper()
	return c.run("oras", append(args, "--plain-http")...)
}

// regctl configures the registry for plain HTTP on first use
// (`regctl registry set --tls disabled`), then runs regctl.
func (c *clients) regctl(args ...string) string {
	c.t.Helper()
	c.regctlSetup()
	return c.run("regctl", args...)
}

func (c *clients) regctlSetup() {
	c.t.Helper()
	if c.regctlReady {
		return
	}
	c.run("regctl", append([]string{"registry", "set", "--tls", "disabled"},
		append(c.regctlSetArgs, c.reg.Host)...)...)
	c.regctlReady = true
}

// ref returns host/repo:tag (or @digest when tag starts with "sha256:").
func (c *clients) ref(repo, tagOrDigest string) string {
	if strings.Contains(tagOrDigest, ":") {
		return c.reg.Host + "/" + repo + "@" + tagOrDigest
	}
	return c.reg.Host + "/" + repo + ":" + tagOrDigest
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + "\n...[truncated]...\n" + s[len(s)-n/2:]
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
