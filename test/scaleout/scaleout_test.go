package scaleout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/storage/s3/s3test"
	"github.com/berth-registry/berth/test/conformance"
)

func TestScaleOut(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	before := c.servedBy(t)
	t.Run("conformance", func(t *testing.T) {
		conformance.RunWithOptions(t, c.url, conformance.Options{Client: c.client})
	})
	after := c.servedBy(t)
	one, two := after["berth1"]-before["berth1"], after["berth2"]-before["berth2"]
	t.Logf("conformance requests served: berth1 %d, berth2 %d", one, two)
	if one+two < 100 || min(one, two) < (one+two)/4 {
		t.Errorf("nginx did not spread the conformance suite over both instances: %d and %d requests", one, two)
	}
	t.Run("location-through-nginx", func(t *testing.T) { testLocation(t, c) })
	t.Run("split-push", func(t *testing.T) { testSplitPush(t, c) })
	t.Run("changes-seen-by-both", func(t *testing.T) { testChangesSeenByBoth(t, c) })
	t.Run("crane", func(t *testing.T) { testCrane(t, c) })
	t.Run("skopeo", func(t *testing.T) { testSkopeo(t, c) })
	t.Run("regctl", func(t *testing.T) { testRegctl(t, c) })
	t.Run("oras", func(t *testing.T) { testOras(t, c) })
	t.Run("podman-buildah", func(t *testing.T) { testPodmanBuildah(t, c) })
	t.Run("docker-containerd", func(t *testing.T) { testEngines(t, c) })
	t.Run("kill-during-push", func(t *testing.T) { testKillDuringPush(t, c) })
	t.Run("rolling-restart", func(t *testing.T) { testRollingRestart(t, c) })
	t.Run("kill-during-gc", func(t *testing.T) { testKillDuringGC(t, c) })
	t.Run("token-auth", testTokenAuth) // a second cluster, with access control
	// Last: it stops MinIO.
	t.Run("readyz-without-s3", func(t *testing.T) { testReadyWithoutS3(t, c) })
}

// TestScaleOutAzure is the two-instance cluster with blobs in Azure Blob
// Storage (Azurite); see testCloudCluster.
func TestScaleOutAzure(t *testing.T) { testCloudCluster(t, clusterOptions{azure: true}) }

// TestScaleOutGCS is the two-instance cluster with blobs in Google Cloud
// Storage (fake-gcs-server); see testCloudCluster.
func TestScaleOutGCS(t *testing.T) { testCloudCluster(t, clusterOptions{gcs: true}) }

// testCloudCluster runs a cluster on another object store than S3: the
// conformance suite spread over both instances, an upload whose chunks
// alternate between them, a client, and an instance killed in the middle
// of a chunk.
func testCloudCluster(t *testing.T, o clusterOptions) {
	c := startCluster(t, o)
	before := c.servedBy(t)
	t.Run("conformance", func(t *testing.T) {
		conformance.RunWithOptions(t, c.url, conformance.Options{Client: c.client})
	})
	after := c.servedBy(t)
	one, two := after["berth1"]-before["berth1"], after["berth2"]-before["berth2"]
	if one+two < 100 || min(one, two) < (one+two)/4 {
		t.Errorf("nginx did not spread the conformance suite over both instances: %d and %d requests", one, two)
	}
	t.Run("split-push", func(t *testing.T) { testSplitPush(t, c) })
	t.Run("changes-seen-by-both", func(t *testing.T) { testChangesSeenByBoth(t, c) })
	t.Run("crane", func(t *testing.T) { testCrane(t, c) })
	t.Run("kill-during-push", func(t *testing.T) { testKillDuringPush(t, c) })
}

// send makes one request and returns the response with its body read.
func (c *cluster) send(t *testing.T, method, rawURL string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, rawURL, err)
	}
	return resp, string(b)
}

// expect fails the test unless resp has the status.
func expect(t *testing.T, what string, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: %s, want %d\nheaders: %v\nbody: %s", what, resp.Status, status, resp.Header, body)
	}
}

// randomBytes returns n bytes of a seeded PRNG (fast, and distinct per seed).
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'b', 'e', 'r', 't', 'h'})
	r.Read(b)
	return b
}

// withDigest adds ?digest= to an upload location.
func withDigest(loc string, d digest.Digest) string {
	u, _ := url.Parse(loc) // Berth's locations parse; a bad one fails the request
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	return u.String()
}

// contentRange is the Content-Range of a chunk at [start, start+n).
func contentRange(start, n int) string { return fmt.Sprintf("%d-%d", start, start+n-1) }

// uploadedUpTo parses an upload's Range header ("0-N") into N+1.
func uploadedUpTo(t *testing.T, resp *http.Response) int {
	t.Helper()
	end, ok := strings.CutPrefix(resp.Header.Get("Range"), "0-")
	n, err := strconv.Atoi(end)
	if !ok || err != nil {
		t.Fatalf("Range %q is not 0-N", resp.Header.Get("Range"))
	}
	return n + 1
}

// pullBlob downloads a blob through nginx (following the redirect to S3)
// and checks its digest.
func pullBlob(t *testing.T, c *cluster, repo string, want digest.Digest, size int) {
	t.Helper()
	resp, body := c.send(t, "GET", c.url+"/v2/"+repo+"/blobs/"+want.String(), nil)
	expect(t, "pull through nginx", resp, "", http.StatusOK)
	if got := digest.FromString(body); got != want || len(body) != size {
		t.Fatalf("pulled %d bytes with digest %s, want %d with %s", len(body), got, size, want)
	}
}

// The Location of a POST through nginx is usable as-is: resolved against
// the request's URL, as clients do, it reaches the session through nginx.
func testLocation(t *testing.T, c *cluster) {
	const repo = "scaleout/location"
	base, _ := url.Parse(c.url + "/v2/" + repo + "/blobs/uploads/")
	resp, body := c.send(t, "POST", base.String(), nil)
	expect(t, "POST", resp, body, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/v2/"+repo+"/blobs/uploads/") {
		t.Fatalf("Location %q: want a path on this registry", loc)
	}
	ref, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(100<<10, 1)
	d := digest.FromBytes(data)
	put := base.ResolveReference(ref)
	resp, body = c.send(t, "PUT", withDigest(put.String(), d), bytes.NewReader(data),
		"Content-Type", "application/octet-stream")
	expect(t, "PUT at the Location", resp, body, http.StatusCreated)
	blob, _ := url.Parse(resp.Header.Get("Location"))
	resp, body = c.send(t, "GET", put.ResolveReference(blob).String(), nil)
	expect(t, "GET the blob's Location", resp, "", http.StatusOK)
	if digest.FromString(body) != d {
		t.Fatal("the blob's Location served other content")
	}
}

// A chunked push split across the instances by hand: POST on the first,
// chunks alternating, PUT on the second; then a pull through nginx.
func testSplitPush(t *testing.T, c *cluster) {
	const repo, chunk = "scaleout/split", 6 << 20
	one, two := c.inst[0], c.inst[1]
	data := randomBytes(4*chunk+1234, 2)
	d := digest.FromBytes(data)
	resp, body := c.send(t, "POST", one.url("/v2/"+repo+"/blobs/uploads/"), nil)
	expect(t, "POST on "+one.name, resp, body, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	for i, off := 0, 0; off < len(data); i, off = i+1, off+chunk {
		in := c.inst[i%2]
		part := data[off:min(off+chunk, len(data))]
		resp, body := c.send(t, "PATCH", in.url(loc), bytes.NewReader(part),
			"Content-Type", "application/octet-stream", "Content-Range", contentRange(off, len(part)))
		expect(t, fmt.Sprintf("PATCH chunk %d on %s", i, in.name), resp, body, http.StatusAccepted)
		if got := uploadedUpTo(t, resp); got != off+len(part) {
			t.Fatalf("after chunk %d on %s the upload has %d bytes, want %d", i, in.name, got, off+len(part))
		}
	}
	resp, body = c.send(t, "PUT", two.url(withDigest(loc, d)), nil)
	expect(t, "PUT on "+two.name, resp, body, http.StatusCreated)
	pullBlob(t, c, repo, d, len(data))
}

// A manifest read (and so possibly cached) on one instance, then moved and
// deleted on the other: the first sees each change at once.
func testChangesSeenByBoth(t *testing.T, c *cluster) {
	const repo = "scaleout/seen"
	one, two := c.inst[0], c.inst[1]
	cfg := []byte("{}")
	resp, body := c.send(t, "POST", one.url(withDigest("/v2/"+repo+"/blobs/uploads/", digest.FromBytes(cfg))), bytes.NewReader(cfg))
	expect(t, "push config", resp, body, http.StatusCreated)
	manifest := func(n int) (string, digest.Digest) {
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[],`+
			`"annotations":{"n":"%d"}}`, digest.FromBytes(cfg), n)
		return m, digest.FromString(m)
	}
	put := func(in *instance, m string) {
		resp, body := c.send(t, "PUT", in.url("/v2/"+repo+"/manifests/latest"), strings.NewReader(m),
			"Content-Type", "application/vnd.oci.image.manifest.v1+json")
		expect(t, "PUT manifest on "+in.name, resp, body, http.StatusCreated)
	}
	m1, d1 := manifest(1)
	m2, d2 := manifest(2)
	put(one, m1)
	for range 2 { // twice: a cache would answer the second
		resp, body = c.send(t, "GET", two.url("/v2/"+repo+"/manifests/latest"), nil)
		expect(t, "GET on "+two.name, resp, body, http.StatusOK)
		resp, body = c.send(t, "GET", two.url("/v2/"+repo+"/manifests/"+d1.String()), nil)
		expect(t, "GET by digest on "+two.name, resp, body, http.StatusOK)
	}
	// The other instance's cache learns of a change by PostgreSQL's
	// NOTIFY, milliseconds after the commit (docs/scale-out.md): within a
	// second, here, even on a loaded machine.
	seen := func(what string, ok func() bool) {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: not seen by %s within a second", what, two.name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("%s: seen by %s after %v", what, two.name, time.Since(start).Round(time.Millisecond))
	}
	put(one, m2) // moves latest
	seen("latest moved", func() bool {
		resp, _ := c.send(t, "GET", two.url("/v2/"+repo+"/manifests/latest"), nil)
		return resp.Header.Get("Docker-Content-Digest") == d2.String()
	})
	resp, body = c.send(t, "DELETE", one.url("/v2/"+repo+"/manifests/"+d1.String()), nil)
	expect(t, "DELETE on "+one.name, resp, body, http.StatusAccepted)
	seen("manifest deleted", func() bool {
		resp, _ := c.send(t, "GET", two.url("/v2/"+repo+"/manifests/"+d1.String()), nil)
		return resp.StatusCode == http.StatusNotFound
	})
}

// An instance killed while a chunk streams into it: the client asks the
// other instance where the upload stands, waits while the dead instance's
// lease runs out (416 with the Range), resumes there and finishes; the
// killed instance then comes back.
func testKillDuringPush(t *testing.T, c *cluster) {
	const repo, chunk, chunks, killed, streamed = "scaleout/killed", 8 << 20, 8, 3, 6 << 20
	victim, survivor := c.inst[0], c.inst[1]
	data := randomBytes(chunks*chunk, 3)
	d := digest.FromBytes(data)
	resp, body := c.send(t, "POST", victim.url("/v2/"+repo+"/blobs/uploads/"), nil)
	expect(t, "POST on "+victim.name, resp, body, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	patch := func(in *instance, off int) (*http.Response, string) {
		return c.send(t, "PATCH", in.url(loc), bytes.NewReader(data[off:off+chunk]),
			"Content-Type", "application/octet-stream", "Content-Range", contentRange(off, chunk))
	}
	for i := range killed {
		resp, body := patch(c.inst[i%2], i*chunk)
		expect(t, fmt.Sprintf("chunk %d", i), resp, body, http.StatusAccepted)
	}

	// Chunk 3 streams into the victim, which dies after 6 MiB of it (past
	// an S3 part, which the survivor must then ignore).
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", victim.url(loc), pr)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", contentRange(killed*chunk, chunk))
	req.ContentLength = chunk
	failed := make(chan error, 1)
	go func() {
		resp, err := c.client.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the chunk was answered %s", resp.Status)
		}
		failed <- err
	}()
	pw.Write(data[killed*chunk : killed*chunk+streamed])
	time.Sleep(time.Second) // let the server read it
	victim.kill()
	pw.CloseWithError(errors.New("the client stops sending"))
	t.Logf("killed %s during chunk %d: %v", victim.name, killed, <-failed)

	resp, body = c.send(t, "GET", survivor.url(loc), nil)
	expect(t, "upload status on "+survivor.name, resp, body, http.StatusNoContent)
	next := uploadedUpTo(t, resp)
	if next != killed*chunk {
		t.Fatalf("after the kill the upload has %d bytes, want the %d saved before chunk %d", next, killed*chunk, killed)
	}
	busy := 0
	deadline := time.Now().Add(uploadLease + 10*time.Second)
	for {
		resp, body := patch(survivor, next)
		if resp.StatusCode == http.StatusAccepted {
			break
		}
		expect(t, "resuming on "+survivor.name, resp, body, http.StatusRequestedRangeNotSatisfiable)
		if !strings.Contains(body, "BLOB_UPLOAD_INVALID") || !strings.Contains(body, "another request") ||
			uploadedUpTo(t, resp) != next || resp.Header.Get("Location") == "" {
			t.Fatalf("busy answer: Range %q, Location %q, body %s", resp.Header.Get("Range"), resp.Header.Get("Location"), body)
		}
		if busy++; time.Now().After(deadline) {
			t.Fatalf("the dead instance's lease never ran out (%d tries)", busy)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if busy == 0 {
		t.Error("the session was writable at once: the killed instance held no lease on it")
	}
	t.Logf("resumed on %s at %d after %d busy answers", survivor.name, next, busy)
	for off := next + chunk; off < len(data); off += chunk {
		resp, body := patch(survivor, off)
		expect(t, "chunk at "+strconv.Itoa(off), resp, body, http.StatusAccepted)
	}
	resp, body = c.send(t, "PUT", survivor.url(withDigest(loc, d)), nil)
	expect(t, "PUT on "+survivor.name, resp, body, http.StatusCreated)
	pullBlob(t, c, repo, d, len(data)) // nginx skips the dead instance

	victim.start(t)
	resp, body = c.send(t, "GET", victim.url("/readyz"), nil)
	expect(t, victim.name+" /readyz after the restart", resp, body, http.StatusOK)
}

// With MinIO stopped, /readyz answers 503 (while /healthz stays 200).
func testReadyWithoutS3(t *testing.T, c *cluster) {
	in := c.inst[1]
	s3test.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := c.send(t, "GET", in.url("/readyz"), nil)
		if resp.StatusCode == http.StatusServiceUnavailable {
			if !strings.Contains(body, "storage") {
				t.Errorf("/readyz body %q does not name the storage", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %s 20s after MinIO stopped", resp.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	resp, body := c.send(t, "GET", in.url("/healthz"), nil)
	expect(t, "/healthz", resp, body, http.StatusOK)
}
