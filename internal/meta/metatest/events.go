package metatest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// eventTests are the cases of the EventStore and of the events the change
// methods record in their own transaction.
var eventTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"EventsRecordedWithChanges", testEventsWithChanges},
	{"EventsNotRecordedOnFailure", testEventsFailure},
	{"EventsRepositorySequence", testEventsSequence},
	{"EventSubscriptions", testEventSubscriptions},
	{"EventDeliveryQueue", testEventDeliveryQueue},
	{"EventDeliveryLeaseRace", testEventDeliveryRace},
	{"EventPurge", testEventPurge},
}

func allEvents(t *testing.T, s meta.Store) []meta.OutboxEvent {
	t.Helper()
	evs, err := s.OutboxEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func eventTypes(evs []meta.OutboxEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func testEventsWithChanges(t *testing.T, s meta.Store) {
	c := meta.WithEventSource(ctx, "alice", "replication:r1")
	b := mustPutBlob(t, s, "p/app", "layer")
	m := manifest("p/app", `{"n":1}`, b)
	if err := s.PutManifest(c, m, []string{"v1", "latest"}); err != nil {
		t.Fatal(err)
	}
	m2 := manifest("p/app", `{"n":2}`, b)
	if err := s.PutManifestGuarded(c, m2, []string{"v2"}, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(c, "p/app", "latest"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTagIf(c, "p/app", "v2", m2.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUntaggedManifest(c, "p/app", m2.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteManifestChecked(c, "p/app", m.Digest, func([]string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	m3 := manifest("p/app", `{"n":3}`, b)
	if err := s.PutManifest(c, m3, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteManifest(c, "p/app", m3.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRepository(c, "p/app", nil); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, s)
	want := []string{meta.EventManifestPushed, meta.EventManifestPushed, meta.EventTagDeleted, meta.EventTagDeleted,
		meta.EventManifestDeleted, meta.EventManifestDeleted, meta.EventManifestPushed, meta.EventManifestDeleted,
		meta.EventRepositoryDeleted}
	if got := eventTypes(evs); !slices.Equal(got, want) {
		t.Fatalf("event types = %v, want %v", got, want)
	}
	first := evs[0]
	if first.Repository != "p/app" || first.Project != "p" || first.Digest != m.Digest || first.MediaType != m.MediaType ||
		!slices.Equal(first.Tags, []string{"v1", "latest"}) && !slices.Equal(first.Tags, []string{"latest", "v1"}) ||
		first.Actor != "alice" || first.Origin != "replication:r1" || len(first.ID) != 36 || first.CreatedAt.IsZero() {
		t.Fatalf("push event = %+v", first)
	}
	if e := evs[2]; e.Digest != m.Digest || !slices.Equal(e.Tags, []string{"latest"}) || e.MediaType != m.MediaType {
		t.Fatalf("tag deleted event = %+v", e)
	}
	if e := evs[4]; e.Digest != m2.Digest || e.MediaType != m2.MediaType {
		t.Fatalf("manifest deleted event = %+v", e)
	}
	ids := map[string]bool{}
	for i, e := range evs {
		if e.RepoSeq != int64(i+1) || ids[e.ID] {
			t.Fatalf("event %d: repo seq %d, id %s (dup %v)", i, e.RepoSeq, e.ID, ids[e.ID])
		}
		ids[e.ID] = true
	}
}

func testEventsFailure(t *testing.T, s meta.Store) {
	b := mustPutBlob(t, s, "p/app", "layer")
	// A manifest that lacks a blob: no manifest, no event.
	if err := s.PutManifest(ctx, manifest("p/app", `{"bad":1}`, b, dg("missing")), []string{"x"}); !errors.Is(err, meta.ErrReferenceUnknown) {
		t.Fatalf("push with missing blob: %v", err)
	}
	m := manifest("p/app", `{"n":1}`, b)
	if err := s.PutManifest(ctx, m, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	// An immutable tag moved: refused, no event.
	if err := s.PutManifestGuarded(ctx, manifest("p/app", `{"n":2}`, b), []string{"v1"}, []string{"v1"}); !errors.Is(err, meta.ErrTagImmutable) {
		t.Fatalf("immutable tag moved: %v", err)
	}
	// Deletions of what does not exist, or refused by a check.
	if err := s.DeleteTag(ctx, "p/app", "nope"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete unknown tag: %v", err)
	}
	if err := s.DeleteManifest(ctx, "p/app", dg("nope")); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete unknown manifest: %v", err)
	}
	if err := s.DeleteTagIf(ctx, "p/app", "v1", dg("other")); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("delete moved tag: %v", err)
	}
	if err := s.DeleteUntaggedManifest(ctx, "p/app", m.Digest); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("delete tagged manifest: %v", err)
	}
	refuse := errors.New("refused")
	if err := s.DeleteManifestChecked(ctx, "p/app", m.Digest, func([]string) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("checked delete refused: %v", err)
	}
	if _, err := s.DeleteRepository(ctx, "p/app", func([]string) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("repository delete refused: %v", err)
	}
	if _, err := s.DeleteRepository(ctx, "p/none", nil); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete unknown repository: %v", err)
	}
	evs := allEvents(t, s)
	if got := eventTypes(evs); !slices.Equal(got, []string{meta.EventManifestPushed}) || evs[0].Digest != m.Digest {
		t.Fatalf("events after failed changes = %v", got)
	}
}

func testEventsSequence(t *testing.T, s meta.Store) {
	// Concurrent pushes to two repositories: each repository's sequence
	// is 1..n without gaps, in the order of the global sequence.
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, repo := range []string{"p/a", "p/b"} {
		b := mustPutBlob(t, s, repo, "layer")
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.PutManifest(ctx, manifest(repo, fmt.Sprintf(`{"i":%d}`, i), b), []string{fmt.Sprint("t", i)})
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	e := &meta.OutboxEvent{Type: "gc.finished", Data: `{"deleted":1}`}
	if err := s.RecordEvent(ctx, e); err != nil || e.Seq == 0 || e.RepoSeq != 1 || e.ID == "" {
		t.Fatalf("RecordEvent = %+v, %v", e, err)
	}
	next := map[string]int64{}
	for _, e := range allEvents(t, s) {
		next[e.Repository]++
		if e.RepoSeq != next[e.Repository] {
			t.Fatalf("%s: repo seq %d, want %d", e.Repository, e.RepoSeq, next[e.Repository])
		}
	}
	if next["p/a"] != n || next["p/b"] != n || next[""] != 1 {
		t.Fatalf("events per repository = %v", next)
	}
}

func webhook(name, project string) *meta.Subscription {
	return &meta.Subscription{Kind: meta.SubscriptionWebhook, Project: project, Name: name, URL: "http://example.test/" + name,
		Types: []string{meta.EventManifestPushed}, Format: "cloudevents", Secrets: []string{"whsec_a", "whsec_b"},
		Headers: map[string]string{"X-Token": "t"}, Enabled: true, RepositoryGlob: "**"}
}

func testEventSubscriptions(t *testing.T, s meta.Store) {
	sub := webhook("ci", "p")
	if err := s.CreateSubscription(ctx, sub); err != nil || sub.ID == 0 {
		t.Fatalf("create = %+v, %v", sub, err)
	}
	if err := s.CreateSubscription(ctx, webhook("ci", "p")); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	if err := s.CreateSubscription(ctx, webhook("ci", "")); err != nil {
		t.Fatalf("same name system-wide: %v", err)
	}
	got, err := s.GetSubscription(ctx, sub.ID)
	if err != nil || got.URL != sub.URL || !slices.Equal(got.Types, sub.Types) || !slices.Equal(got.Secrets, sub.Secrets) ||
		got.Headers["X-Token"] != "t" || !got.Enabled || got.RepositoryGlob != "**" || got.Format != "cloudevents" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	got.Enabled, got.Types, got.Secrets = false, nil, []string{"whsec_c"}
	if err := s.UpdateSubscription(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetSubscription(ctx, sub.ID); g.Enabled || g.Types != nil || !slices.Equal(g.Secrets, []string{"whsec_c"}) {
		t.Fatalf("after update = %+v", g)
	}
	if subs, err := s.Subscriptions(ctx, "", "p"); err != nil || len(subs) != 1 {
		t.Fatalf("project subscriptions = %v, %v", subs, err)
	}
	if subs, err := s.Subscriptions(ctx, meta.SubscriptionWebhook, "*"); err != nil || len(subs) != 2 {
		t.Fatalf("all subscriptions = %v, %v", subs, err)
	}
	if err := s.DeleteSubscription(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSubscription(ctx, sub.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := s.DeleteSubscription(ctx, sub.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// pushN pushes n manifests to repo and returns their events' count.
func pushN(t *testing.T, s meta.Store, repo string, n int) {
	t.Helper()
	b := mustPutBlob(t, s, repo, "layer")
	for i := range n {
		if err := s.PutManifest(ctx, manifest(repo, fmt.Sprintf(`{"%s":%d}`, repo, i), b), []string{fmt.Sprint("t", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func dispatchAll(t *testing.T, s meta.Store) int {
	t.Helper()
	n, err := s.DispatchEvents(ctx, 100, func(sub *meta.Subscription, e *meta.OutboxEvent) bool {
		return sub.Kind == meta.SubscriptionConsumer || e.Project == sub.Project || sub.Project == ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testEventDeliveryQueue(t *testing.T, s meta.Store) {
	hook := webhook("ci", "p")
	other := webhook("other", "q")
	consumer := &meta.Subscription{Kind: meta.SubscriptionConsumer, Name: "replication", Enabled: true, Secrets: []string{}}
	for _, sub := range []*meta.Subscription{hook, other, consumer} {
		if err := s.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	pushN(t, s, "p/a", 3)
	pushN(t, s, "p/b", 1)
	if n := dispatchAll(t, s); n != 4 {
		t.Fatalf("dispatched %d", n)
	}
	if n := dispatchAll(t, s); n != 0 {
		t.Fatalf("dispatched again %d", n)
	}
	claim := func(owner string, consumers ...string) []meta.Delivery {
		t.Helper()
		ds, err := s.ClaimDeliveries(ctx, meta.ClaimOptions{Owner: owner, TTL: time.Minute, Limit: 10, Consumers: consumers})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	// Heads only: for each subscription the first event of p/a and of p/b;
	// the consumer's only when this process runs it.
	ds := claim("w1")
	if len(ds) != 2 {
		t.Fatalf("claimed %d deliveries, want 2: %+v", len(ds), ds)
	}
	for _, d := range ds {
		if d.SubscriptionID != hook.ID || d.Event.RepoSeq != 1 || d.Status != meta.DeliveryPending {
			t.Fatalf("claimed %+v", d)
		}
	}
	if more := claim("w2"); len(more) != 0 {
		t.Fatalf("leased deliveries claimed again: %+v", more)
	}
	if cs := claim("w2", "replication"); len(cs) != 2 || cs[0].SubscriptionID != consumer.ID {
		t.Fatalf("consumer deliveries = %+v", cs)
	}
	var pa, pb meta.Delivery
	for _, d := range ds {
		if d.Event.Repository == "p/a" {
			pa = d
		} else {
			pb = d
		}
	}
	// p/a fails: it stays the head, later ones wait; p/b succeeds.
	at := time.Now()
	fail := meta.DeliveryOutcome{Attempt: meta.Attempt{At: at, Duration: time.Millisecond, StatusCode: 503, Response: "down"},
		Status: meta.DeliveryPending, NextAt: at.Add(300 * time.Millisecond)}
	if err := s.FinishDelivery(ctx, pa.ID, "w2", fail); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("finish by a non-owner: %v", err)
	}
	if err := s.FinishDelivery(ctx, pa.ID, "w1", fail); err != nil {
		t.Fatal(err)
	}
	ok := meta.DeliveryOutcome{Attempt: meta.Attempt{At: at, StatusCode: 200}, Status: meta.DeliveryDelivered}
	if err := s.FinishDelivery(ctx, pb.ID, "w1", ok); err != nil {
		t.Fatal(err)
	}
	if more := claim("w1"); len(more) != 0 {
		t.Fatalf("claimed behind a failing head or not due: %+v", more)
	}
	atts, err := s.Attempts(ctx, pa.ID)
	if err != nil || len(atts) != 1 || atts[0].StatusCode != 503 || atts[0].Response != "down" || atts[0].Duration != time.Millisecond {
		t.Fatalf("attempts = %+v, %v", atts, err)
	}
	// Once due, the failed head is claimed again; dead-lettered, the next
	// one of p/a becomes the head.
	time.Sleep(time.Until(fail.NextAt) + 50*time.Millisecond)
	again := claim("w1")
	if len(again) != 1 || again[0].ID != pa.ID || again[0].Attempts != 1 {
		t.Fatalf("due again = %+v", again)
	}
	dead := meta.DeliveryOutcome{Attempt: meta.Attempt{At: at, Error: "refused"}, Status: meta.DeliveryDead}
	if err := s.FinishDelivery(ctx, pa.ID, "w1", dead); err != nil {
		t.Fatal(err)
	}
	next := claim("w1")
	if len(next) != 1 || next[0].Event.Repository != "p/a" || next[0].Event.RepoSeq != 2 {
		t.Fatalf("after dead letter = %+v", next)
	}
	if list, err := s.Deliveries(ctx, hook.ID, meta.DeliveryDead, 0, 10); err != nil || len(list) != 1 || list[0].ID != pa.ID || list[0].Attempts != 2 {
		t.Fatalf("dead deliveries = %+v, %v", list, err)
	}
	if list, err := s.Deliveries(ctx, hook.ID, "", 0, 10); err != nil || len(list) != 4 || list[0].ID < list[3].ID {
		t.Fatalf("all deliveries = %+v, %v", list, err)
	}
	if n, err := s.Redeliver(ctx, hook.ID, 0); err != nil || n != 1 {
		t.Fatalf("redeliver all = %d, %v", n, err)
	}
	if n, err := s.Redeliver(ctx, hook.ID, pa.ID); err != nil || n != 0 {
		t.Fatalf("redeliver a pending one = %d, %v", n, err)
	}
	st, err := s.EventStats(ctx)
	if err != nil || st.Pending != 7 || st.Dead != 0 || st.Undispatched != 0 || st.OldestPendingAt.IsZero() {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

func testEventDeliveryRace(t *testing.T, s meta.Store) {
	hook := webhook("ci", "")
	if err := s.CreateSubscription(ctx, hook); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		pushN(t, s, fmt.Sprint("p/r", i), 1)
	}
	dispatchAll(t, s)
	// Four workers claim at once: every delivery goes to exactly one.
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("w", w)
			ds, err := s.ClaimDeliveries(ctx, meta.ClaimOptions{Owner: owner, TTL: time.Minute, Limit: 3})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, d := range ds {
				if prev, ok := seen[d.ID]; ok {
					t.Errorf("delivery %d claimed by %s and %s", d.ID, prev, owner)
				}
				seen[d.ID] = owner
			}
		}()
	}
	wg.Wait()
	if len(seen) != 8 {
		t.Fatalf("claimed %d of 8 deliveries", len(seen))
	}
}

func testEventPurge(t *testing.T, s meta.Store) {
	hook := webhook("ci", "")
	if err := s.CreateSubscription(ctx, hook); err != nil {
		t.Fatal(err)
	}
	pushN(t, s, "p/a", 3)
	dispatchAll(t, s)
	ds, err := s.ClaimDeliveries(ctx, meta.ClaimOptions{Owner: "w", TTL: time.Minute, Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim = %+v, %v", ds, err)
	}
	if err := s.FinishDelivery(ctx, ds[0].ID, "w", meta.DeliveryOutcome{Status: meta.DeliveryDelivered, Attempt: meta.Attempt{At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	// Only the delivered event may go; pending ones stay, and so does
	// each repository's newest event.
	n, err := s.PurgeEvents(ctx, time.Now().Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	evs := allEvents(t, s)
	if len(evs) != 2 || evs[0].RepoSeq != 2 {
		t.Fatalf("left %+v", evs)
	}
	if list, _ := s.Deliveries(ctx, hook.ID, "", 0, 10); len(list) != 2 {
		t.Fatalf("deliveries left %+v", list)
	}
	// A later event continues the sequence.
	pushN(t, s, "p/a", 1)
	if evs := allEvents(t, s); evs[len(evs)-1].RepoSeq != 4 {
		t.Fatalf("sequence after purge: %+v", evs[len(evs)-1])
	}
}
