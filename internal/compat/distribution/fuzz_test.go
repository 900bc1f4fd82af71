package distribution

import (
	"strings"
	"testing"
)

// FuzzApplyEnv: any REGISTRY_* variable, applied to a full configuration,
// returns an error or not, but never panics (where Distribution itself
// would on some), and what it reports applied or unknown adds up.
func FuzzApplyEnv(f *testing.F) {
	for _, s := range []string{
		"REGISTRY_HTTP_ADDR=:5000", "REGISTRY_AUTH=htpasswd", "REGISTRY_STORAGE=s3",
		"REGISTRY_NOTIFICATIONS_ENDPOINTS_0=x", "REGISTRY_NOTIFICATIONS_ENDPOINTS_1_HEADERS_X_0=y",
		"REGISTRY_HTTP_HEADERS_X-FOO_0=bar", "REGISTRY_PROXY_TTL_X=1", "REGISTRY_STORAGE_S3_A_B_C=[1]",
		"REGISTRY_LOG_FIELDS_A_B=c", "REGISTRY_HEALTH_TCP_0_ADDR=x", "REGISTRY_HTTP_TLS_CLIENTCAS_-1=x",
		"REGISTRY_=", "REGISTRY_VALIDATION_MANIFESTS_INDEXES_PLATFORMLIST_0_OS=linux",
	} {
		f.Add(s, "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		c, err := Decode([]byte(baseFile + "auth:\n  htpasswd:\n    path: /p\nhealth:\n  tcp:\n    - addr: x\n"))
		if err != nil {
			t.Fatal(err)
		}
		env := []string{a, b}
		res, err := ApplyEnv(c, env)
		if err != nil {
			return
		}
		n := 0
		for _, e := range env {
			if name, _, _ := strings.Cut(e, "="); strings.HasPrefix(name, EnvPrefix) && name != ConfigPathVar {
				n++
			}
		}
		if len(res.Applied)+len(res.Unknown) != n {
			t.Fatalf("%d variables, %d applied and %d unknown", n, len(res.Applied), len(res.Unknown))
		}
		Map(c, "fuzz")
	})
}

// FuzzDecode: any file decodes or fails without panicking, and whatever
// decodes maps without panicking; a refused key always comes with an error.
func FuzzDecode(f *testing.F) {
	f.Add(ImageDefault)
	f.Add(baseFile)
	f.Add("version: 0.1\nstorage: s3\n")
	f.Add("version: 0.1\nstorage:\n  s3:\n    bucket: b\n    chunksize: [1]\n    secure: maybe\n  maintenance:\n    uploadpurging: 3\n")
	f.Add("version: 0.1\nauth: silly\nproxy:\n  remoteurl: https://registry-1.docker.io\n  ttl: 0s\n")
	f.Add("version: 0.1\nstorage: {filesystem: {rootdirectory: 1}, delete: {enabled: \"yes\"}}\nauth: {token: {realm: 1}}\n")
	f.Fuzz(func(t *testing.T, file string) {
		IsDistribution([]byte(file))
		d, err := Decode([]byte(file))
		if err != nil {
			return
		}
		_, rep, err := Map(d, "fuzz")
		if (err != nil) != (rep.Count(Refused) > 0) {
			t.Fatalf("err %v with %d refused", err, rep.Count(Refused))
		}
		_ = rep.String()
	})
}
