package scaleout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// gcStatus is the part of GET /api/v1/gc this test reads.
type gcStatus struct {
	Running bool `json:"running"`
	Pending bool `json:"pending"`
	Last    *struct {
		Blobs      int64     `json:"blobs"`
		Resumed    bool      `json:"resumed"`
		FinishedAt time.Time `json:"finished_at"`
	} `json:"last"`
}

// The instance running garbage collection is killed (SIGKILL) in the
// middle of it: the other instance takes the job over once the lease runs
// out, resumes it and finishes; every unreferenced blob is gone, and the
// image that is referenced still pulls.
func testKillDuringGC(t *testing.T, c *cluster) {
	const repo, garbage = "scaleout/gc", 600
	// An image that must survive.
	layer := randomBytes(32<<10, 7)
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	for _, b := range [][]byte{layer, cfg} {
		resp, body := c.send(t, "POST", c.url+withDigest("/v2/"+repo+"/blobs/uploads/", digest.FromBytes(b)), bytes.NewReader(b))
		expect(t, "push blob", resp, body, http.StatusCreated)
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digest.FromBytes(cfg), len(cfg), digest.FromBytes(layer), len(layer))
	resp, body := c.send(t, "PUT", c.url+"/v2/"+repo+"/manifests/keep", strings.NewReader(m),
		"Content-Type", "application/vnd.oci.image.manifest.v1+json")
	expect(t, "push manifest", resp, body, http.StatusCreated)

	// Garbage: blobs no manifest references, pushed by 8 clients.
	var wg sync.WaitGroup
	digests := make([]digest.Digest, garbage)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < garbage; i += 8 {
				b := randomBytes(1024, uint64(1000+i))
				digests[i] = digest.FromBytes(b)
				resp, body := c.send(t, "POST", c.url+withDigest("/v2/"+repo+"/blobs/uploads/", digests[i]), bytes.NewReader(b))
				expect(t, "push garbage", resp, body, http.StatusCreated)
			}
		}()
	}
	wg.Wait()
	time.Sleep(1500 * time.Millisecond) // past the 1 s grace period

	resp, body = c.send(t, "POST", c.url+"/api/v1/gc", strings.NewReader(`{}`), "Content-Type", "application/json")
	expect(t, "start GC", resp, body, http.StatusAccepted)
	// Kill whichever instance started the run, as soon as it has.
	var victim, survivor *instance
	deadline := time.Now().Add(30 * time.Second)
	for victim == nil {
		for i, in := range c.inst {
			if b, _ := os.ReadFile(in.log); strings.Contains(string(b), `msg="job started" component=jobs job=gc`) {
				victim, survivor = in, c.inst[1-i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no instance started the GC job in 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // into the run
	victim.kill()
	t.Logf("killed %s during GC; %s should take over", victim.name, survivor.name)

	var st gcStatus
	deadline = time.Now().Add(60 * time.Second)
	for {
		resp, body = c.send(t, "GET", survivor.url("/api/v1/gc"), nil)
		expect(t, "GC status", resp, body, http.StatusOK)
		st = gcStatus{}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		if !st.Running && !st.Pending && st.Last != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC did not finish on %s in 60 s: %s", survivor.name, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	logs, _ := os.ReadFile(survivor.log)
	if !strings.Contains(string(logs), `job=gc resumed=true`) {
		t.Errorf("%s did not resume the interrupted run (last report %+v)", survivor.name, *st.Last)
	}
	for _, d := range digests {
		resp, _ := c.send(t, "HEAD", survivor.url("/v2/"+repo+"/blobs/"+d.String()), nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("garbage blob %s still there after GC: %s", d, resp.Status)
		}
	}
	pullBlob(t, c, repo, digest.FromBytes(layer), len(layer))
	resp, body = c.send(t, "GET", c.url+"/v2/"+repo+"/manifests/keep", nil)
	expect(t, "pull the kept image", resp, body, http.StatusOK)
	victim.start(t)
}
