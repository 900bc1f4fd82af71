package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProxyConfig(t *testing.T) {
	p := write(t, `
version: 1
data: /srv/berth
proxy:
  upstreams:
    - name: dockerhub
      url: https://registry-1.docker.io
      username: me
      password: secret
      namespaces: [docker.io]
      mirror: true
      cache_size: 50GiB
      max_age: 720h
    - name: ghcr
      url: https://ghcr.io
      token: abc
      project: gh
      manifest_ttl: 1m
      sync:
        - repository: org/tool
          semver: ">=1.2, <2"
          latest: 3
`)
	c, err := Load(p, nil, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	ups := c.Proxy.Upstreams
	if len(ups) != 2 || ups[0].Project != "dockerhub" || ups[0].ManifestTTL != 5*time.Minute || ups[0].CacheSize != 50<<30 ||
		ups[1].Project != "gh" || ups[1].ManifestTTL != time.Minute || ups[1].Timeout != 30*time.Second ||
		ups[1].SyncInterval != time.Hour || ups[0].SyncInterval != 0 || ups[1].Sync[0].Latest != 3 {
		t.Fatalf("upstreams: %+v", ups)
	}
	if c.Proxy.SpoolDir != filepath.Join("/srv/berth", "proxy-spool") || c.Proxy.EvictionInterval != time.Minute {
		t.Fatalf("proxy: %+v", c.Proxy)
	}
	// The whole list from the environment, as YAML.
	c, err = Load("", []string{`BERTH_PROXY_UPSTREAMS=[{name: hub, url: "http://127.0.0.1:5001", mirror: true}]`}, Overrides{})
	if err != nil || len(c.Proxy.Upstreams) != 1 || c.Proxy.Upstreams[0].Project != "hub" {
		t.Fatalf("from env: %+v, %v", c, err)
	}
}

func TestProxyConfigInvalid(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`[{name: Hub, url: "https://x.io"}]`, "name"},
		{`[{name: a, url: "ftp://x.io"}]`, "url"},
		{`[{name: a, url: "https://u:p@x.io"}]`, "url"},
		{`[{name: a, url: "https://x.io/v2/"}]`, "url"},
		{`[{name: a, url: "https://x.io"}, {name: a, url: "https://y.io"}]`, "used twice"},
		{`[{name: a, url: "https://x.io", project: p}, {name: b, url: "https://y.io", project: p}]`, "used by another"},
		{`[{name: a, url: "https://x.io", project: "a/b"}]`, "project"},
		{`[{name: a, url: "https://x.io", namespaces: [docker.io]}, {name: b, url: "https://y.io", namespaces: [docker.io]}]`, "served by a too"},
		{`[{name: a, url: "https://x.io", mirror: true}, {name: b, url: "https://y.io", mirror: true}]`, "at most one"},
		{`[{name: a, url: "https://x.io", token: t, username: u, password: p}]`, "not both"},
		{`[{name: a, url: "https://x.io", username: u}]`, "together"},
		{`[{name: a, url: "https://x.io", max_age: -1s}]`, "negative"},
		{`[{name: a, url: "https://x.io", ca_file: /nonexistent.pem}]`, "ca_file"},
		{`[{name: a, url: "https://x.io", sync: [{repository: "Bad"}]}]`, "sync[0].repository"},
		{`[{name: a, url: "https://x.io", sync: [{repository: a, tags: "("}]}]`, "sync[0].tags"},
		{`[{name: a, url: "https://x.io", sync: [{repository: a, semver: "one"}]}]`, "sync[0].semver"},
		{`[{name: a, url: "https://x.io", sync: [{repository: a, latest: -1}]}]`, "sync[0].latest"},
	} {
		_, err := Load("", []string{"BERTH_PROXY_UPSTREAMS=" + tc.yaml}, Overrides{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.yaml, err, tc.want)
		}
	}
}
