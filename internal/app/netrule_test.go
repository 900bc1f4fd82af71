package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
)

// from is an HTTP client whose connections come from a loopback address
// of its own (127.0.0.2 is another client than 127.0.0.1 to the server).
func from(t *testing.T, local string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

// v2 makes a /v2/ request with Basic credentials from a client and
// returns the status and body.
func v2(t *testing.T, c *http.Client, c2 cred, method, u string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", c2.basic())
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestNetworkRules(t *testing.T) {
	s := startAuth(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.3"} })
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/user/dev", `{"role":"developer"}`, 200)
	var robot struct{ Name, Secret string }
	json.Unmarshal([]byte(api(t, s.URL, admin, "POST", "/api/v1/projects/team/robots", `{"name":"ci","actions":["pull","push"]}`, 201)), &robot)
	dev, bot := cred{"dev", "dev-password"}, cred{robot.Name, robot.Secret}

	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/network-rule", `{"push":["10.0.0.1/8"]}`, 200)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/network-rule", `{"push":["bogus"]}`, 400)
	if got := api(t, s.URL, dev, "GET", "/api/v1/projects/team/network-rule", "", 200); got != `{"pull":[],"push":["10.0.0.0/8"]}`+"\n" {
		t.Fatalf("rule as stored: %s", got)
	}
	api(t, s.URL, dev, "PUT", "/api/v1/projects/team/network-rule", `{"push":[]}`, 403)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/network-rule", `{"push":["127.0.0.1"]}`, 200)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/robots/ci/network-rule", `{"pull":["127.0.0.1/32","10.9.0.0/16"]}`, 200)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/robots/nope/network-rule", `{"pull":["127.0.0.1/32"]}`, 404)

	blob := []byte("a layer")
	d := digest.FromBytes(blob).String()
	push := func(c *http.Client, who cred, hdr map[string]string) (int, string) {
		return v2(t, c, who, "POST", s.URL+"/v2/team/app/blobs/uploads/?digest="+d, blob, hdr)
	}
	pull := func(c *http.Client, who cred, hdr map[string]string) (int, string) {
		return v2(t, c, who, "GET", s.URL+"/v2/team/app/blobs/"+d, nil, hdr)
	}
	one, two, proxy := from(t, "127.0.0.1"), from(t, "127.0.0.2"), from(t, "127.0.0.3")
	tests := []struct {
		name     string
		do       func(*http.Client, cred, map[string]string) (int, string)
		c        *http.Client
		who      cred
		hdr      map[string]string
		want     int
		wantRule string
	}{
		{"push from an allowed address", push, one, dev, nil, 201, ""},
		{"push from another address", push, two, dev, nil, 403, "push from 127.0.0.2 is not allowed by the network rule of project team (allowed: 127.0.0.1/32)"},
		{"pull has no project rule", pull, two, dev, nil, 200, ""},
		{"X-Forwarded-For from an untrusted peer is ignored", push, two, dev, map[string]string{"X-Forwarded-For": "127.0.0.1"}, 403, "push from 127.0.0.2"},
		{"X-Forwarded-For from a trusted proxy", push, proxy, dev, map[string]string{"X-Forwarded-For": "127.0.0.1"}, 201, ""},
		{"the client behind a trusted proxy", push, proxy, dev, map[string]string{"X-Forwarded-For": "10.1.2.3"}, 403, "push from 10.1.2.3"},
		{"robot pull from its network", pull, one, bot, nil, 200, ""},
		{"robot pull from elsewhere", pull, two, bot, nil, 403, "pull from 127.0.0.2 is not allowed by the network rule of robot robot$team+ci"},
		{"robot push: the project's rule", push, two, bot, nil, 403, "network rule of project team"},
		{"admin bypass", push, two, admin, nil, 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := tc.do(tc.c, tc.who, tc.hdr)
			if st != tc.want || (tc.wantRule != "" && (!strings.Contains(body, "DENIED") || !strings.Contains(body, tc.wantRule))) {
				t.Fatalf("%d %s; want %d naming %q", st, body, tc.want, tc.wantRule)
			}
		})
	}
	// A refused push is in the audit log, with the client's address.
	var found bool
	for _, e := range auditEventsAs(t, s.URL+"/api/v1/audit?action=push&user=dev", admin, 3) {
		found = found || e.HTTPStatus == 403 && e.ClientIP == "127.0.0.2"
	}
	if !found {
		t.Fatal("no refused push from 127.0.0.2 in the audit log")
	}
	// The project page edits the same rule.
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	want(t, "bad network", b.post("/ui/projects/team/network", url.Values{"pull": {"127.0.0.1\nnot-a-network"}, "push": {"127.0.0.1"}}),
		http.StatusUnprocessableEntity, "Enter addresses or CIDRs", "not-a-network")
	wantDone(t, "network", b.post("/ui/projects/team/network", url.Values{"pull": {" 127.0.0.0/8 \n\n10.1.2.3"}, "push": {"127.0.0.1"}}), "/ui/projects/team")
	want(t, "project page", b.get("/ui/projects/team"), 200, "Network rules", "127.0.0.0/8\n10.1.2.3/32\n")
	if got := api(t, s.URL, admin, "GET", "/api/v1/projects/team/network-rule", "", 200); got != `{"pull":["127.0.0.0/8","10.1.2.3/32"],"push":["127.0.0.1/32"]}`+"\n" {
		t.Fatalf("rule set in the UI: %s", got)
	}
	// Both lists empty remove the rule.
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/network-rule", `{}`, 200)
	if st, body := push(two, dev, nil); st != 201 {
		t.Fatalf("push after the rule was removed: %d %s", st, body)
	}
}

// The system-wide rule applies to every project; without admin_bypass,
// to administrators too.
func TestNetworkSystemRule(t *testing.T) {
	s := startAuth(t, func(c *config.Config) {
		c.Auth.Network = config.Network{Pull: []string{"127.0.0.0/8"}, Push: []string{"127.0.0.1"}, AdminBypass: false}
	})
	admin := cred{"admin", adminPassword}
	blob := []byte("a layer")
	d := digest.FromBytes(blob).String()
	st, body := v2(t, from(t, "127.0.0.2"), admin, "POST", s.URL+"/v2/any/app/blobs/uploads/?digest="+d, blob, nil)
	if st != 403 || !strings.Contains(body, "the system network rule (auth.network.push)") {
		t.Fatalf("admin push from 127.0.0.2: %d %s", st, body)
	}
	if st, body := v2(t, from(t, "127.0.0.1"), admin, "POST", s.URL+"/v2/any/app/blobs/uploads/?digest="+d, blob, nil); st != 201 {
		t.Fatalf("admin push from 127.0.0.1: %d %s", st, body)
	}
	if st, body := v2(t, from(t, "127.0.0.2"), admin, "GET", s.URL+"/v2/any/app/blobs/"+d, nil, nil); st != 200 {
		t.Fatalf("admin pull from 127.0.0.2: %d %s", st, body)
	}
}
