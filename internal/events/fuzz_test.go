package events

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// FuzzFilter: any subscription filter either fails to compile or matches
// without panicking, and a negated repository pattern selects exactly the
// events the pattern does not.
func FuzzFilter(f *testing.F) {
	f.Add("p/**", "v*,latest", "application/vnd.oci.*", "p/app", "v1", "application/vnd.oci.image.manifest.v1+json", "manifest.pushed")
	f.Add("", "", "", "", "", "", "gc.finished")
	f.Add("{a,b}/*", "!*-rc*", "", "a/x", "1.0-rc1", "", "tag.deleted")
	f.Add("[", "**", "*", "x", "y", "z", "manifest.pulled")
	f.Fuzz(func(t *testing.T, repoGlob, tagPattern, media, repo, tag, mediaType, typ string) {
		sub := &meta.Subscription{Kind: meta.SubscriptionWebhook, RepositoryGlob: repoGlob, TagPattern: tagPattern, MediaType: media}
		flt, err := compile(sub)
		if err != nil {
			return
		}
		e := &meta.OutboxEvent{Type: typ, Repository: repo, Project: meta.NewEvent(t.Context(), typ, repo).Project,
			Tags: []string{tag}, MediaType: mediaType}
		got := flt.match(e)
		if repoGlob == "" || repoGlob[0] == '!' || repo == "" {
			return
		}
		neg := &meta.Subscription{Kind: meta.SubscriptionWebhook, RepositoryGlob: "!" + repoGlob, TagPattern: tagPattern, MediaType: media}
		nf, err := compile(neg)
		if err != nil {
			return
		}
		// Without the repository test both would agree; with it, a match
		// of one is a miss of the other.
		all := &meta.Subscription{Kind: meta.SubscriptionWebhook, TagPattern: tagPattern, MediaType: media}
		af, _ := compile(all)
		if af.match(e) && got == nf.match(e) {
			t.Fatalf("pattern %q and its negation agree on %q: %v", repoGlob, repo, got)
		}
	})
}

// FuzzVerify: signature verification never panics and never accepts a
// signature it did not make.
func FuzzVerify(f *testing.F) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	f.Add(secret, "msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("whsec_", "", "x", "v1,", []byte{})
	f.Fuzz(func(t *testing.T, secret, id, ts, sig string, body []byte) {
		err := Verify(secret, id, ts, sig, body, time.Unix(1614265330, 0), time.Hour)
		if err != nil {
			return
		}
		// It verified: the signature must contain one Sign would make.
		want, serr := Sign([]string{secret}, id, parseTS(ts), body)
		if serr != nil || !containsField(sig, want) {
			t.Fatalf("accepted %q for %q", sig, want)
		}
	})
}

func parseTS(s string) time.Time {
	var n int64
	_ = json.Unmarshal([]byte(s), &n)
	return time.Unix(n, 0)
}

func containsField(s, f string) bool {
	for i := 0; i+len(f) <= len(s); i++ {
		if s[i:i+len(f)] == f && (i == 0 || s[i-1] == ' ') && (i+len(f) == len(s) || s[i+len(f)] == ' ') {
			return true
		}
	}
	return false
}

// FuzzEncode: every format renders any event without panicking, as valid
// JSON, or says it cannot represent it.
func FuzzEncode(f *testing.F) {
	f.Add("manifest.pushed", "p/app", "sha256:abc", "v1", "alice", `{"n":1}`)
	f.Add("gc.finished", "", "", "", "", `{"deleted":3}`)
	f.Add("quota.warning", "", "x", "", "", `{}`)
	f.Fuzz(func(t *testing.T, typ, repo, dgst, tag, actor, data string) {
		e := &meta.OutboxEvent{ID: "id", Type: typ, Repository: repo, Digest: digest.Digest(dgst), Tags: []string{tag}, Actor: actor,
			Data: data, CreatedAt: time.Unix(0, 0)}
		ev := fromOutbox(e)
		for _, format := range Formats {
			body, _, err := Encode(format, &ev, "https://r.example")
			if err == errUnrepresentable {
				continue
			}
			if err != nil || !json.Valid(body) {
				t.Fatalf("%s: %s, %v", format, body, err)
			}
		}
	})
}
