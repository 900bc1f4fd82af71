package ops

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestRulesCheck(t *testing.T) {
	out := promtool(t, filepath.Join(deployDir(t), "prometheus"), "check", "rules", "berth-rules.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
}

// TestRulesUnit runs the alert unit tests (which alert fires when, and
// which does not) of deploy/prometheus/berth-rules_test.yml.
func TestRulesUnit(t *testing.T) {
	out := promtool(t, filepath.Join(deployDir(t), "prometheus"), "test", "rules", "berth-rules_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// TestRulesHaveRunbooks: every alert has a severity and a runbook link
// whose anchor is a heading of docs/operations.md, and the unit tests
// cover every alert.
func TestRulesHaveRunbooks(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(deployDir(t), "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(deployDir(t), "prometheus", "berth-rules_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(deployDir(t), "prometheus", "berth-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			anchor := strings.ToLower(r.Alert)
			if !strings.Contains(string(b), "runbook: docs/operations.md#"+anchor+"\n") {
				t.Errorf("%s: no runbook annotation docs/operations.md#%s", r.Alert, anchor)
			}
			if !regexp.MustCompile(`(?m)^#+ ` + r.Alert + `$`).Match(doc) {
				t.Errorf("%s: no heading in docs/operations.md", r.Alert)
			}
			if !strings.Contains(string(tests), "alertname: "+r.Alert+",") && !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("%s: no unit test in berth-rules_test.yml", r.Alert)
			}
		}
	}
	if alerts < 10 {
		t.Fatalf("only %d alerts", alerts)
	}
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// grafanaVars replaces the dashboard variables with values Prometheus
// accepts, as Grafana would before sending a query.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h", `"$job"`, `".+"`)

// dashboardQueries returns every panel query (variables substituted) by
// panel title, and the metric of the job variable's label_values().
func dashboardQueries(t *testing.T) (map[string][]string, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), "grafana", "berth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	queries := map[string][]string{}
	n := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.Contains(grafanaVars.Replace(tg.Expr), "$") {
				t.Errorf("panel %q: unknown variable in %s", p.Title, tg.Expr)
			}
			queries[p.Title] = append(queries[p.Title], grafanaVars.Replace(tg.Expr))
			n++
		}
	}
	var varMetrics []string
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if !ok {
			continue
		}
		m := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*), *[a-zA-Z_]+\)$`).FindStringSubmatch(fmt.Sprint(q["query"]))
		if m == nil {
			t.Fatalf("variable %s: query %v is not label_values(metric, label)", v.Name, q["query"])
		}
		varMetrics = append(varMetrics, m[1])
	}
	if n < 20 {
		t.Fatalf("only %d queries in the dashboard", n)
	}
	return queries, varMetrics
}

// TestDashboardQueries: every query of deploy/grafana/berth.json parses as
// PromQL (promtool checks them as recording rules) and uses only metrics
// Berth exports or the rules record.
func TestDashboardQueries(t *testing.T) {
	queries, varMetrics := dashboardQueries(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	i := 0
	for _, qs := range queries {
		for _, q := range qs {
			j, _ := json.Marshal(q) // a JSON string is a YAML string
			fmt.Fprintf(&rules, "      - record: dashboard_query_%d\n        expr: %s\n", i, j)
			i++
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "check", "rules", "dashboard.yml")

	s := startBerth(t, nil)
	known := exportedNames(t, s.URL)
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
	for title, qs := range queries {
		for _, q := range qs {
			for _, name := range metricNames(q) {
				if !known[name] {
					t.Errorf("panel %q: %s is neither exported by Berth nor recorded by the rules (%s)", title, name, q)
				}
			}
		}
	}
	for _, name := range varMetrics {
		if !known[name] {
			t.Errorf("dashboard variable: %s is not exported", name)
		}
	}
}

// TestRuleMetricsExported: every metric a rule reads is exported by Berth
// (a raw metric) or recorded by an earlier rule.
func TestRuleMetricsExported(t *testing.T) {
	s := startBerth(t, nil)
	known := exportedNames(t, s.URL)
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			for _, name := range metricNames(r.Expr) {
				if !known[name] {
					t.Errorf("rule %s%s: %s is neither exported by Berth nor recorded before it", r.Record, r.Alert, name)
				}
			}
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
}
