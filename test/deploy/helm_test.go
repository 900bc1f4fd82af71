package deploy

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/config"
)

// rendered is one `helm template` output, its objects by kind.
type rendered map[string][]map[string]any

// get walks a path of map keys and list indices through an object.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// The Helm chart: `helm lint --strict` and `helm template` with each
// values file of its ci/ directory; the rendered objects have the
// replicas, volumes, probes, security context and secret references each
// shape needs, and the rendered berth.yaml with the container's
// environment (secrets resolved from the rendered Secret) is a valid Berth
// configuration. Impossible combinations fail to render.
func TestHelmChart(t *testing.T) {
	helm := need(t, "helm", "scripts/install-tools.sh builds it into .tools/bin")
	chart := filepath.Join(repoRoot, "deploy", "helm", "berth")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "HELM_CACHE_HOME=" + t.TempDir(), "HELM_CONFIG_HOME=" + t.TempDir(), "HELM_DATA_HOME=" + t.TempDir()}
	render := func(t *testing.T, args ...string) rendered {
		t.Helper()
		mustRun(t, chart, env, helm, append([]string{"lint", "--strict", "."}, args...)...)
		out := mustRun(t, chart, env, helm, append([]string{"template", "r", "."}, args...)...)
		r := rendered{}
		dec := yaml.NewDecoder(strings.NewReader(out))
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				break
			}
			if obj != nil {
				kind := obj["kind"].(string)
				r[kind] = append(r[kind], obj)
			}
		}
		return r
	}

	tests := []struct {
		values string
		check  func(t *testing.T, r rendered, c *config.Config, container any)
	}{
		{"ci/single-values.yaml", func(t *testing.T, r rendered, c *config.Config, ctr any) {
			d := r["Deployment"][0]
			expect(t, "replicas", get(d, "spec", "replicas"), 1)
			expect(t, "strategy", get(d, "spec", "strategy", "type"), "Recreate")
			expect(t, "data volume", get(d, "spec", "template", "spec", "volumes", 1, "persistentVolumeClaim", "claimName"), "r-berth")
			expect(t, "PVC size", get(r["PersistentVolumeClaim"][0], "spec", "resources", "requests", "storage"), "50Gi")
			expect(t, "PVC class", get(r["PersistentVolumeClaim"][0], "spec", "storageClassName"), "fast")
			expect(t, "ingress", len(r["Ingress"]), 0)
			expect(t, "servicemonitor", len(r["ServiceMonitor"]), 0)
			expect(t, "database", c.Database.Driver, "sqlite")
			expect(t, "storage", c.Storage.Driver, "filesystem")
			expect(t, "data", c.Data, "/var/lib/registry")
			expect(t, "admin password", c.Auth.Admin.Password, "change-me-admin")
			expect(t, "secret ref", secretRef(ctr, "BERTH_AUTH_ADMIN_PASSWORD"), "r-berth/admin-password")
			expect(t, "image", get(ctr, "image"), "berth:latest")
		}},
		{"ci/scaleout-values.yaml", func(t *testing.T, r rendered, c *config.Config, ctr any) {
			d := r["Deployment"][0]
			expect(t, "replicas", get(d, "spec", "replicas"), 3)
			expect(t, "strategy", get(d, "spec", "strategy", "type"), "RollingUpdate")
			expect(t, "data volume", get(d, "spec", "template", "spec", "volumes", 1, "emptyDir") != nil, true)
			expect(t, "PVC", len(r["PersistentVolumeClaim"]), 0)
			expect(t, "ingress host", get(r["Ingress"][0], "spec", "rules", 0, "host"), "registry.example.com")
			expect(t, "ingress tls", get(r["Ingress"][0], "spec", "tls", 0, "secretName"), "registry-tls")
			expect(t, "servicemonitor path", get(r["ServiceMonitor"][0], "spec", "endpoints", 0, "path"), "/metrics")
			expect(t, "servicemonitor label", get(r["ServiceMonitor"][0], "metadata", "labels", "release"), "prometheus")
			expect(t, "database", c.Database.Driver, "postgres")
			expect(t, "dsn", c.Database.Postgres.DSN, "postgres://berth:secret@postgres.db:5432/berth?sslmode=require")
			expect(t, "storage", c.Storage.Driver, "s3")
			expect(t, "s3 keys", c.Storage.S3.AccessKey+":"+c.Storage.S3.SecretKey, "berth:change-me-s3")
			expect(t, "public endpoint", c.Storage.S3.PublicEndpoint, "https://s3.example.com")
			expect(t, "config merged", fmt.Sprintf("%v %v", c.HTTP.TrustedProxies, c.Log.Level), "[10.0.0.0/8] warn")
			expect(t, "secret ref", secretRef(ctr, "BERTH_DATABASE_POSTGRES_DSN"), "r-berth/database-dsn")
			expect(t, "secret ref", secretRef(ctr, "BERTH_STORAGE_S3_SECRET_KEY"), "r-berth/s3-secret-key")
			expect(t, "image", get(ctr, "image"), "registry.example.com/berth:1.0.0")
		}},
		{"ci/existing-secret-values.yaml", func(t *testing.T, r rendered, c *config.Config, ctr any) {
			expect(t, "replicas", get(r["Deployment"][0], "spec", "replicas"), 2)
			expect(t, "chart's secret", len(r["Secret"]), 0)
			expect(t, "secret ref", secretRef(ctr, "BERTH_AUTH_ADMIN_PASSWORD"), "berth-credentials/admin-password")
			expect(t, "secret ref", secretRef(ctr, "BERTH_DATABASE_POSTGRES_DSN"), "berth-credentials/database-dsn")
			expect(t, "secret ref", secretRef(ctr, "BERTH_STORAGE_S3_ACCESS_KEY"), "berth-credentials/s3-access-key")
		}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.values), func(t *testing.T) {
			r := render(t, "-f", tc.values)
			for _, kind := range []string{"Deployment", "Service", "ConfigMap", "ServiceAccount"} {
				if len(r[kind]) != 1 {
					t.Fatalf("%d %s objects", len(r[kind]), kind)
				}
			}
			pod := get(r["Deployment"][0], "spec", "template", "spec")
			ctr := get(pod, "containers", 0)
			expect(t, "liveness", get(ctr, "livenessProbe", "httpGet", "path"), "/healthz")
			expect(t, "readiness", get(ctr, "readinessProbe", "httpGet", "path"), "/readyz")
			expect(t, "probe port", get(ctr, "readinessProbe", "httpGet", "port"), "http")
			expect(t, "container port", get(ctr, "ports", 0, "containerPort"), 5000)
			expect(t, "service port", get(r["Service"][0], "spec", "ports", 0, "targetPort"), "http")
			expect(t, "runAsNonRoot", get(pod, "securityContext", "runAsNonRoot"), true)
			expect(t, "runAsUser", get(pod, "securityContext", "runAsUser"), 65532)
			expect(t, "readOnlyRootFilesystem", get(ctr, "securityContext", "readOnlyRootFilesystem"), true)
			expect(t, "allowPrivilegeEscalation", get(ctr, "securityContext", "allowPrivilegeEscalation"), false)
			expect(t, "capabilities", fmt.Sprint(get(ctr, "securityContext", "capabilities", "drop")), "[ALL]")
			mounts := map[string]string{}
			for i := range 3 {
				mounts[fmt.Sprint(get(ctr, "volumeMounts", i, "mountPath"))] = fmt.Sprint(get(ctr, "volumeMounts", i, "name"))
			}
			expect(t, "mounts", fmt.Sprint(mounts), "map[/etc/berth:config /tmp:tmp /var/lib/registry:data]")

			c := loadRendered(t, r, ctr)
			tc.check(t, r, c, ctr)
		})
	}

	// Combinations that cannot work fail to render, saying why.
	for _, bad := range []struct{ set, want string }{
		{"replicaCount=2", "replicaCount > 1 needs database.driver: postgres"},
		{"auth.adminPassword=", "auth.adminPassword"},
		{"auth.adminPassword=x12345678,database.driver=postgres", "database.postgres.dsn"},
		{"auth.adminPassword=x12345678,storage.driver=s3", "storage.s3.bucket"},
	} {
		_, err := command(chart, env, helm, "template", "r", ".", "--set", bad.set)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("helm template --set %s: %v, want an error with %q", bad.set, err, bad.want)
		}
	}
}

// loadRendered loads the rendered berth.yaml with the container's
// environment, secret references resolved from the rendered Secret (or a
// placeholder when the Secret is made outside the chart).
func loadRendered(t *testing.T, r rendered, ctr any) *config.Config {
	t.Helper()
	secrets := map[string]string{}
	for _, s := range r["Secret"] {
		for k, v := range get(s, "data").(map[string]any) {
			b, err := base64.StdEncoding.DecodeString(v.(string))
			if err != nil {
				t.Fatal(err)
			}
			secrets[get(s, "metadata", "name").(string)+"/"+k] = string(b)
		}
	}
	var env []string
	for _, e := range get(ctr, "env").([]any) {
		name := get(e, "name").(string)
		value, _ := get(e, "value").(string)
		if ref := secretRef(ctr, name); ref != "" {
			var ok bool
			if value, ok = secrets[ref]; !ok {
				value = "placeholder-secret"
				if name == "BERTH_DATABASE_POSTGRES_DSN" {
					value = "postgres://u:p@db/berth"
				}
			}
		}
		env = append(env, name+"="+value)
	}
	file := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(file, []byte(get(r["ConfigMap"][0], "data", "berth.yaml").(string)), 0o644); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "BERTH_CONFIG=") })
	if i < 0 || env[i] != "BERTH_CONFIG=/etc/berth/berth.yaml" {
		t.Fatalf("BERTH_CONFIG is not the ConfigMap's mount: %v", env)
	}
	env = slices.Delete(env, i, i+1)
	c, err := config.Load(file, env, config.Overrides{})
	if err != nil {
		t.Fatalf("rendered configuration: %v", err)
	}
	return c
}

// secretRef is "secret/key" of the container's variable name, or "".
func secretRef(ctr any, name string) string {
	for _, e := range get(ctr, "env").([]any) {
		if get(e, "name") == name {
			if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
				return fmt.Sprint(get(ref, "name"), "/", get(ref, "key"))
			}
		}
	}
	return ""
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}
