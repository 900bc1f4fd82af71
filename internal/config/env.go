package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable Berth reads.
const EnvPrefix = "BERTH_"

// notConfig are BERTH_ variables that are not configuration keys.
var notConfig = map[string]bool{"BERTH_CONFIG": true}

// ApplyEnv sets configuration values from BERTH_* variables (KEY=VALUE
// strings, as os.Environ returns them). The name is the YAML path joined by
// "_" in upper case; the value is parsed as YAML would parse it. A BERTH_
// variable that names no key is an error, like an unknown key in the file.
func ApplyEnv(c *Config, env []string) error {
	fields := map[string]reflect.Value{}
	collect(reflect.ValueOf(c).Elem(), EnvPrefix, fields)
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || notConfig[name] {
			continue
		}
		f, ok := fields[name]
		if !ok {
			return fmt.Errorf("environment: %s names no configuration key (known: %s)", name, strings.Join(EnvNames(), ", "))
		}
		switch {
		case f.Kind() == reflect.String:
			f.SetString(value)
			continue
		case f.Type() == durationType:
			d, err := parseDuration(value)
			if err != nil {
				return fmt.Errorf("environment: %s: %v", name, err)
			}
			f.SetInt(int64(d))
			continue
		}
		if err := yaml.Unmarshal([]byte(value), f.Addr().Interface()); err != nil {
			return fmt.Errorf("environment: %s: %v", name, err)
		}
	}
	return nil
}

// EnvNames lists every BERTH_* variable that sets a key.
func EnvNames() []string {
	fields := map[string]reflect.Value{}
	collect(reflect.ValueOf(Default()).Elem(), EnvPrefix, fields)
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// collect maps the env name of every leaf field below v to the field.
func collect(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			collect(f, name+"_", out)
			continue
		}
		out[name] = f
	}
}
