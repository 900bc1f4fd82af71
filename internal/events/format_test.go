package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

var sample = Event{ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Type: ManifestPushed, Time: time.Unix(1700000000, 0).UTC(),
	Repository: "library/nginx", Sequence: 7, Project: "library", Digest: digest.FromString("m"),
	MediaType: "application/vnd.oci.image.manifest.v1+json", Tags: []string{"1.25"}, Actor: "alice"}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func TestFormats(t *testing.T) {
	d := sample.Digest.String()
	tests := []struct {
		format      string
		contentType string
		headers     map[string]string
		body        map[string]any
	}{
		{FormatCloudEvents, "application/cloudevents+json", nil, map[string]any{
			"specversion": "1.0", "id": sample.ID, "source": "https://registry.example.com", "type": "io.berth.manifest.pushed",
			"subject": "library/nginx@" + d, "time": "2023-11-14T22:13:20Z", "datacontenttype": "application/json", "sequence": "7",
			"data": map[string]any{"repository": "library/nginx", "sequence": 7.0, "digest": d, "mediaType": sample.MediaType,
				"tags": []any{"1.25"}, "project": "library", "actor": "alice"}}},
		{FormatCloudEventsBinary, "application/json", map[string]string{"ce-specversion": "1.0", "ce-id": sample.ID,
			"ce-type": "io.berth.manifest.pushed", "ce-source": "https://registry.example.com", "ce-subject": "library/nginx@" + d,
			"ce-time": "2023-11-14T22:13:20Z", "ce-sequence": "7"},
			map[string]any{"repository": "library/nginx", "sequence": 7.0, "digest": d, "mediaType": sample.MediaType,
				"tags": []any{"1.25"}, "project": "library", "actor": "alice"}},
		{FormatHarbor, "application/json", nil, map[string]any{"type": "PUSH_ARTIFACT", "occur_at": 1700000000.0, "operator": "alice",
			"event_data": map[string]any{
				"resources":  []any{map[string]any{"digest": d, "tag": "1.25", "resource_url": "registry.example.com/library/nginx:1.25"}},
				"repository": map[string]any{"name": "nginx", "namespace": "library", "repo_full_name": "library/nginx", "repo_type": "private"}}}},
		{FormatDistribution, "application/vnd.docker.distribution.events.v2+json", nil, map[string]any{"events": []any{map[string]any{
			"id": sample.ID, "timestamp": "2023-11-14T22:13:20Z", "action": "push",
			"target": map[string]any{"mediaType": sample.MediaType, "digest": d, "repository": "library/nginx", "tag": "1.25",
				"url": "https://registry.example.com/v2/library/nginx/manifests/" + d},
			"request": map[string]any{"id": "", "method": "PUT", "useragent": ""},
			"actor":   map[string]any{"name": "alice"}, "source": map[string]any{"addr": "registry.example.com"}}}}},
		{FormatSlack, "application/json", nil, map[string]any{"text": "*manifest.pushed* `library/nginx:1.25` (" + sample.Digest.Encoded()[:12] + ") by alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			body, h, err := Encode(tc.format, &sample, "https://registry.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			for k, v := range tc.headers {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := decode(t, body); !reflect.DeepEqual(got, tc.body) {
				t.Errorf("body = %s\nwant %v", body, tc.body)
			}
		})
	}
}

func TestFormatsUnrepresentable(t *testing.T) {
	gc := Event{ID: "x", Type: GCFinished, Time: time.Now(), Data: map[string]any{"deleted_blobs": 3}}
	for _, f := range []string{FormatHarbor, FormatDistribution} {
		if _, _, err := Encode(f, &gc, "berth"); err != errUnrepresentable {
			t.Errorf("%s: gc.finished encoded: %v", f, err)
		}
	}
	for _, f := range []string{FormatCloudEvents, FormatCloudEventsBinary, FormatSlack} {
		if b, _, err := Encode(f, &gc, "berth"); err != nil || !strings.Contains(string(b), "deleted_blobs") {
			t.Errorf("%s: %s, %v", f, b, err)
		}
	}
	q := Event{ID: "q", Type: QuotaWarning, Project: "p", Time: time.Now(), Data: map[string]any{"threshold_percent": 80}}
	b, _, err := Encode(FormatHarbor, &q, "berth")
	if err != nil || !strings.Contains(string(b), `"QUOTA_WARNING"`) || !strings.Contains(string(b), `"threshold_percent":"80"`) {
		t.Errorf("harbor quota = %s, %v", b, err)
	}
}

func TestSignatureStandardWebhooks(t *testing.T) {
	// The example of the Standard Webhooks specification's test vectors.
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	sig, err := Sign([]string{secret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Fatalf("signature = %s, want %s", sig, want)
	}
	if err := Verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,bogus "+sig, body, ts, time.Minute); err != nil {
		t.Fatalf("verify: %v", err)
	}
	for name, tc := range map[string]struct{ id, ts, body string }{
		"body":  {"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", `{"test": 1}`},
		"id":    {"msg_other", "1614265330", string(body)},
		"stale": {"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614260000", string(body)},
	} {
		if err := Verify(secret, tc.id, tc.ts, sig, []byte(tc.body), ts, time.Minute); err == nil {
			t.Errorf("%s: a wrong %s verified", name, name)
		}
	}
	if _, err := ParseSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); err == nil {
		t.Error("a secret without whsec_ parsed")
	}
}
