package ops

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ruleFile is the shape of a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Record string            `yaml:"record"`
			Alert  string            `yaml:"alert"`
			Expr   string            `yaml:"expr"`
			For    string            `yaml:"for"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), "prometheus", "berth-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// promqlWords are the PromQL words an identifier outside braces can be
// that are not metric names: keywords, operators spelled as words, and
// aggregation operators.
var promqlWords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
	"and", "or", "unless", "offset", "inf", "nan", "atan2", "start", "end",
	// aggregations, which may put "by (...)" before their parenthesis
	"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"}

// metricNames returns the metric names an expression selects. The
// expression must already parse (promtool checks that); this lexer only
// has to tell names from functions, label lists, strings and durations:
// an identifier followed by "(" is a function, one inside {...}, [...] or
// the (...) after by/without/on/ignoring/group_left/group_right is a
// label or a duration, and quoted strings are skipped.
func metricNames(expr string) []string {
	var names []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	labelList := false // the next (...) holds label names
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{' || c == '[':
			end := map[byte]byte{'{': '}', '[': ']'}[c]
			for i < len(expr) && expr[i] != end {
				if expr[i] == '"' { // a label value may hold a brace
					i++
					for i < len(expr) && expr[i] != '"' {
						if expr[i] == '\\' {
							i++
						}
						i++
					}
				}
				i++
			}
			i++
		case c == '(' && labelList:
			for i < len(expr) && expr[i] != ')' {
				i++
			}
			labelList = false
			i++
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') { // numbers, 1e6, 5m
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			switch {
			case slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, strings.ToLower(word)):
				labelList = true
			case slices.Contains(promqlWords, strings.ToLower(word)):
			case k < len(expr) && expr[k] == '(':
				// a function call
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="berth"} == 0`, []string{"up"}},
		{`sum by (job, le) (rate(berth_x_bucket{route="a{b}"}[5m]))`, []string{"berth_x_bucket"}},
		{`1 - a / b`, []string{"a", "b"}},
		{`predict_linear(a[6h], 3 * 86400) < 0 and berth:b:ratio > 0.25`, []string{"a", "berth:b:ratio"}},
		{`x / on (instance) group_left (project) y offset 5m`, []string{"x", "y"}},
		{`histogram_quantile(0.99, sum without (pod) (rate(h_bucket[1e3s])))`, []string{"h_bucket"}},
		{`time() - max(t > 0)`, []string{"t"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.expr, got, tc.want)
		}
	}
}
