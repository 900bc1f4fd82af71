package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/events"
)

// hookReceiver collects signed webhook requests.
type hookReceiver struct {
	mu     sync.Mutex
	secret string
	got    []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.secret != "" {
		if err := events.Verify(h.secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
			r.Header.Get("webhook-signature"), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
	}
	h.got = append(h.got, hookRequest{r.Header.Clone(), body})
}

func (h *hookReceiver) wait(t *testing.T, n int) []hookRequest {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.mu.Lock()
		got := append([]hookRequest(nil), h.got...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d webhook requests, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooksAPI drives webhooks end to end: created through the API, a
// push over /v2/ reaches a project webhook (CloudEvents, signed, filtered
// by tag) and a system-wide one (Distribution's envelope), a tag
// deletion follows, and the delivery log shows every attempt.
func TestWebhooksAPI(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) {
		c.Events.AllowPrivateTargets = true
		c.Events.Poll = 50 * time.Millisecond
	})
	project := &hookReceiver{}
	ps := httptest.NewServer(project)
	defer ps.Close()
	system := &hookReceiver{}
	ss := httptest.NewServer(system)
	defer ss.Close()
	api := s.URL + "/api/v1/projects/team/webhooks"

	st, body := call(t, "POST", api, fmt.Sprintf(`{"name":"ci","url":%q,"event_types":["manifest.pushed","tag.deleted"],"tags":"v*",`+
		`"headers":{"X-Jenkins-Token":"t0k"}}`, ps.URL))
	expect(t, "create", st, body, http.StatusCreated, `"name":"ci"`, `"secret":"whsec_`, `"secrets":1`, `"format":"cloudevents"`, `"enabled":true`)
	var created struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	project.secret = created.Secret
	st, body = call(t, "POST", api, fmt.Sprintf(`{"name":"ci","url":%q}`, ps.URL))
	expect(t, "create twice", st, body, http.StatusConflict, "exists")
	st, body = call(t, "POST", api, `{"name":"x","url":"ftp://example.com"}`)
	expect(t, "bad url", st, body, http.StatusBadRequest, "http or https")
	st, body = call(t, "POST", api, `{"name":"x","url":"https://example.com","format":"xml"}`)
	expect(t, "bad format", st, body, http.StatusBadRequest, "format")
	st, body = call(t, "POST", api, `{"name":"x","url":"https://example.com","event_types":["push"]}`)
	expect(t, "bad type", st, body, http.StatusBadRequest, "unknown event type")
	st, body = call(t, "GET", api, "")
	expect(t, "list", st, body, http.StatusOK, `"webhooks":[{"id":`, `"X-Jenkins-Token":"t0k"`)
	if strings.Contains(body, "whsec_") {
		t.Fatalf("list shows the secret: %s", body)
	}
	st, body = call(t, "GET", s.URL+fmt.Sprintf("/api/v1/projects/other/webhooks/%d", created.ID), "")
	expect(t, "another project's webhook", st, body, http.StatusNotFound)
	st, body = call(t, "POST", s.URL+"/api/v1/webhooks", fmt.Sprintf(`{"name":"all","url":%q,"format":"distribution","secrets":[]}`, ss.URL))
	expect(t, "create system-wide", st, body, http.StatusCreated, `"secrets":0`)

	// Push a manifest tagged v1, and one tagged dev (not for the project hook).
	cfg := []byte(`{"architecture":"amd64"}`)
	if st, body := pushBlob(t, s.URL, "team/app", cfg); st != http.StatusCreated {
		t.Fatalf("push config: %d %s", st, body)
	}
	manifest := func(n int) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[],"annotations":{"n":"%d"}}`,
			digest.FromBytes(cfg), len(cfg), n)
	}
	for i, tag := range []string{"dev", "v1"} {
		req, _ := http.NewRequest("PUT", s.URL+"/v2/team/app/manifests/"+tag, strings.NewReader(manifest(i)))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("push %s: %d", tag, resp.StatusCode)
		}
	}
	got := project.wait(t, 1)
	var ce struct {
		SpecVersion string `json:"specversion"`
		ID          string `json:"id"`
		Type        string `json:"type"`
		Data        struct {
			Repository string   `json:"repository"`
			Digest     string   `json:"digest"`
			Tags       []string `json:"tags"`
			Sequence   int64    `json:"sequence"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &ce); err != nil {
		t.Fatal(err)
	}
	if ce.SpecVersion != "1.0" || ce.Type != "io.berth.manifest.pushed" || ce.Data.Repository != "team/app" ||
		ce.Data.Digest != digest.FromString(manifest(1)).String() || len(ce.Data.Tags) != 1 || ce.Data.Tags[0] != "v1" ||
		ce.Data.Sequence != 2 || got[0].header.Get("webhook-id") != ce.ID || got[0].header.Get("X-Jenkins-Token") != "t0k" {
		t.Fatalf("cloudevent = %s, headers %v", got[0].body, got[0].header)
	}
	all := system.wait(t, 2)
	if !strings.Contains(string(all[0].body), `"action":"push"`) || !strings.Contains(string(all[0].body), `"tag":"dev"`) ||
		all[0].header.Get("Content-Type") != "application/vnd.docker.distribution.events.v2+json" || all[0].header.Get("webhook-signature") != "" {
		t.Fatalf("distribution envelope = %s %v", all[0].body, all[0].header)
	}

	// A tag deletion follows, in order.
	req, _ := http.NewRequest("DELETE", s.URL+"/v2/team/app/manifests/v1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete tag: %d", resp.StatusCode)
	}
	got = project.wait(t, 2)
	if !strings.Contains(string(got[1].body), `"type":"io.berth.tag.deleted"`) || !strings.Contains(string(got[1].body), `"sequence":"3"`) {
		t.Fatalf("tag deleted = %s", got[1].body)
	}

	// The delivery log.
	st, body = call(t, "GET", fmt.Sprintf("%s/%d/deliveries", api, created.ID), "")
	expect(t, "deliveries", st, body, http.StatusOK, `"event_type":"tag.deleted"`, `"status":"delivered"`, `"status_code":200`)
	st, body = call(t, "GET", fmt.Sprintf("%s/%d/deliveries?status=bogus", api, created.ID), "")
	expect(t, "bad status", st, body, http.StatusBadRequest)
	st, body = call(t, "POST", fmt.Sprintf("%s/%d/redeliver", api, created.ID), "")
	expect(t, "redeliver all", st, body, http.StatusAccepted, `"requeued":0`)
	st, body = call(t, "POST", fmt.Sprintf("%s/%d/deliveries/1/redeliver", api, created.ID), "")
	expect(t, "redeliver a delivered one", st, body, http.StatusNotFound)

	// Update (disable), then delete.
	st, body = call(t, "PUT", fmt.Sprintf("%s/%d", api, created.ID), fmt.Sprintf(`{"name":"ci","url":%q,"enabled":false}`, ps.URL))
	expect(t, "disable", st, body, http.StatusOK, `"enabled":false`, `"secrets":1`)
	st, body = call(t, "DELETE", fmt.Sprintf("%s/%d", api, created.ID), "")
	expect(t, "delete", st, body, http.StatusNoContent)
	st, body = call(t, "GET", s.URL+"/metrics", "")
	expect(t, "metrics", st, body, http.StatusOK, `berth_event_deliveries_total{kind="webhook",outcome="delivered"}`,
		`berth_events_recorded_total{type="manifest.pushed"}`, "berth_event_queue_age_seconds")
}

// TestRunAndQuotaEvents: a push crossing a quota threshold records
// quota.warning, a refused one quota.exceeded, and a GC run gc.finished;
// a system-wide webhook receives them.
func TestRunAndQuotaEvents(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) {
		c.Events.AllowPrivateTargets = true
		c.Events.Poll = 50 * time.Millisecond
		c.Events.QuotaThresholds = []int{50}
	})
	recv := &hookReceiver{}
	rs := httptest.NewServer(recv)
	defer rs.Close()
	st, body := call(t, "POST", s.URL+"/api/v1/webhooks", fmt.Sprintf(`{"name":"ops","url":%q,"secrets":[],`+
		`"event_types":["quota.warning","quota.exceeded","gc.finished"]}`, rs.URL))
	expect(t, "create", st, body, http.StatusCreated)
	st, body = call(t, "PUT", s.URL+"/api/v1/projects/team/quota", `{"storage_bytes":1000}`)
	expect(t, "quota", st, body, http.StatusOK)
	if st, body := pushBlob(t, s.URL, "team/app", []byte(strings.Repeat("a", 600))); st != http.StatusCreated {
		t.Fatalf("push under quota: %d %s", st, body)
	}
	if st, _ := pushBlob(t, s.URL, "team/app", []byte(strings.Repeat("b", 600))); st != http.StatusForbidden {
		t.Fatalf("push over quota: %d", st)
	}
	st, body = call(t, "POST", s.URL+"/api/v1/gc", `{}`)
	expect(t, "gc", st, body, http.StatusAccepted)
	got := recv.wait(t, 3)
	types := map[string]string{}
	for _, r := range got {
		var ce struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(r.body, &ce); err != nil {
			t.Fatal(err)
		}
		d, _ := json.Marshal(ce.Data)
		types[ce.Type] = string(d)
	}
	if w := types["io.berth.quota.warning"]; !strings.Contains(w, `"threshold_percent":50`) || !strings.Contains(w, `"project":"team"`) {
		t.Errorf("quota warning = %q (all: %v)", w, types)
	}
	if e := types["io.berth.quota.exceeded"]; !strings.Contains(e, `"limit":1000`) {
		t.Errorf("quota exceeded = %q (all: %v)", e, types)
	}
	if g, ok := types["io.berth.gc.finished"]; !ok || !strings.Contains(g, `"details"`) {
		t.Errorf("gc finished = %q (all: %v)", g, types)
	}
}

// pushTagged pushes a small image manifest (config already pushed) to
// repo:tag and returns its digest.
func pushTagged(t *testing.T, base, repo, tag string, cfg []byte) digest.Digest {
	t.Helper()
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[],"annotations":{"tag":%q}}`,
		digest.FromBytes(cfg), len(cfg), tag)
	req, _ := http.NewRequest("PUT", base+"/v2/"+repo+"/manifests/"+tag, strings.NewReader(m))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push %s:%s: %d", repo, tag, resp.StatusCode)
	}
	return digest.FromString(m)
}

// TestPullAndRetentionEvents: with events.pulls, a manifest GET records
// manifest.pulled; a retention run records its tag deletions and
// retention.finished; a Harbor-format webhook receives them as Harbor
// sends them.
func TestPullAndRetentionEvents(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) {
		c.Events.AllowPrivateTargets = true
		c.Events.Poll = 50 * time.Millisecond
		c.Events.Pulls = true
		c.Events.ExternalURL = "https://registry.example.com"
	})
	recv := &hookReceiver{}
	rs := httptest.NewServer(recv)
	defer rs.Close()
	st, body := call(t, "POST", s.URL+"/api/v1/projects/team/webhooks", fmt.Sprintf(`{"name":"harbor","url":%q,"secrets":[],"format":"harbor",`+
		`"event_types":["manifest.pulled","tag.deleted","retention.finished"]}`, rs.URL))
	expect(t, "create", st, body, http.StatusCreated)
	cfg := []byte(`{"architecture":"arm64"}`)
	if st, body := pushBlob(t, s.URL, "team/app", cfg); st != http.StatusCreated {
		t.Fatalf("push config: %d %s", st, body)
	}
	old := pushTagged(t, s.URL, "team/app", "v1", cfg)
	time.Sleep(1100 * time.Millisecond) // push times are kept to the second
	pushTagged(t, s.URL, "team/app", "v2", cfg)
	resp, err := http.Get(s.URL + "/v2/team/app/manifests/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st, body = call(t, "PUT", s.URL+"/api/v1/projects/team/retention", `{"rules":[{"keep":"latest_pushed","count":1}]}`)
	expect(t, "retention", st, body, http.StatusOK)
	st, body = call(t, "POST", s.URL+"/api/v1/projects/team/retention/run", `{"dry_run":false}`)
	expect(t, "run", st, body, http.StatusOK, `"tags_deleted":1`)
	got := recv.wait(t, 3)
	// One repository's events arrive in order; the run report (no
	// repository) may come before or after them.
	byType := func(typ string) string {
		for _, r := range got {
			if strings.Contains(string(r.body), `"type":"`+typ+`"`) {
				return string(r.body)
			}
		}
		return ""
	}
	if !strings.Contains(string(got[0].body), `PULL_ARTIFACT`) && !strings.Contains(string(got[1].body), `PULL_ARTIFACT`) {
		t.Errorf("the pull did not come before the deletion")
	}
	want := []string{
		`{"type":"PULL_ARTIFACT","occur_at":`,
		`"event_data":{"resources":[{"digest":"` + old.String() + `","tag":"v1","resource_url":"registry.example.com/team/app:v1"}],` +
			`"repository":{"name":"app","namespace":"team","repo_full_name":"team/app","repo_type":"private"}}}`,
	}
	for _, w := range want {
		if b := byType("PULL_ARTIFACT"); !strings.Contains(b, w) {
			t.Errorf("pull = %s, lacks %s", b, w)
		}
	}
	if b := byType("DELETE_ARTIFACT"); !strings.Contains(b, `"tag":"v1"`) {
		t.Errorf("retention's tag deletion = %s", b)
	}
	if b := byType("TAG_RETENTION"); !strings.Contains(b, `"type":"TAG_RETENTION"`) || !strings.Contains(b, `"retention":{"total":2,"retained":1`) ||
		!strings.Contains(b, `"project_name":"team"`) {
		t.Errorf("retention finished = %s", b)
	}
}
