package distribution

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Driver and access controller parameters are untyped in Distribution
// (map[string]any): a value may arrive as YAML's bool, int or string,
// from the file or from REGISTRY_* variables. These read them the way
// Distribution's drivers do.

func paramString(p Parameters, key string) (string, bool) {
	v, ok := p[key]
	if !ok || v == nil {
		return "", false
	}
	return fmt.Sprint(v), true
}

func paramBool(p Parameters, key string) (value, set bool, err error) {
	v, ok := p[key]
	if !ok || v == nil {
		return false, false, nil
	}
	switch b := v.(type) {
	case bool:
		return b, true, nil
	case string:
		x, err := strconv.ParseBool(b)
		if err != nil {
			return false, true, fmt.Errorf("%q is not a boolean", b)
		}
		return x, true, nil
	}
	return false, true, fmt.Errorf("%v is not a boolean", v)
}

func paramInt(p Parameters, key string) (value int64, set bool, err error) {
	v, ok := p[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch n := v.(type) {
	case int:
		return int64(n), true, nil
	case int64:
		return n, true, nil
	case uint64:
		if n > 1<<62 {
			return 0, true, fmt.Errorf("%d is too large", n)
		}
		return int64(n), true, nil
	case string:
		x, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, true, fmt.Errorf("%q is not an integer", n)
		}
		return x, true, nil
	}
	return 0, true, fmt.Errorf("%v is not an integer", v)
}

func paramDuration(p Parameters, key string) (value time.Duration, set bool, err error) {
	v, ok := p[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	s, isString := v.(string)
	if !isString {
		return 0, true, fmt.Errorf("%v is not a duration such as 168h", v)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, true, fmt.Errorf("%q is not a duration such as 168h", s)
	}
	return d, true, nil
}

// section returns a nested parameter map (storage.maintenance.uploadpurging).
func section(p Parameters, key string) (Parameters, bool, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return nil, false, nil
	}
	switch m := v.(type) {
	case map[any]any:
		out := Parameters{}
		for k, x := range m {
			out[fmt.Sprint(k)] = x
		}
		return out, true, nil
	case map[string]any:
		return Parameters(m), true, nil
	case Parameters:
		return m, true, nil
	}
	return nil, true, fmt.Errorf("%v is not a map", v)
}

// checkKnown reports every parameter not in known as refused: Distribution
// would ignore it, but a mistyped key is better caught than silently lost.
func (r *Report) checkKnown(prefix string, p Parameters, known ...string) {
	ok := map[string]bool{}
	for _, k := range known {
		ok[k] = true
	}
	for _, k := range sortedKeys(p) {
		if !ok[k] {
			r.refused(prefix+"."+k, "not a parameter Distribution documents here (known: %s)", strings.Join(known, ", "))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
