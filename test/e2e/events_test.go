package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/syncbuf"
)

// berthProc is a berth process on a data directory the test keeps, so it
// can be killed and started again on the same data.
type berthProc struct {
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
}

func startBerthOn(t *testing.T, addr, data string, env []string) *berthProc {
	t.Helper()
	p := &berthProc{out: &syncbuf.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(serverBin, "serve", "--addr", addr, "--data", data)
	p.cmd.Env = append(append(os.Environ(), "BERTH_LOG_LEVEL=warn"), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("berth output:\n%s", p.out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth not ready: %v\n%s", err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sigkill kills the process at once, as a crash would.
func (p *berthProc) sigkill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// TestWebhookSurvivesSIGKILL: events recorded with a push are delivered
// after berth is killed (SIGKILL) before delivering them — one whose
// delivery had failed already, one killed right after its push
// answered 201 — once it runs again, in order, with their ids unchanged.
func TestWebhookSurvivesSIGKILL(t *testing.T) {
	if target != "berth" {
		t.Skip("berth's event outbox")
	}
	var mu sync.Mutex
	up := false
	secret := events.NewSecret()
	var failedIDs []string
	type delivery struct {
		id   string
		body map[string]any
	}
	var got []delivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get("webhook-id")
		if !up {
			failedIDs = append(failedIDs, id)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if err := events.Verify(secret, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, time.Now(), time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		got = append(got, delivery{id, m})
	}))
	defer recv.Close()

	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"BERTH_EVENTS_ALLOW_PRIVATE_TARGETS=true", "BERTH_EVENTS_POLL=100ms"}
	p := startBerthOn(t, addr, data, env)
	base := "http://" + addr

	body := fmt.Sprintf(`{"name":"ci","url":%q,"secrets":[%q]}`, recv.URL, secret)
	resp, err := http.Post(base+"/api/v1/webhooks", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create webhook: %d", resp.StatusCode)
	}
	push := func(tag string) digest.Digest {
		t.Helper()
		cfg := []byte(`{"architecture":"amd64"}`)
		resp, err := http.Post(base+"/v2/crash/app/blobs/uploads/?digest="+digest.FromBytes(cfg).String(), "application/octet-stream", strings.NewReader(string(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[],"annotations":{"tag":%q}}`,
			digest.FromBytes(cfg), len(cfg), tag)
		req, _ := http.NewRequest("PUT", base+"/v2/crash/app/manifests/"+tag, strings.NewReader(m))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("push %s: %d", tag, resp.StatusCode)
		}
		return digest.FromString(m)
	}

	d1 := push("one")
	waitUntil(t, "a failed delivery attempt", func() bool { mu.Lock(); defer mu.Unlock(); return len(failedIDs) > 0 })
	d2 := push("two")
	p.sigkill()

	mu.Lock()
	up = true
	firstID := failedIDs[0]
	mu.Unlock()
	startBerthOn(t, addr, data, env)
	waitUntil(t, "both events after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
	time.Sleep(500 * time.Millisecond) // a duplicate would come now
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("received %d events, want 2: %+v", len(got), got)
	}
	if got[0].id != firstID {
		t.Errorf("the first event's id changed across the restart: %s, then %s", firstID, got[0].id)
	}
	for i, want := range []digest.Digest{d1, d2} {
		data, _ := got[i].body["data"].(map[string]any)
		if data["digest"] != want.String() || data["sequence"] != float64(i+1) {
			t.Errorf("event %d = %v, want digest %s sequence %d", i, got[i].body, want, i+1)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
