package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/gc/gctest"
)

// TestSIGKILLDuringGCAndPushes kills the real berth binary (SIGKILL) three
// times while it collects garbage in a loop (a 1s grace period) and
// clients push images sharing layers and delete tags; after each restart
// every image whose push succeeded and was not deleted pulls in full, and
// at the end, after a last GC, the storage holds exactly the blobs the
// remaining manifests reference.
func TestSIGKILLDuringGCAndPushes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "berth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "berth.yaml")
	os.WriteFile(conf, []byte(`version: 1
log: {level: info, format: text, access: false}
gc: {interval: 100ms, grace_period: 1s, batch_size: 4}
jobs: {poll: 50ms, lease: 2s}
`), 0o644)
	addr := freeAddr(t)
	logPath := filepath.Join(dir, "berth.log")
	var cmd *exec.Cmd
	start := func() {
		t.Helper()
		logf, _ := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		defer logf.Close()
		cmd = exec.Command(bin, "serve", "--config", conf, "--addr", addr, "--data", data)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("berth did not start:\n%s", readTail(logPath))
			}
		}
	}
	kill := func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("berth log:\n%s", readTail(logPath))
		}
	})
	c := &gctest.Client{Base: "http://" + addr, HTTP: &http.Client{Timeout: 10 * time.Second}}
	var mu sync.Mutex
	live := map[string]*gctest.Image{}
	// Tag deletes that failed on the client's side may have been committed
	// before the kill: such an image must afterwards either pull in full
	// or be gone, never half there.
	uncertain := map[string]*gctest.Image{}
	n := 0
	start()
	for round := range 3 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					n++
					id := n
					mu.Unlock()
					img := gctest.NewImage(fmt.Sprintf("kill/w%d", w), fmt.Sprintf("r%d-%d", round, id),
						[]byte(fmt.Sprintf("shared %d", id%3)), []byte(fmt.Sprintf("own %d", id)))
					if err := c.Push(img, ""); err != nil {
						continue // killed mid-push, or collided with GC: not counted
					}
					mu.Lock()
					live[img.Repo+":"+img.Tag] = img
					var victim *gctest.Image
					if id%3 == 0 {
						delete(live, img.Repo+":"+img.Tag)
						victim = img
					}
					mu.Unlock()
					if victim != nil {
						if err := c.DeleteTag(victim.Repo, victim.Tag); err != nil {
							mu.Lock()
							uncertain[victim.Repo+":"+victim.Tag] = victim
							mu.Unlock()
						}
					}
				}
			})
		}
		time.Sleep(1500 * time.Millisecond)
		kill() // mid-push and, with GC every 100ms, most likely mid-GC
		close(stop)
		wg.Wait()
		start()
		for _, img := range live {
			if err := c.Pull(img); err != nil {
				t.Fatalf("round %d: image lost after SIGKILL: %v", round, err)
			}
		}
		for key, img := range uncertain {
			resp, _, err := c.Do("HEAD", "/v2/"+img.Repo+"/manifests/"+img.Tag, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			delete(uncertain, key)
			if resp.StatusCode == http.StatusNotFound {
				continue // the delete was committed
			}
			if err := c.Pull(img); err != nil {
				t.Fatalf("round %d: image whose delete failed is half there: %v", round, err)
			}
			live[key] = img
		}
	}
	t.Logf("%d images live, %d pushes tried", len(live), n)
	if len(live) < 3 {
		t.Fatalf("too few pushes succeeded: %d", len(live))
	}
	// A last run after the grace period: storage holds exactly the blobs
	// the remaining manifests reference.
	time.Sleep(1200 * time.Millisecond)
	requested := time.Now()
	if resp, _, err := c.Do("POST", "/api/v1/gc", nil, nil); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/gc: %v %v", resp, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body, _ := c.Do("GET", "/api/v1/gc", nil, nil)
		var st gc.Status
		json.Unmarshal(body, &st)
		if !st.Running && !st.Pending && st.Last != nil && st.Last.StartedAt.After(requested) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last gc did not finish: %s", body)
		}
	}
	want := referenced(t, c)
	var got []digest.Digest
	filepath.WalkDir(filepath.Join(data, "blobs", "blobs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			got = append(got, digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
		}
		return nil
	})
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("stored blobs %d, referenced %d:\nstored %v\nreferenced %v", len(got), len(want), got, want)
	}
	for _, img := range live {
		if err := c.Pull(img); err != nil {
			t.Fatalf("image lost by the last GC: %v", err)
		}
	}
	if !strings.Contains(readTail(logPath), "gc finished") {
		t.Error("no gc run finished")
	}
}

// referenced lists the blobs the registry's tagged manifests reference
// (every manifest left is tagged: GC took the untagged ones).
func referenced(t *testing.T, c *gctest.Client) []digest.Digest {
	t.Helper()
	set := map[digest.Digest]bool{}
	_, body, _ := c.Do("GET", "/v2/_catalog", nil, nil)
	var cat struct{ Repositories []string }
	json.Unmarshal(body, &cat)
	for _, repo := range cat.Repositories {
		_, body, _ := c.Do("GET", "/v2/"+repo+"/tags/list", nil, nil)
		var tl struct{ Tags []string }
		json.Unmarshal(body, &tl)
		for _, tag := range tl.Tags {
			_, body, _ := c.Do("GET", "/v2/"+repo+"/manifests/"+tag, http.Header{"Accept": {"application/vnd.oci.image.manifest.v1+json"}}, nil)
			var m struct {
				Config struct{ Digest digest.Digest }
				Layers []struct{ Digest digest.Digest }
			}
			json.Unmarshal(body, &m)
			set[m.Config.Digest] = true
			for _, l := range m.Layers {
				set[l.Digest] = true
			}
		}
	}
	out := make([]digest.Digest, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func readTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}
