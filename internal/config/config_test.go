package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load("", nil, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":5000" || c.Storage.Filesystem.Root != filepath.Join("data", "blobs") ||
		c.Database.SQLite.Path != filepath.Join("data", "berth.db") || c.Registry.MaxManifestSize != 4<<20 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadOrder(t *testing.T) {
	p := write(t, `
version: 1
data: /srv/berth
http:
  addr: ":6000"
  shutdown_timeout: 5s
registry:
  max_manifest_size: 8MiB
log:
  level: debug
`)
	env := []string{"BERTH_HTTP_ADDR=:7000", "BERTH_LOG_FORMAT=text", "BERTH_REGISTRY_DELETE_ENABLED=false", "HOME=/root", "BERTH_CONFIG=ignored"}
	c, err := Load(p, env, Overrides{Data: "/flag/data"})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":7000" {
		t.Errorf("env did not override file: addr %q", c.HTTP.Addr)
	}
	if c.Data != "/flag/data" || c.Storage.Filesystem.Root != "/flag/data/blobs" {
		t.Errorf("flag did not override: %q %q", c.Data, c.Storage.Filesystem.Root)
	}
	if c.HTTP.ShutdownTimeout != 5*time.Second || c.Registry.MaxManifestSize != 8<<20 || c.Log.Level != "debug" ||
		c.Log.Format != "text" || c.Registry.DeleteEnabled {
		t.Errorf("values not applied: %+v", c)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", "version: 1\nhtp:\n  addr: x\n", nil, "htp"},
		{"unknown nested key", "http:\n  adr: x\n", nil, "adr"},
		{"wrong type", "http:\n  shutdown_timeout: soon\n", nil, "line 2"},
		{"bad version", "version: 2\n", nil, "version"},
		{"bad level", "log:\n  level: loud\n", nil, "log.level"},
		{"tls half", "http:\n  tls:\n    certificate: c.pem\n", nil, "http.tls"},
		{"bad size", "registry:\n  max_manifest_size: lots\n", nil, "invalid size"},
		{"tiny size", "registry:\n  max_manifest_size: 10\n", nil, "max_manifest_size"},
		{"short lease", "registry:\n  upload_lease: 10ms\n", nil, "upload_lease"},
		{"two documents", "version: 1\n---\nversion: 1\n", nil, "more than one"},
		{"unknown env", "", []string{"BERTH_HTTP_ADRESS=:1"}, "BERTH_HTTP_ADRESS"},
		{"bad env value", "", []string{"BERTH_HTTP_IDLE_TIMEOUT=never"}, "BERTH_HTTP_IDLE_TIMEOUT"},
		{"bad driver", "storage:\n  driver: tape\n", nil, "storage.driver"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.file), tc.env, Overrides{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Load("/does/not/exist.yaml", nil, Overrides{}); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestEnvNamesFollowYAMLPaths(t *testing.T) {
	names := strings.Join(EnvNames(), " ")
	for _, want := range []string{"BERTH_HTTP_ADDR", "BERTH_HTTP_TLS_CERTIFICATE", "BERTH_STORAGE_FILESYSTEM_ROOT", "BERTH_DATABASE_SQLITE_PATH", "BERTH_REGISTRY_MAX_MANIFEST_SIZE"} {
		if !strings.Contains(names, want) {
			t.Errorf("missing %s in %s", want, names)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("version: 1\nhttp:\n  addr: ':5000'\n")
	f.Add("registry:\n  max_manifest_size: 4MiB\n")
	f.Add("- a\n- b\n")
	f.Fuzz(func(t *testing.T, s string) {
		c := Default()
		if err := Decode(strings.NewReader(s), c); err == nil {
			c.derive()
			_ = c.Validate() // must not panic
		}
	})
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"4MiB", "1", "10 GB", "-1", "99999999999TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseByteSize(s); err == nil && v < 0 {
			t.Fatalf("ParseByteSize(%q) = %d", s, v)
		}
	})
}
