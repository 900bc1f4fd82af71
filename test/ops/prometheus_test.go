package ops

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/syncbuf"
)

// prometheus is a private Prometheus server on 127.0.0.1.
type prometheus struct {
	url string
	log *syncbuf.Buffer
}

// fastRules is the shipped rules file with every group evaluated each
// second and every "for:" shortened to 2s, so a test sees in seconds what
// production sees in minutes; the expressions are unchanged.
func fastRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), "prometheus", "berth-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^(\s+)interval: \S+$`).ReplaceAllString(string(b), "${1}interval: 1s")
	return regexp.MustCompile(`(?m)^(\s+)for: \S+$`).ReplaceAllString(s, "${1}for: 2s")
}

// startPrometheus runs Prometheus scraping target (host:port) every second
// under the job name "berth", with the given rules; it is stopped (by its
// PID) when the test ends.
func startPrometheus(t *testing.T, target, rules string) *prometheus {
	t.Helper()
	bin := needTool(t, "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: berth
    static_configs:
      - targets: [%q]
`, target)
	for name, body := range map[string]string{"prometheus.yml": cfg, "rules.yml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	log := &syncbuf.Buffer{}
	cmd := exec.Command(bin, "--config.file", filepath.Join(dir, "prometheus.yml"),
		"--web.listen-address", addr, "--storage.tsdb.path", filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	p := &prometheus{url: "http://" + addr, log: log}
	p.waitFor(t, "Prometheus ready", 30*time.Second, func() (bool, error) {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return p
}

// api GETs a Prometheus API path and decodes its data field into v.
func (p *prometheus) api(path string, v any) error {
	resp, err := http.Get(p.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, v)
}

// waitFor polls cond every 250ms until it holds, failing the test (with
// Prometheus's log) after timeout.
func (p *prometheus) waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)\nprometheus log:\n%s", what, last, p.log.String())
}

// names are the metric names Prometheus holds.
func (p *prometheus) names() (map[string]bool, error) {
	var list []string
	if err := p.api("/api/v1/label/__name__/values", &list); err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, n := range list {
		m[n] = true
	}
	return m, nil
}

// alert is an alert as /api/v1/alerts lists it.
type alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func (p *prometheus) alerts() ([]alert, error) {
	var data struct {
		Alerts []alert `json:"alerts"`
	}
	err := p.api("/api/v1/alerts", &data)
	return data.Alerts, err
}

// firing reports whether the named alert fires for the labels given.
func (p *prometheus) firing(name string, labels map[string]string) (bool, error) {
	all, err := p.alerts()
	if err != nil {
		return false, err
	}
	for _, a := range all {
		if a.Labels["alertname"] != name || a.State != "firing" {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && a.Labels[k] == v
		}
		if match {
			return true, nil
		}
	}
	return false, nil
}

// TestPrometheusScrapesEveryMetric: a real Prometheus scrapes a running
// Berth and evaluates the shipped rules; every metric a rule or dashboard
// panel reads is then in Prometheus under that name, and every rule
// evaluates without error.
func TestPrometheusScrapesEveryMetric(t *testing.T) {
	s := startBerth(t, nil)
	p := startPrometheus(t, strings.TrimPrefix(s.URL, "http://"), fastRules(t))

	var want []string
	recorded := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			want = append(want, metricNames(r.Expr)...)
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	queries, varMetrics := dashboardQueries(t)
	for _, qs := range queries {
		for _, q := range qs {
			want = append(want, metricNames(q)...)
		}
	}
	want = append(want, varMetrics...)

	var missing []string
	p.waitFor(t, "every metric in Prometheus", 30*time.Second, func() (bool, error) {
		have, err := p.names()
		if err != nil {
			return false, err
		}
		missing = missing[:0]
		for _, n := range want {
			// The raw metrics Berth must export; the recording rules'
			// outputs are checked below, once the rules have run.
			if !have[n] && !recorded[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return false, fmt.Errorf("missing %v", missing)
		}
		return true, nil
	})

	// Every rule evaluated, without error.
	p.waitFor(t, "every rule evaluated", 30*time.Second, func() (bool, error) {
		var data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name           string `json:"name"`
					Health         string `json:"health"`
					LastError      string `json:"lastError"`
					LastEvaluation string `json:"lastEvaluation"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := p.api("/api/v1/rules", &data); err != nil {
			return false, err
		}
		n := 0
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				if r.LastError != "" {
					t.Fatalf("rule %s: %s", r.Name, r.LastError)
				}
				if r.Health != "ok" {
					return false, fmt.Errorf("rule %s: health %q", r.Name, r.Health)
				}
				n++
			}
		}
		return n > 0 && n == countRules(loadRules(t)), nil
	})

	// And the recorded series the dashboard plots exist for a live Berth.
	p.waitFor(t, "recorded series", 30*time.Second, func() (bool, error) {
		have, err := p.names()
		if err != nil {
			return false, err
		}
		for _, n := range []string{"berth:filesystem_used:ratio", "berth:pull_success:ratio_rate5m",
			"berth:project_quota_used:ratio", "berth:gc_runs:increase1d", "berth:scrub_runs:increase1d", "berth:anomalies:increase1h"} {
			if !have[n] {
				return false, fmt.Errorf("no %s", n)
			}
		}
		return true, nil
	})
	if ok, err := p.firing("BerthInstanceDown", nil); err != nil || ok {
		t.Errorf("BerthInstanceDown fires for a running Berth (%v)", err)
	}
}

func countRules(f ruleFile) int {
	n := 0
	for _, g := range f.Groups {
		n += len(g.Rules)
	}
	return n
}
