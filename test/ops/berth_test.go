package ops

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
)

// startBerth runs an in-process Berth on a loopback listener with every
// optional metric turned on: a pull-through upstream (never contacted) and
// a project with a storage quota. edit may change the configuration.
func startBerth(t *testing.T, edit func(*config.Config)) *apptest.Server {
	t.Helper()
	upstream := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(upstream.Close)
	s := apptest.Start(t, func(c *config.Config) {
		c.Proxy.Upstreams = []config.Upstream{{Name: "hub", URL: upstream.URL, Project: "hub",
			ManifestTTL: time.Hour, Timeout: 5 * time.Second}}
		if edit != nil {
			edit(c)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	req, _ := http.NewRequest("PUT", s.URL+"/api/v1/projects/team/quota", strings.NewReader(`{"storage_bytes":"1MiB"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set quota: %s", resp.Status)
	}
	return s
}

// exportedNames are the sample names of a /metrics page (histograms as
// their _bucket, _sum and _count series), plus "up", which Prometheus
// adds to every target.
func exportedNames(t *testing.T, base string) map[string]bool {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{"up": true}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
