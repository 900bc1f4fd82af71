package distribution

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

// TestMap runs Distribution's documented keys through Decode, ApplyEnv and
// Map: what each becomes in Berth's configuration, and its status.
func TestMap(t *testing.T) {
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:$2y$05$abcdefghijklmnopqrstuu5Q6/uvRjZ7hB1o1S1bZDpn6pYc9DXPi\n# comment\n\nbob:$2y$05$x\n"), 0o600)
	const fs = "storage:\n  filesystem:\n    rootdirectory: /srv/registry\n"
	tests := []struct {
		name   string
		file   string // appended to "version: 0.1\n"; fs storage added unless it has storage
		env    []string
		key    string // report entry
		status Status
		got    func(*config.Config) any
		want   any
	}{
		{"http.addr", "http:\n  addr: 127.0.0.1:5001\n", nil, "http.addr", Mapped,
			func(c *config.Config) any { return c.HTTP.Addr }, "127.0.0.1:5001"},
		{"REGISTRY_HTTP_ADDR", "", []string{"REGISTRY_HTTP_ADDR=:6000"}, "http.addr", Mapped,
			func(c *config.Config) any { return c.HTTP.Addr }, ":6000"},
		{"http.host", "http:\n  host: https://r.example\n", nil, "http.host", Ignored, nil, nil},
		{"http.prefix", "http:\n  prefix: /registry/\n", nil, "http.prefix", Refused, nil, nil},
		{"http.prefix /", "http:\n  prefix: /\n", nil, "http.prefix", "", nil, nil},
		{"http.secret", "http:\n  secret: s\n", nil, "http.secret", Ignored, nil, nil},
		{"http.net unix", "http:\n  net: unix\n", nil, "http.net", Refused, nil, nil},
		{"http.draintimeout", "http:\n  draintimeout: 60s\n", nil, "http.draintimeout", Mapped,
			func(c *config.Config) any { return c.HTTP.ShutdownTimeout }, time.Minute},
		{"http.tls", "http:\n  tls:\n    certificate: /c.pem\n    key: /k.pem\n", nil, "http.tls.key", Mapped,
			func(c *config.Config) any { return c.HTTP.TLS }, config.TLS{Certificate: "/c.pem", Key: "/k.pem"}},
		{"http.tls.clientcas", "http:\n  tls:\n    clientcas: [/ca.pem]\n", nil, "http.tls.clientcas", Refused, nil, nil},
		{"http.tls.minimumtls 1.3", "http:\n  tls:\n    minimumtls: tls1.3\n", nil, "http.tls.minimumtls", Refused, nil, nil},
		{"http.tls.minimumtls 1.2", "http:\n  tls:\n    minimumtls: tls1.2\n", nil, "http.tls.minimumtls", Ignored, nil, nil},
		{"http.headers", "http:\n  headers:\n    X-Content-Type-Options: [nosniff]\n", nil, "http.headers", Ignored, nil, nil},
		{"http.debug.addr", "http:\n  debug:\n    addr: 127.0.0.1:5002\n", nil, "http.debug.addr", Mapped,
			func(c *config.Config) any { return c.Debug.Addr }, "127.0.0.1:5002"},
		{"prometheus", "http:\n  debug:\n    prometheus:\n      enabled: true\n      path: /m\n", nil, "http.debug.prometheus.enabled", Mapped, nil, nil},
		{"prometheus path", "http:\n  debug:\n    prometheus:\n      enabled: true\n      path: /m\n", nil, "http.debug.prometheus.path", Ignored, nil, nil},
		{"log.level", "log:\n  level: DEBUG\n", nil, "log.level", Mapped,
			func(c *config.Config) any { return c.Log.Level }, "debug"},
		{"loglevel (deprecated)", "loglevel: warn\n", nil, "loglevel", Mapped,
			func(c *config.Config) any { return c.Log.Level }, "warn"},
		{"log.level bad", "log:\n  level: loud\n", nil, "log.level", Refused, nil, nil},
		{"log.formatter logstash", "log:\n  formatter: logstash\n", nil, "log.formatter", Mapped,
			func(c *config.Config) any { return c.Log.Format }, "json"},
		{"log default text", "", nil, "", "",
			func(c *config.Config) any { return c.Log.Format }, "text"},
		{"log.accesslog", "log:\n  accesslog:\n    disabled: true\n", nil, "log.accesslog.disabled", Mapped,
			func(c *config.Config) any { return c.Log.Access }, false},
		{"filesystem", "", nil, "storage.filesystem.rootdirectory", Mapped,
			func(c *config.Config) any { return c.Data }, "/srv/registry/berth"},
		{"filesystem default root", "storage: filesystem\n", nil, "storage.filesystem.rootdirectory", Mapped,
			func(c *config.Config) any { return c.Data }, "/var/lib/registry/berth"},
		{"filesystem adopted", "", nil, "storage.filesystem.rootdirectory", Mapped,
			func(c *config.Config) any { return c.Storage.Distribution }, config.Adoption{Enabled: true, Root: "/srv/registry"}},
		{"s3 adopted", "storage:\n  s3:\n    bucket: b\n    region: r\n    rootdirectory: /reg/\n", nil, "storage.s3.rootdirectory", Mapped,
			func(c *config.Config) any { return c.Storage.Distribution }, config.Adoption{Enabled: true, Root: "reg"}},
		{"s3 adopted at the top", "storage:\n  s3:\n    bucket: b\n    region: r\n", nil, "storage.s3.rootdirectory", Mapped,
			func(c *config.Config) any { return c.Storage.Distribution }, config.Adoption{Enabled: true}},
		{"filesystem unknown parameter", "storage:\n  filesystem:\n    rootdir: /x\n", nil, "storage.filesystem.rootdir", Refused, nil, nil},
		{"s3", "storage:\n  s3:\n    accesskey: AK\n    secretkey: SK\n    region: eu-west-1\n    regionendpoint: minio:9000\n    secure: false\n" +
			"    bucket: b\n    rootdirectory: /reg\n    encrypt: true\n    keyid: k1\n    storageclass: reduced_redundancy\n    chunksize: 10485760\n", nil,
			"storage.s3.regionendpoint", Mapped,
			func(c *config.Config) any { return c.Storage.S3 }, config.S3{Bucket: "b", Prefix: "reg/berth", Region: "eu-west-1",
				Endpoint: "http://minio:9000", PathStyle: true, AccessKey: "AK", SecretKey: "SK", ServerSideEncryption: "aws:kms",
				KMSKeyID: "k1", StorageClass: "REDUCED_REDUNDANCY", PartSize: 10 << 20}},
		{"s3 forcepathstyle false", "storage:\n  s3:\n    bucket: b\n    region: r\n    regionendpoint: https://s3.example\n    forcepathstyle: false\n", nil,
			"storage.s3.forcepathstyle", Mapped, func(c *config.Config) any { return c.Storage.S3.PathStyle }, false},
		{"s3 chunksize string", "storage:\n  s3:\n    bucket: b\n    chunksize: \"6291456\"\n", nil, "storage.s3.chunksize", Mapped,
			func(c *config.Config) any { return c.Storage.S3.PartSize }, config.ByteSize(6 << 20)},
		{"s3 without bucket", "storage:\n  s3:\n    region: r\n", nil, "storage.s3.bucket", Refused, nil, nil},
		{"s3 insecure on AWS", "storage:\n  s3:\n    bucket: b\n    secure: false\n", nil, "storage.s3.secure", Refused, nil, nil},
		{"REGISTRY_STORAGE=s3", "", []string{"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_BUCKET=envbucket", "REGISTRY_STORAGE_S3_REGION=us-east-1"},
			"storage.s3.bucket", Mapped, func(c *config.Config) any { return c.Storage.Driver + ":" + c.Storage.S3.Bucket }, "s3:envbucket"},
		{"azure", "storage:\n  azure:\n    accountname: a\n", nil, "storage.azure", Refused, nil, nil},
		{"delete default off", "", nil, "storage.delete.enabled", Mapped,
			func(c *config.Config) any { return c.Registry.DeleteEnabled }, false},
		{"delete on", fs + "  delete:\n    enabled: true\n", nil, "storage.delete.enabled", Mapped,
			func(c *config.Config) any { return c.Registry.DeleteEnabled }, true},
		{"redirect.disable", fs + "  redirect:\n    disable: true\n", nil, "storage.redirect.disable", Mapped,
			func(c *config.Config) any { return c.Storage.Redirect.Enabled }, false},
		{"uploadpurging.age", fs + "  maintenance:\n    uploadpurging:\n      enabled: true\n      age: 48h\n      interval: 12h\n      dryrun: false\n", nil,
			"storage.maintenance.uploadpurging.age", Mapped, func(c *config.Config) any { return c.GC.UploadMaxAge }, 48 * time.Hour},
		{"uploadpurging.interval", fs + "  maintenance:\n    uploadpurging:\n      interval: 12h\n", nil,
			"storage.maintenance.uploadpurging.interval", Ignored, nil, nil},
		{"REGISTRY_ uploadpurging age", "", []string{"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE=2h"},
			"storage.maintenance.uploadpurging.age", Mapped, func(c *config.Config) any { return c.GC.UploadMaxAge }, 2 * time.Hour},
		{"readonly on", fs + "  maintenance:\n    readonly:\n      enabled: true\n", nil, "storage.maintenance.readonly.enabled", Refused, nil, nil},
		{"readonly off", fs + "  maintenance:\n    readonly:\n      enabled: false\n", nil, "storage.maintenance.readonly.enabled", Mapped, nil, nil},
		{"cache", fs + "  cache:\n    blobdescriptor: redis\n", nil, "storage.cache", Ignored, nil, nil},
		{"htpasswd", "auth:\n  htpasswd:\n    realm: r\n    path: " + htpasswd + "\n", nil, "auth.htpasswd.path", Mapped,
			func(c *config.Config) any {
				return []any{c.Auth.Mode, c.Auth.Htpasswd.Path, c.Auth.Admins, c.Auth.Token.Enabled}
			},
			[]any{"htpasswd", htpasswd, []string{"alice", "bob"}, false}},
		{"htpasswd realm", "auth:\n  htpasswd:\n    realm: r\n    path: " + htpasswd + "\n", nil, "auth.htpasswd.realm", Ignored, nil, nil},
		{"htpasswd missing file", "auth:\n  htpasswd:\n    path: " + dir + "/nope\n", nil, "auth.htpasswd.path", Refused, nil, nil},
		{"REGISTRY_AUTH=htpasswd", "", []string{"REGISTRY_AUTH=htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM=Registry", "REGISTRY_AUTH_HTPASSWD_PATH=" + htpasswd},
			"auth.htpasswd.path", Mapped, func(c *config.Config) any { return c.Auth.Mode }, "htpasswd"},
		{"token", "auth:\n  token:\n    realm: https://auth.example/token\n    service: registry.example\n    issuer: berth\n    rootcertbundle: /certs/bundle.pem\n", nil,
			"auth.token.issuer", Mapped, func(c *config.Config) any {
				return []any{c.Auth.Mode, c.Auth.Token.Realm, c.Auth.Token.Service, c.Auth.Token.Issuer, c.Auth.Token.Trusted}
			},
			[]any{"builtin", "https://auth.example/token", "registry.example", "berth-berth", []config.TrustedIssuer{{Issuer: "berth", Certificate: "/certs/bundle.pem"}}}},
		{"token jwks", "auth:\n  token:\n    realm: r\n    service: s\n    issuer: i\n    rootcertbundle: /b.pem\n    jwks: /j.json\n", nil, "auth.token.jwks", Refused, nil, nil},
		{"token incomplete", "auth:\n  token:\n    realm: r\n", nil, "auth.token.service", Refused, nil, nil},
		{"silly", "auth:\n  silly:\n    realm: r\n    service: s\n", nil, "auth.silly", Refused, nil, nil},
		{"no auth", "", nil, "auth", Mapped, func(c *config.Config) any { return c.Auth.Mode }, "none"},
		{"proxy hub", "proxy:\n  remoteurl: https://registry-1.docker.io\n  username: u\n  password: p\n  ttl: 72h\n", nil, "proxy.remoteurl", Mapped,
			func(c *config.Config) any { return c.Proxy.Upstreams }, []config.Upstream{{Name: "dockerhub", URL: "https://registry-1.docker.io",
				Username: "u", Password: "p", Namespaces: []string{"docker.io"}, Mirror: true, MaxAge: 72 * time.Hour}}},
		{"proxy other, default ttl", "proxy:\n  remoteurl: https://Quay.io\n", nil, "proxy.ttl", Mapped,
			func(c *config.Config) any { u := c.Proxy.Upstreams[0]; return []any{u.Name, u.MaxAge, u.Namespaces} },
			[]any{"quay.io", 168 * time.Hour, []string{"Quay.io"}}},
		{"REGISTRY_PROXY_REMOTEURL", "", []string{"REGISTRY_PROXY_REMOTEURL=http://127.0.0.1:5999"}, "proxy.remoteurl", Mapped,
			func(c *config.Config) any { return c.Proxy.Upstreams[0].URL }, "http://127.0.0.1:5999"},
		{"proxy bad url", "proxy:\n  remoteurl: ftp://x\n", nil, "proxy.remoteurl", Refused, nil, nil},
		{"notifications", "notifications:\n  endpoints:\n    - name: alistener\n      url: https://hook.example\n      timeout: 1s\n", nil, "notifications.endpoints", Ignored, nil, nil},
		{"health", "health:\n  storagedriver:\n    enabled: true\n    interval: 10s\n    threshold: 3\n  tcp:\n    - addr: redis:6379\n", nil, "health.file/http/tcp", Ignored, nil, nil},
		{"validation urls", "validation:\n  manifests:\n    urls:\n      allow: ['^https?://([^/]+\\.)*example\\.com/']\n", nil, "validation.manifests.urls", Ignored, nil, nil},
		{"validation indexes all", "validation:\n  manifests:\n    indexes:\n      platforms: All\n", nil, "validation.indexes.platforms", Mapped, nil, nil},
		{"validation indexes list", "validation:\n  manifests:\n    indexes:\n      platforms: list\n      platformlist:\n        - architecture: amd64\n          os: linux\n", nil, "validation.indexes.platforms", Ignored, nil, nil},
		{"redis", "redis:\n  addr: localhost:6379\n", nil, "redis", Ignored, nil, nil},
		{"middleware", "middleware:\n  storage:\n    - name: cloudfront\n", nil, "middleware", Ignored, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := "version: 0.1\n" + tc.file
			if !strings.Contains(tc.file, "storage:") {
				file += fs
			}
			d, err := Decode([]byte(file))
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, file)
			}
			if _, err := ApplyEnv(d, tc.env); err != nil {
				t.Fatal(err)
			}
			c, rep, err := Map(d, "test.yml")
			if (err != nil) != (rep.Count(Refused) > 0) {
				t.Fatalf("err = %v with %d refused", err, rep.Count(Refused))
			}
			if tc.key != "" {
				e, ok := rep.Lookup(tc.key)
				if tc.status == "" && ok {
					t.Fatalf("%s reported: %+v", tc.key, e)
				}
				if tc.status != "" && (!ok || e.Status != tc.status) {
					t.Fatalf("%s: got %+v (found %v), want %s\n%s", tc.key, e, ok, tc.status, rep)
				}
			}
			if tc.got != nil {
				if got := tc.got(c); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %#v, want %#v\n%s", got, tc.want, rep)
				}
			}
			if err == nil {
				if _, err := config.Finish(c, nil, config.Overrides{}); err != nil {
					t.Errorf("Berth refuses the mapped configuration: %v\n%s", err, rep)
				}
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, file, wantErr string
	}{
		{"minimal", "version: 0.1\nstorage: inmemory\n", ""},
		{"quoted version", "version: '0.1'\nstorage: {filesystem: {}}\n", ""},
		{"unknown top-level key", "version: 0.1\nstorge: {}\n", "storge"},
		{"unknown nested key", "version: 0.1\nhttp:\n  adr: :5000\n", "adr"},
		{"two drivers", "version: 0.1\nstorage:\n  filesystem: {}\n  s3: {}\n", "exactly one storage driver"},
		{"two auth types", "version: 0.1\nauth:\n  htpasswd: {}\n  silly: {}\n", "exactly one type"},
		{"Berth's version", "version: 1\n", "MAJOR.MINOR"},
		{"bad version", "version: x.y\n", "MAJOR.MINOR"},
		{"wrong type", "version: 0.1\nhttp:\n  addr: [a]\n", "cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.file))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestIsDistribution(t *testing.T) {
	for file, want := range map[string]bool{
		"version: 0.1\n":                   true,
		"version: \"0.1\"\nstorage: x\n":   true,
		"# c\nversion: 0.1 # registry\n":   true,
		"version: 0.1\nhttp: [unclosed\n":  true,
		"version: 1\n":                     false,
		"data: ./x\n":                      false,
		"version: 1\nhttp:\n  addr: :5000": false,
	} {
		if got := IsDistribution([]byte(file)); got != want {
			t.Errorf("IsDistribution(%q) = %v", file, got)
		}
	}
}
