package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

func newStore(t *testing.T) meta.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testOptions() Options {
	return Options{MaxRetry: time.Hour, Retention: time.Hour, Timeout: 2 * time.Second, Workers: 4,
		Poll: 20 * time.Millisecond, AllowPrivateTargets: true, Source: "http://registry.test"}
}

// push records a manifest push the way the registry does: a blob, then
// the manifest with its tag, which writes the event.
func push(t *testing.T, s meta.Store, repo string, i int) digest.Digest {
	t.Helper()
	ctx := WithActor(context.Background(), "alice")
	b := digest.FromString("layer")
	if err := s.PutBlob(ctx, repo, meta.Blob{Digest: b, Size: 5}); err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf(`{"repo":%q,"i":%d}`, repo, i)
	m := &meta.Manifest{Repository: repo, Digest: digest.FromString(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte(content), Blobs: []digest.Digest{b}}
	if err := s.PutManifest(ctx, m, []string{fmt.Sprint("v", i)}); err != nil {
		t.Fatal(err)
	}
	return m.Digest
}

// receiver records what a webhook target receives and verifies each
// request's signature with secret.
type receiver struct {
	t      *testing.T
	secret string
	down   atomic.Bool
	mu     sync.Mutex
	bodies []received
}

type received struct {
	id     string
	header http.Header
	body   []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if rc.down.Load() {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if err := Verify(rc.secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"),
		body, time.Now(), 5*time.Minute); err != nil {
		rc.t.Errorf("signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, received{r.Header.Get("webhook-id"), r.Header.Clone(), body})
	rc.mu.Unlock()
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.bodies)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs svc's workers until the test ends or stop is called.
func run(t *testing.T, svc *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestDeliveryOrderedThroughOutage(t *testing.T) {
	store := newStore(t)
	secret := NewSecret()
	rc := &receiver{t: t, secret: secret}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	svc := New(store, testOptions())
	// A second secret during rotation: both signatures are sent, the
	// receiver knows only one of them.
	if _, err := svc.CreateSubscription(context.Background(), "", Spec{Name: "ci", URL: srv.URL,
		Secrets: []string{NewSecret(), secret}, Headers: map[string]string{"X-Token": "abc"}}, "admin"); err != nil {
		t.Fatal(err)
	}
	rc.down.Store(true)
	const n = 6
	for i := range n {
		push(t, store, "p/a", i)
		push(t, store, "p/b", i)
	}
	run(t, svc)
	// While the target is down, deliveries fail and back off; only the
	// head of each repository is tried.
	waitFor(t, "failed attempts", func() bool {
		st, _ := store.EventStats(context.Background())
		return st.Pending == 2*n && st.Undispatched == 0 && failedAttempts(t, svc) >= 2
	})
	rc.down.Store(false)
	// Retry sooner than the back-off: nudge the due time by redelivery is
	// not needed: back-off starts at ~1s.
	waitFor(t, "all deliveries", func() bool { return len(rc.got()) >= 2*n })
	time.Sleep(300 * time.Millisecond) // any duplicate would arrive now
	got := rc.got()
	ids := map[string]bool{}
	last := map[string]int64{}
	for _, r := range got {
		if ids[r.id] {
			t.Errorf("event %s delivered twice", r.id)
		}
		ids[r.id] = true
		var ce struct {
			ID   string    `json:"id"`
			Data eventData `json:"data"`
		}
		if err := json.Unmarshal(r.body, &ce); err != nil {
			t.Fatal(err)
		}
		if ce.ID != r.id || r.header.Get("X-Token") != "abc" || len(strings.Fields(r.header.Get("webhook-signature"))) != 2 {
			t.Errorf("delivery %s: id %s, headers %v", r.id, ce.ID, r.header)
		}
		if ce.Data.Sequence != last[ce.Data.Repository]+1 {
			t.Errorf("%s: sequence %d after %d", ce.Data.Repository, ce.Data.Sequence, last[ce.Data.Repository])
		}
		last[ce.Data.Repository] = ce.Data.Sequence
	}
	if len(got) != 2*n {
		t.Fatalf("received %d deliveries, want %d", len(got), 2*n)
	}
}

func failedAttempts(t *testing.T, svc *Service) int {
	subs, _ := svc.Subscriptions(context.Background(), "")
	n := 0
	for _, sub := range subs {
		ds, err := svc.Deliveries(context.Background(), "", sub.ID, "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			for _, a := range d.Attempts {
				if a.StatusCode == http.StatusServiceUnavailable && a.Response == "maintenance\n" {
					n++
				}
			}
		}
	}
	return n
}

func TestPrivateTargetRefused(t *testing.T) {
	store := newStore(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	o := testOptions()
	o.AllowPrivateTargets = false
	o.MaxRetry = time.Minute
	svc := New(store, o)
	ctx := context.Background()
	// An IP literal is refused when the subscription is saved...
	if _, err := svc.CreateSubscription(ctx, "", Spec{Name: "lit", URL: srv.URL}, "admin"); !IsInvalid(err) {
		t.Fatalf("loopback literal accepted: %v", err)
	}
	for _, u := range []string{"http://10.1.2.3/", "http://[::1]:80/", "http://169.254.169.254/latest/meta-data", "http://192.168.0.1/"} {
		if _, err := svc.CreateSubscription(ctx, "", Spec{Name: "lit", URL: u}, "admin"); !IsInvalid(err) {
			t.Errorf("%s accepted: %v", u, err)
		}
	}
	// ...and a name that resolves to one is refused when dialled.
	sub, err := svc.CreateSubscription(ctx, "", Spec{Name: "named", URL: "http://localhost:" + portOf(srv.URL) + "/hook"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	push(t, store, "p/a", 1)
	stop := run(t, svc)
	waitFor(t, "a refused attempt", func() bool {
		ds, _ := svc.Deliveries(ctx, "", sub.ID, "", 0, 10)
		return len(ds) == 1 && len(ds[0].Attempts) > 0
	})
	ds, _ := svc.Deliveries(ctx, "", sub.ID, "", 0, 10)
	if a := ds[0].Attempts[0]; a.StatusCode != 0 || !strings.Contains(a.Error, "private") {
		t.Fatalf("attempt = %+v", a)
	}
	if hits.Load() != 0 {
		t.Fatalf("the private target was reached %d times", hits.Load())
	}
	// Allowed by the admin setting, the same target is reached (after
	// the back-off of the failed attempt).
	stop()
	o.AllowPrivateTargets = true
	svc2 := New(store, o)
	run(t, svc2)
	waitFor(t, "delivery once allowed", func() bool { return hits.Load() > 0 })
}

func portOf(u string) string {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == ':' {
			return u[i+1:]
		}
	}
	return ""
}

func TestConsumerRetriedInOrder(t *testing.T) {
	store := newStore(t)
	svc := New(store, testOptions())
	var mu sync.Mutex
	var seen []Event
	fails := 2
	consume := func(ctx context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return fmt.Errorf("destination down")
		}
		seen = append(seen, ev)
		return nil
	}
	types := []Type{ManifestPushed, TagDeleted}
	// Registered on two instances (or again after a restart): one
	// subscription, stored before anything is delivered.
	svc.RegisterConsumer("replication", types, consume)
	other := New(store, testOptions())
	other.RegisterConsumer("replication", types, consume)
	for _, sv := range []*Service{svc, other} {
		if names := sv.storeConsumers(context.Background()); len(names) != 1 {
			t.Fatalf("stored consumers = %v", names)
		}
	}
	if subs, err := store.Subscriptions(context.Background(), meta.SubscriptionConsumer, "*"); err != nil || len(subs) != 1 {
		t.Fatalf("consumer subscriptions = %+v, %v", subs, err)
	}
	d1 := push(t, store, "p/a", 1)
	ctx := WithOrigin(context.Background(), "replication:site-b")
	if err := store.DeleteTag(ctx, "p/a", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteManifest(ctx, "p/a", d1); err != nil { // a type it did not subscribe to
		t.Fatal(err)
	}
	push(t, store, "p/a", 2)
	run(t, svc)
	waitFor(t, "consumed events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 3
	})
	mu.Lock()
	defer mu.Unlock()
	want := []Type{ManifestPushed, TagDeleted, ManifestPushed}
	for i, ev := range seen {
		if ev.Type != want[i] || ev.Sequence != []int64{1, 2, 4}[i] || ev.Repository != "p/a" {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	if seen[0].Actor != "alice" || seen[0].Digest != d1 || !slices.Equal(seen[0].Tags, []string{"v1"}) || seen[0].Origin != "" {
		t.Errorf("push event = %+v", seen[0])
	}
	if seen[1].Origin != "replication:site-b" || seen[1].Digest != d1 {
		t.Errorf("tag deleted event = %+v", seen[1])
	}
}

// IsInvalid reports whether err is ErrInvalid.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }
