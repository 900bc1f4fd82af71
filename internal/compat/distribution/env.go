package distribution

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v2"
)

// EnvPrefix starts the environment variables Distribution reads.
const EnvPrefix = "REGISTRY_"

// ConfigPathVar names the configuration file, winning over the command
// line, as in Distribution.
const ConfigPathVar = "REGISTRY_CONFIGURATION_PATH"

// EnvResult says what ApplyEnv did with each REGISTRY_* variable.
type EnvResult struct {
	// Applied are the variables that set a value.
	Applied []string
	// Unknown name no configuration key. Distribution ignores them with a
	// warning, and so does Berth: Docker links and Kubernetes services
	// named "registry" put REGISTRY_PORT and the like in the environment.
	Unknown []string
}

// ApplyEnv applies the REGISTRY_* variables of env (KEY=VALUE) to c with
// Distribution's rules:
//   - the variables are applied in lexical order of their names, so that
//     REGISTRY_STORAGE=s3 (which replaces the whole storage section) comes
//     before REGISTRY_STORAGE_S3_BUCKET;
//   - the name after the prefix is split at "_"; each part is a struct
//     field's Go name in upper case (REGISTRY_HTTP_TLS_CLIENTCAS), a list
//     index (_0, _1: the index may be the list's length, which appends), or
//     a map key, which is stored in lower case (REGISTRY_HTTP_HEADERS_X-FOO
//     sets headers["x-foo"]);
//   - the value is YAML, decoded into the type of what it sets
//     (REGISTRY_AUTH=htpasswd selects the access controller,
//     REGISTRY_HTTP_HEADERS_X-FOO='[bar]' a list).
//
// Where Distribution would panic (an index into nothing, a name that ends
// on a list element) ApplyEnv returns an error instead.
func ApplyEnv(c *Configuration, env []string) (EnvResult, error) {
	type kv struct{ name, value string }
	var vars []kv
	for _, e := range env {
		name, value, _ := strings.Cut(e, "=")
		if strings.HasPrefix(name, EnvPrefix) && name != ConfigPathVar {
			vars = append(vars, kv{name, value})
		}
	}
	sort.SliceStable(vars, func(i, j int) bool { return vars[i].name < vars[j].name })
	var res EnvResult
	root := reflect.ValueOf(c).Elem()
	for _, v := range vars {
		w := &envWalk{name: v.name, value: v.value}
		if err := w.set(root, strings.Split(v.name, "_")[1:]); err != nil {
			return res, fmt.Errorf("environment variable %s: %w", v.name, err)
		}
		if w.applied {
			res.Applied = append(res.Applied, v.name)
		} else {
			res.Unknown = append(res.Unknown, v.name)
		}
	}
	return res, nil
}

type envWalk struct {
	name, value string
	applied     bool
}

func (w *envWalk) decode(into reflect.Value) error {
	if err := yaml.UnmarshalStrict([]byte(w.value), into.Interface()); err != nil {
		return err
	}
	w.applied = true
	return nil
}

func (w *envWalk) set(v reflect.Value, path []string) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return fmt.Errorf("nothing to set below %s", strings.Join(path, "_"))
		}
		v = v.Elem()
	}
	if len(path) == 0 {
		switch v.Kind() {
		case reflect.Struct, reflect.Map, reflect.Slice:
			return fmt.Errorf("names a list element, not a value inside it")
		}
		// Distribution leaves a scalar list element it just appended as
		// it is (empty): REGISTRY_HTTP_TLS_CLIENTCAS_0=x adds "".
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return w.setField(v, path)
	case reflect.Map:
		if v.IsNil() {
			// A list element just appended (Distribution panics here).
			if !v.CanSet() {
				return fmt.Errorf("cannot set %s here", strings.Join(path, "_"))
			}
			v.Set(reflect.MakeMap(v.Type()))
		}
		return w.setKey(v, path)
	case reflect.Slice:
		idx, err := strconv.Atoi(path[0])
		if err != nil || idx < 0 {
			return fmt.Errorf("%q is not a list index", path[0])
		}
		if idx > v.Len() {
			return fmt.Errorf("index %d is beyond the end of the list (%d elements)", idx, v.Len())
		}
		if idx == v.Len() {
			if !v.CanSet() {
				return fmt.Errorf("cannot append to this list from the environment")
			}
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
			w.applied = true
		}
		return w.set(v.Index(idx), path[1:])
	case reflect.Interface:
		if v.NumMethod() != 0 {
			return nil
		}
		if !v.IsNil() {
			return w.set(v.Elem(), path)
		}
		if !v.CanSet() {
			return fmt.Errorf("cannot set %s here", strings.Join(path, "_"))
		}
		m := reflect.ValueOf(map[string]any{})
		v.Set(m)
		return w.setKey(m, path)
	}
	return nil // a scalar with more name after it: nothing to set, as in Distribution
}

func (w *envWalk) setField(v reflect.Value, path []string) error {
	t := v.Type()
	idx := -1
	for i := range t.NumField() {
		if strings.ToUpper(t.Field(i).Name) == path[0] {
			idx = i
		}
	}
	if idx < 0 {
		return nil
	}
	f := v.Field(idx)
	if len(path) == 1 {
		nv := reflect.New(f.Type())
		if err := w.decode(nv); err != nil {
			return err
		}
		f.Set(nv.Elem())
		return nil
	}
	switch f.Kind() {
	case reflect.Map:
		if f.IsNil() {
			f.Set(reflect.MakeMap(f.Type()))
		}
	case reflect.Pointer:
		if f.IsNil() {
			f.Set(reflect.New(f.Type().Elem()))
		}
	}
	return w.set(f, path[1:])
}

func (w *envWalk) setKey(m reflect.Value, path []string) error {
	if m.Type().Key().Kind() != reflect.String {
		return nil
	}
	if len(path) > 1 {
		for _, k := range m.MapKeys() {
			if strings.ToUpper(k.String()) != path[0] {
				continue
			}
			mv := m.MapIndex(k)
			if (mv.Kind() == reflect.Pointer || mv.Kind() == reflect.Interface || mv.Kind() == reflect.Map) && mv.IsNil() {
				break // recreated below
			}
			return w.set(mv, path[1:])
		}
	}
	et := m.Type().Elem()
	var nv reflect.Value
	if et.Kind() == reflect.Map {
		nv = reflect.MakeMap(et)
	} else {
		nv = reflect.New(et)
	}
	if len(path) > 1 {
		if err := w.set(nv, path[1:]); err != nil {
			return err
		}
	} else {
		target := nv
		if et.Kind() == reflect.Map {
			target = reflect.New(et)
			target.Elem().Set(nv)
		}
		if err := w.decode(target); err != nil {
			return err
		}
		if et.Kind() == reflect.Map {
			nv = target.Elem()
		}
	}
	if !w.applied {
		return nil // nothing below was set: leave the map as it was
	}
	m.SetMapIndex(reflect.ValueOf(strings.ToLower(path[0])).Convert(m.Type().Key()), reflect.Indirect(nv))
	return nil
}
