package enginetest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Containerd is a private containerd and its ctr client.
type Containerd struct {
	// Address is its gRPC socket (ctr --address).
	Address string
	// Dir is its directory, removed when the test ends.
	Dir string

	ctr string
	env []string
}

// StartContainerd starts a containerd in a directory of its own and
// waits until it answers `ctr version`; it is stopped and its directory
// removed when the test ends.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	bin := binary(t, "containerd", "/usr/bin", "/usr/sbin")
	ctr := binary(t, "ctr", "/usr/bin")
	return startContainerd(t, bin, ctr, tempDir(t, "containerd-"))
}

// containerdConfig names every path containerd would otherwise take from
// /var/lib, /run and /opt. The CRI plugin is not needed to pull or push
// and would want CNI.
const containerdConfig = `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`

func startContainerd(t testing.TB, bin, ctr, dir string) *Containerd {
	t.Helper()
	c := &Containerd{Address: filepath.Join(dir, "containerd.sock"), Dir: dir, ctr: ctr, env: cleanEnv()}
	conf := filepath.Join(dir, "config.toml")
	writeFile(t, conf, fmt.Sprintf(containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"),
		c.Address, c.Address+".ttrpc", filepath.Join(dir, "opt")))
	d := startDaemon(t, "containerd", dir, bin, c.env, "--config", conf)
	d.waitReady(t, func() error {
		if r := c.Exec("version"); r.Err != nil {
			return fmt.Errorf("ctr version: %v: %s", r.Err, strings.TrimSpace(r.Stderr))
		}
		return nil
	})
	return c
}

// Exec runs ctr with --address and returns what it did.
func (c *Containerd) Exec(args ...string) Result {
	return run(c.env, c.Dir, nil, c.ctr, append([]string{"--address", c.Address}, args...)...)
}

// Ctr runs ctr, fails the test if it fails, and returns its stdout.
func (c *Containerd) Ctr(t testing.TB, args ...string) string {
	t.Helper()
	start := time.Now()
	r := c.Exec(args...)
	t.Logf("$ ctr %s  (%.1fs)", strings.Join(args, " "), time.Since(start).Seconds())
	return mustSucceed(t, r, "ctr", args)
}

// ImageDigest returns the digest of an image in a namespace, from
// `ctr image ls` (REF TYPE DIGEST SIZE PLATFORMS LABELS).
func (c *Containerd) ImageDigest(t testing.TB, ns, ref string) string {
	t.Helper()
	out := c.Ctr(t, "-n", ns, "image", "ls")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == ref {
			return f[2]
		}
	}
	t.Fatalf("%s is not in ctr image ls:\n%s", ref, out)
	return ""
}
