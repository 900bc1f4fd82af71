package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/internal/config"
)

type syncStatus struct {
	Running    bool       `json:"running"`
	Pending    bool       `json:"pending"`
	FinishedAt *time.Time `json:"finished_at"`
	LastReport *struct {
		Updated, Unchanged, Failed int
		Repositories               []struct {
			Repository string
			Error      string
			Tags       []struct{ Tag, Status, Error string }
		}
	} `json:"last_report"`
}

// runSync triggers a sync run through the API and waits for its report.
func runSync(t *testing.T, base, upstream string) syncStatus {
	t.Helper()
	url := base + "/api/v1/proxy/upstreams/" + upstream + "/sync"
	var before time.Time
	if _, _, body := get(t, url); true {
		var st syncStatus
		json.Unmarshal(body, &st)
		if st.FinishedAt != nil {
			before = *st.FinishedAt
		}
	}
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, body := get(t, url)
		var st syncStatus
		if err := json.Unmarshal(body, &st); err != nil || status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, status, body)
		}
		if !st.Running && !st.Pending && st.FinishedAt != nil && st.FinishedAt.After(before) && st.LastReport != nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("sync did not finish: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tagStatuses(st syncStatus) map[string]string {
	out := map[string]string{}
	for _, r := range st.LastReport.Repositories {
		for _, tg := range r.Tags {
			out[r.Repository+":"+tg.Tag] = tg.Status
		}
	}
	return out
}

// TestSync: scheduled mirroring keeps the tags a rule selects (semver
// range, latest N; a regex) in the cache, every platform of an index
// included, so they pull with the upstream down; the run's report is in
// the API; a second run finds them unchanged, a moved tag is updated.
func TestSync(t *testing.T) {
	up := startBerthUpstream(t)
	digests := map[string]string{}
	for _, tag := range []string{"1.24.0", "1.25.0", "1.26.1", "1.27.0", "2.0.0", "latest"} {
		img, _ := random.Image(1024, 1)
		digests[tag] = push(t, up, "sync/app:"+tag, img)
	}
	amd, _ := random.Image(1024, 1)
	arm, _ := random.Image(1024, 1)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	push(t, up, "sync/multi:v1", idx)
	push(t, up, "sync/multi:v2", idx)
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()

	srv := startProxy(t, []proxyUpstream{{name: "corp", up: up}}, func(c *config.Config) {
		c.Proxy.Upstreams[0].Sync = []config.SyncRule{
			{Repository: "sync/app", Semver: ">=1.25, <2", Latest: 2},
			{Repository: "sync/multi", Tags: "v1"},
		}
		c.Proxy.Upstreams[0].SyncInterval = time.Hour
	})
	srv.App.StartJobs(context.Background())

	st := runSync(t, srv.URL, "corp")
	got := tagStatuses(st)
	want := map[string]string{"sync/app:1.27.0": "updated", "sync/app:1.26.1": "updated", "sync/multi:v1": "updated"}
	if len(got) != len(want) || got["sync/app:1.27.0"] != "updated" || got["sync/app:1.26.1"] != "updated" || got["sync/multi:v1"] != "updated" {
		t.Fatalf("first run: %v, want %v", got, want)
	}

	// Upstream gone: what was synced pulls in full, the rest does not.
	up.down.Store(true)
	for _, tag := range []string{"1.27.0", "1.26.1"} {
		if err := pullHTTP(srv.URL, "corp/sync/app", tag); err != nil {
			t.Errorf("synced %s while the upstream is down: %v", tag, err)
		}
	}
	for _, d := range []string{amdDigest.String(), armDigest.String()} {
		if err := pullHTTP(srv.URL, "corp/sync/multi", d); err != nil {
			t.Errorf("platform %s of the synced index while the upstream is down: %v", d, err)
		}
	}
	if status, _, _ := get(t, srv.URL+"/v2/corp/sync/app/manifests/1.25.0", "Accept", manifestAccept); status != http.StatusNotFound {
		t.Errorf("a tag outside the rule pulled while the upstream is down: %d", status)
	}
	// A run while the upstream is down reports the failure.
	st = runSync(t, srv.URL, "corp")
	if st.LastReport.Failed != 2 || !strings.Contains(st.LastReport.Repositories[0].Error, "upstream corp") {
		t.Errorf("a run with the upstream down reported no failure: %+v", st.LastReport)
	}
	up.down.Store(false)

	// Nothing changed: unchanged. A tag moved: updated.
	st = runSync(t, srv.URL, "corp")
	if st.LastReport.Unchanged != 3 || st.LastReport.Updated != 0 || st.LastReport.Failed != 0 {
		t.Fatalf("second run: %+v", st.LastReport)
	}
	img, _ := random.Image(1024, 1)
	moved := push(t, up, "sync/app:1.27.0", img)
	st = runSync(t, srv.URL, "corp")
	if got := tagStatuses(st); got["sync/app:1.27.0"] != "updated" || st.LastReport.Updated != 1 {
		t.Fatalf("after a tag moved: %v", got)
	}
	up.down.Store(true)
	status, _, body := get(t, srv.URL+"/v2/corp/sync/app/manifests/1.27.0", "Accept", manifestAccept)
	up.down.Store(false)
	if status != http.StatusOK || sha256hex(body) != moved {
		t.Fatalf("the moved tag from the cache: %d %s, want %s", status, sha256hex(body), moved)
	}

	// Unknown upstream, or one without rules: 404.
	if status, _, _ := get(t, srv.URL+"/api/v1/proxy/upstreams/nope/sync"); status != http.StatusNotFound {
		t.Errorf("sync status of an unknown upstream: %d", status)
	}
}
