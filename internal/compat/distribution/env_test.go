package distribution

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

const baseFile = `version: 0.1
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
storage:
  filesystem:
    rootdirectory: /var/lib/registry
notifications:
  endpoints:
    - name: first
      url: http://a.example/hook
`

// TestApplyEnv checks Distribution's environment rules, the odd ones
// included, one variable set (or several, in the order given) at a time.
func TestApplyEnv(t *testing.T) {
	ttl := 2 * time.Hour
	tests := []struct {
		name    string
		env     []string
		check   func(*Configuration) any
		want    any
		wantErr string
		unknown []string
	}{
		{"scalar", []string{"REGISTRY_HTTP_ADDR=127.0.0.1:6000"},
			func(c *Configuration) any { return c.HTTP.Addr }, "127.0.0.1:6000", "", nil},
		{"value is YAML: bool", []string{"REGISTRY_HTTP_RELATIVEURLS=true"},
			func(c *Configuration) any { return c.HTTP.RelativeURLs }, true, "", nil},
		{"value is YAML: duration", []string{"REGISTRY_HTTP_DRAINTIMEOUT=45s"},
			func(c *Configuration) any { return c.HTTP.DrainTimeout }, 45 * time.Second, "", nil},
		{"value is YAML: list", []string{"REGISTRY_HTTP_TLS_CLIENTCAS=[/a.pem, /b.pem]"},
			func(c *Configuration) any { return c.HTTP.TLS.ClientCAs }, []string{"/a.pem", "/b.pem"}, "", nil},
		{"value is YAML: bad type", []string{"REGISTRY_HTTP_RELATIVEURLS=[x]"}, nil, nil, "REGISTRY_HTTP_RELATIVEURLS", nil},
		{"pointer field", []string{"REGISTRY_PROXY_TTL=2h"},
			func(c *Configuration) any { return c.Proxy.TTL }, &ttl, "", nil},
		{"Go field name, not YAML key", []string{"REGISTRY_PROXY_REMOTEURL=https://r.example"},
			func(c *Configuration) any { return c.Proxy.RemoteURL }, "https://r.example", "", nil},
		{"map key lower-cased", []string{"REGISTRY_HTTP_HEADERS_X-FRAME-OPTIONS=[DENY]"},
			func(c *Configuration) any { return c.HTTP.Headers["x-frame-options"] }, []string{"DENY"}, "", nil},
		{"map key set whole keeps the file's spelling beside it", []string{"REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS=[off]"},
			func(c *Configuration) any { return c.HTTP.Headers }, http.Header{"X-Content-Type-Options": {"nosniff"}, "x-content-type-options": {"off"}}, "", nil},
		{"list index: existing element", []string{"REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL=http://b.example/"},
			func(c *Configuration) any { return c.Notifications.Endpoints[0].URL }, "http://b.example/", "", nil},
		{"list index: the length appends", []string{"REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NAME=second"},
			func(c *Configuration) any { return len(c.Notifications.Endpoints) }, 2, "", nil},
		{"list index: beyond the end", []string{"REGISTRY_NOTIFICATIONS_ENDPOINTS_2_NAME=x"}, nil, nil, "beyond the end", nil},
		{"list index: not a number", []string{"REGISTRY_NOTIFICATIONS_ENDPOINTS_X_NAME=x"}, nil, nil, "not a list index", nil},
		{"list index: ends on an element (Distribution panics)", []string{"REGISTRY_NOTIFICATIONS_ENDPOINTS_0=x"}, nil, nil, "list element", nil},
		{"list of scalars: appended element stays empty, as in Distribution", []string{"REGISTRY_HTTP_TLS_CLIENTCAS_0=/a.pem"},
			func(c *Configuration) any { return c.HTTP.TLS.ClientCAs }, []string{""}, "", nil},
		{"list of maps: an appended element is a new map (Distribution panics)", []string{"REGISTRY_VALIDATION_MANIFESTS_INDEXES_PLATFORMLIST_0_OS=linux"},
			func(c *Configuration) any { return c.Validation.Manifests.Indexes.PlatformList }, []Section{{"os": "linux"}}, "", nil},
		{"REGISTRY_AUTH=htpasswd selects the type", []string{"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd"},
			func(c *Configuration) any { return c.Auth }, Auth{"htpasswd": {"path": "/auth/htpasswd"}}, "", nil},
		{"parameters are YAML values, keys lower-cased", []string{"REGISTRY_AUTH_TOKEN_AUTOREDIRECT=true"},
			func(c *Configuration) any { return c.Auth }, Auth{"token": {"autoredirect": true}}, "", nil},
		{"REGISTRY_STORAGE=s3 replaces the storage before its parameters (sorted order)",
			[]string{"REGISTRY_STORAGE_S3_BUCKET=b", "REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_REGION=eu-west-1"},
			func(c *Configuration) any { return c.Storage }, Storage{"s3": {"bucket": "b", "region": "eu-west-1"}}, "", nil},
		{"driver parameter", []string{"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/data"},
			func(c *Configuration) any { return c.Storage["filesystem"]["rootdirectory"] }, "/data", "", nil},
		{"nested parameter map", []string{"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false"},
			func(c *Configuration) any { return c.Storage["maintenance"] }, Parameters{"uploadpurging": map[string]any{"enabled": false}}, "", nil},
		{"a second driver is an error later (Type)", []string{"REGISTRY_STORAGE_S3_BUCKET=b"},
			func(c *Configuration) any { _, err := c.Storage.Type(); return err != nil }, true, "", nil},
		{"unknown names are ignored, as Distribution does", []string{"REGISTRY_PORT=tcp://10.0.0.1:5000", "REGISTRY_SERVICE_HOST=10.0.0.1", "REGISTRY_http_addr=x"},
			func(c *Configuration) any { return c.HTTP.Addr }, ":5000", "", []string{"REGISTRY_PORT", "REGISTRY_SERVICE_HOST", "REGISTRY_http_addr"}},
		{"REGISTRY_CONFIGURATION_PATH is not a key", []string{"REGISTRY_CONFIGURATION_PATH=/x.yml"},
			func(c *Configuration) any { return c.HTTP.Addr }, ":5000", "", nil},
		{"other variables untouched", []string{"HOME=/root", "PATH=/bin"},
			func(c *Configuration) any { return c.HTTP.Addr }, ":5000", "", nil},
		{"later (sorted) wins over earlier", []string{"REGISTRY_LOG_LEVEL=debug", "REGISTRY_LOG={level: warn}"},
			func(c *Configuration) any { return c.Log.Level }, "debug", "", nil},
		{"section from YAML is strict", []string{"REGISTRY_LOG={levle: warn}"}, nil, nil, "levle", nil},
		{"empty value clears", []string{"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH="},
			func(c *Configuration) any { return len(c.Auth) }, 0, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode([]byte(baseFile))
			if err != nil {
				t.Fatal(err)
			}
			res, err := ApplyEnv(c, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			if !reflect.DeepEqual(res.Unknown, tc.unknown) {
				t.Errorf("unknown = %q, want %q", res.Unknown, tc.unknown)
			}
		})
	}
}
