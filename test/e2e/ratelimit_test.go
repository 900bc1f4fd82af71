package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Past the anonymous manifest pulls per hour, crane gets 429
// TOOMANYREQUESTS with the registry's message (after its own three
// retries); the manifest answers before carry Docker Hub's rate-limit
// headers. skopeo gets it too, but honours Retry-After (up to a minute a
// try, five tries), so it takes four minutes to give up: too long here.
func TestRateLimitClients(t *testing.T) {
	if target != "berth" {
		t.Skip("rate limits are Berth's")
	}
	reg := startRegistryEnv(t, []string{"BERTH_RATE_LIMIT_ANONYMOUS_MANIFEST_PULLS_PER_HOUR=3"})
	c := newClients(t, reg)
	pushCraneImage(t, c, c.ref("lib/app", "v1"), 4<<10) // pushes count no pulls
	req, _ := http.NewRequest("GET", "http://"+reg.Direct+"/v2/lib/app/manifests/v1", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("ratelimit-limit") != "3;w=3600" || res.Header.Get("ratelimit-remaining") != "2;w=3600" {
		t.Fatalf("first pull: %d %v", res.StatusCode, res.Header)
	}
	c.crane("manifest", c.ref("lib/app", "v1"))
	c.skopeo("inspect", "--raw", "--tls-verify=false", "docker://"+c.ref("lib/app", "v1"))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"crane", []string{"crane", "manifest", c.ref("lib/app", "v1")}},
	} {
		r := c.exec(runOpts{}, tc.args[0], tc.args[1:]...)
		out := strings.ToLower(r.Stdout + r.Stderr)
		if r.Err == nil || !strings.Contains(out, "toomanyrequests") && !strings.Contains(out, "too many requests") {
			t.Fatalf("%s past the limit: %v\n%s", tc.name, r.Err, out)
		}
	}
}
