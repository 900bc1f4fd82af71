package deploy

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/compat/distribution/layouttest"
	"github.com/berth-registry/berth/internal/enginetest"
	"github.com/berth-registry/berth/internal/freeport"
)

// imageUID is the user the image runs Berth as (deploy/image/build.sh).
const imageUID = 65532

// The container image, built and run the way the docs say: make image's
// script, then `docker run -d -v DATA:/var/lib/registry -v AUTH:/auth ...`
// with htpasswd auth from BERTH_* variables. The daemon that built it
// logs in, pushes the image to the registry running in it, removes it and
// pulls it back by the same digest.
func TestImage(t *testing.T) {
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	reg := fmt.Sprintf("127.0.0.1:%d", port)
	d := enginetest.StartDocker(t, enginetest.DockerOptions{InsecureRegistries: []string{reg}})

	const image = "berth:e2e"
	start := time.Now()
	env := append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+d.Config, "DOCKER_BUILDKIT=0")
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		env = append(env, "DOCKER=/usr/bin/docker") // the daemon's own client, as enginetest uses
	}
	mustRun(t, repoRoot, env, "bash", "deploy/image/build.sh", image)
	t.Logf("image built in %.1fs", time.Since(start).Seconds())
	checkImageConfig(t, d, image)

	// The binary inside names its build.
	// "berth VERSION (commit 0123456789ab, 2026-12-07T01:00:00Z, go1.26.8)"
	if out := d.Run(t, "run", "--rm", "--network", "none", image, "version"); !strings.Contains(out, "(commit ") || strings.Contains(out, "commit unknown") ||
		!regexp.MustCompile(`, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, go1\.`).MatchString(out) {
		t.Errorf("berth version in the image: %q, want its commit, the commit's time and the Go version", out)
	}
	// A named volume starts as a copy of the image's /var/lib/registry,
	// owned by the image's user: the server can write to it.
	d.Run(t, "run", "--rm", "--network", "none", "-v", "berth-e2e-data:/var/lib/registry", image, "migrate")
	d.Run(t, "volume", "rm", "berth-e2e-data")

	dir := t.TempDir()
	data, auth := filepath.Join(dir, "data"), filepath.Join(dir, "auth")
	for _, p := range []string{data, auth} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// As with registry:2's root-owned data, a bind-mounted directory must
	// be writable by the image's user (docs/deploy.md).
	if err := os.Chown(data, imageUID, imageUID); err != nil {
		t.Fatal(err)
	}
	const user, password = "alice", "correct-horse-battery"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(auth, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	const name = "berth-e2e"
	t.Cleanup(func() {
		if t.Failed() {
			r := d.Exec(nil, "logs", "--tail", "50", name)
			t.Logf("docker logs %s:\n%s", name, r.Output())
		}
		d.Exec(nil, "rm", "-f", name)
	})
	d.Run(t, "run", "-d", "--name", name, "--network", "host",
		"-v", data+":/var/lib/registry", "-v", auth+":/auth:ro",
		"-e", "BERTH_HTTP_ADDR="+reg,
		"-e", "BERTH_AUTH_MODE=htpasswd",
		"-e", "BERTH_AUTH_HTPASSWD_PATH=/auth/htpasswd",
		"-e", "BERTH_AUTH_ADMINS=["+user+"]",
		// The image's HEALTHCHECK command, probed every second instead
		// of every 30 s.
		"--health-interval", "1s",
		image)
	waitHealthy(t, d, name)

	// Runs as the image's user, without capabilities.
	pid := strings.TrimSpace(d.Run(t, "inspect", "-f", "{{.State.Pid}}", name))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("Uid:\t%d\t%[1]d\t%[1]d\t%[1]d", imageUID), fmt.Sprintf("Gid:\t%d\t%[1]d\t%[1]d\t%[1]d", imageUID), "CapEff:\t0000000000000000"} {
		if !strings.Contains(string(status), want+"\n") {
			t.Errorf("the server's /proc/%s/status has no %q:\n%s", pid, want, status)
		}
	}

	// Access control is on.
	resp, err := http.Get("http://" + reg + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET /v2/_catalog: %s, want 401", resp.Status)
	}
	if r := d.Exec(strings.NewReader("wrong"), "login", "-u", user, "--password-stdin", reg); r.Err == nil {
		t.Errorf("docker login with a wrong password succeeded:\n%s", r.Output())
	}
	d.RunIn(t, strings.NewReader(password), "login", "-u", user, "--password-stdin", reg)

	ref := reg + "/tools/berth:v1"
	d.Run(t, "tag", image, ref)
	pushed := d.Push(t, ref)
	d.Run(t, "rmi", ref)
	if pulled := d.Pull(t, ref); pulled != pushed {
		t.Errorf("pulled %s, pushed %s", pulled, pushed)
	}
	// The daemon still has the layers (the running container uses them):
	// fetch them over HTTP with Basic credentials and check their digests.
	pullBlobs(t, "http://"+reg, user, password, "tools/berth", pushed)

	// Stopped with SIGTERM, the server exits cleanly...
	d.Run(t, "stop", name)
	if code := strings.TrimSpace(d.Run(t, "inspect", "-f", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("exit code after docker stop: %s", code)
	}
	// ... and its data is in the volume, owned by its user: the database
	// and the blobs, among them the image's config (its ID is the
	// config's digest, pushed as it is).
	config := strings.TrimSpace(d.Run(t, "image", "inspect", "-f", "{{.Id}}", ref))
	checkData(t, data, config)
	d.Run(t, "rm", name)

	testSeedsCommand(t, d, image, reg)
}

// checkImageConfig checks what the image declares.
func checkImageConfig(t *testing.T, d *enginetest.Docker, image string) {
	t.Helper()
	var cfg struct {
		User         string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		WorkingDir   string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		Healthcheck  struct{ Test []string }
	}
	out := d.Run(t, "image", "inspect", "-f", "{{json .Config}}", image)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"User 65532:65532", cfg.User == fmt.Sprintf("%d:%[1]d", imageUID)},
		{"Env BERTH_DATA=/var/lib/registry", slices.Contains(cfg.Env, "BERTH_DATA=/var/lib/registry")},
		{"Entrypoint [/berth]", slices.Equal(cfg.Entrypoint, []string{"/berth"})},
		{"Cmd [serve]", slices.Equal(cfg.Cmd, []string{"serve"})},
		{"ExposedPorts 5000/tcp", len(cfg.ExposedPorts) == 1 && cfg.ExposedPorts["5000/tcp"] == struct{}{}},
		{"Volumes /var/lib/registry", len(cfg.Volumes) == 1 && cfg.Volumes["/var/lib/registry"] == struct{}{}},
		{"Healthcheck [CMD /berth healthcheck]", slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/berth", "healthcheck"})},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("image config: want %s, have %s", c.what, out)
		}
	}
	// FROM scratch: one layer per COPY, nothing else.
	if layers := d.Run(t, "image", "inspect", "-f", "{{len .RootFS.Layers}}", image); strings.TrimSpace(layers) != "2" {
		t.Errorf("image has %s layers, want 2 (the two COPY steps)", strings.TrimSpace(layers))
	}
}

// waitHealthy waits until Docker reports the container healthy, having
// seen it start as "starting".
func waitHealthy(t *testing.T, d *enginetest.Docker, name string) {
	t.Helper()
	start := time.Now()
	var seen []string
	for time.Since(start) < 60*time.Second {
		r := d.Exec(nil, "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", name)
		if r.Err != nil {
			t.Fatalf("docker inspect: %v\n%s", r.Err, r.Output())
		}
		s := strings.TrimSpace(r.Stdout)
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		switch s {
		case "running healthy":
			t.Logf("healthy after %.1fs (%s)", time.Since(start).Seconds(), strings.Join(seen, " -> "))
			return
		case "running starting", "created starting":
		default:
			t.Fatalf("container state %q (seen %s)", s, strings.Join(seen, " -> "))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("not healthy after 60s (seen %s)", strings.Join(seen, " -> "))
}

// checkData checks that the server wrote its database and a pushed blob
// under the mounted directory, as the image's user.
func checkData(t *testing.T, data, blob string) {
	t.Helper()
	var files, foreign []string
	var sawBlob bool
	err := filepath.WalkDir(data, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && p != data && st.Uid != imageUID {
			foreign = append(foreign, p)
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(data, p)
			files = append(files, rel)
			if strings.Contains(rel, strings.TrimPrefix(blob, "sha256:")) {
				sawBlob = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "berth.db") {
		t.Errorf("no berth.db in the data volume: %v", files)
	}
	if !sawBlob {
		t.Errorf("the pushed blob %s is not stored in the data volume: %v", blob, files)
	}
	if len(foreign) > 0 {
		t.Errorf("not owned by uid %d: %v", imageUID, foreign)
	}
}

// pullBlobs gets a manifest by digest and every blob it names, and checks
// each one's digest.
func pullBlobs(t *testing.T, base, user, password, repo, manifest string) {
	t.Helper()
	get := func(path, accept string) []byte {
		req, err := http.NewRequest("GET", base+"/v2/"+repo+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, password)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v", path, resp.Status, err)
		}
		return body
	}
	check := func(want string, body []byte) {
		if got := fmt.Sprintf("sha256:%x", sha256.Sum256(body)); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	body := get("/manifests/"+manifest, "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	check(manifest, body)
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(body, &m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("manifest %s: %v, %d layers", body, err, len(m.Layers))
	}
	for _, l := range append(m.Layers, m.Config) {
		check(l.Digest, get("/blobs/"+l.Digest, "*/*"))
	}
}

// testSeedsCommand runs the seeds' registry:2 command with Berth's image
// in its place: a volume holding Distribution's storage, configured by
// REGISTRY_* variables only (htpasswd). Berth adopts the images as it
// starts, serves them with Basic auth, and takes docker pushes.
func testSeedsCommand(t *testing.T, d *enginetest.Docker, image, reg string) {
	dir := t.TempDir()
	data, auth := filepath.Join(dir, "registry"), filepath.Join(dir, "auth")
	l := &layouttest.Layout{Root: data}
	adopted, err := l.Image("seed/app", "from registry:2", 2, "v1")
	if err != nil {
		t.Fatal(err)
	}
	// registry:2 runs as root: the volume's top directory must become
	// writable by the image's user (Distribution's files only need to be
	// readable, and stay as they are).
	if err := os.Chown(data, imageUID, imageUID); err != nil {
		t.Fatal(err)
	}
	const user, password = "bob", "seed-password-1"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(auth, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(auth, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const name = "berth-seeds"
	t.Cleanup(func() {
		if t.Failed() {
			r := d.Exec(nil, "logs", "--tail", "50", name)
			t.Logf("docker logs %s:\n%s", name, r.Output())
		}
		d.Exec(nil, "rm", "-f", name)
	})
	d.Run(t, "run", "-d", "--name", name, "--network", "host",
		"-v", data+":/var/lib/registry",
		"-e", "REGISTRY_AUTH=htpasswd",
		"-e", "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
		"-e", "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
		"-e", "REGISTRY_HTTP_ADDR="+reg,
		"-v", auth+":/auth",
		"--health-interval", "1s",
		image)
	waitHealthy(t, d, name)
	resp, err := http.Get("http://" + reg + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("anonymous GET /v2/: %s %q, want 401 with a Basic challenge", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	// Distribution's image, served in place.
	pullBlobs(t, "http://"+reg, user, password, "seed/app", adopted.String())

	d.RunIn(t, strings.NewReader(password), "login", "-u", user, "--password-stdin", reg)
	ref := reg + "/seed/berth:v1"
	d.Run(t, "tag", image, ref)
	pushed := d.Push(t, ref)
	d.Run(t, "rmi", ref)
	if pulled := d.Pull(t, ref); pulled != pushed {
		t.Errorf("pulled %s, pushed %s", pulled, pushed)
	}
	d.Run(t, "stop", name)
	if code := strings.TrimSpace(d.Run(t, "inspect", "-f", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("exit code after docker stop: %s", code)
	}
	// Distribution's files are as they were; Berth's beside them.
	if _, err := os.Stat(filepath.Join(data, "berth.db")); err != nil {
		t.Errorf("no berth.db beside Distribution's files: %v", err)
	}
}
