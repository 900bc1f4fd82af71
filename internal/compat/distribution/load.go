package distribution

import (
	"fmt"
	"os"

	"github.com/berth-registry/berth/internal/config"
)

// DefaultPaths are where Distribution's packages and images keep the
// configuration: the registry:2 image, then Distribution 3's.
var DefaultPaths = []string{"/etc/docker/registry/config.yml", "/etc/distribution/config.yml"}

// ImageDefault is the configuration the registry:2 image ships at
// /etc/docker/registry/config.yml: what `docker run -e REGISTRY_...
// registry:2` starts from. Berth starts from it when REGISTRY_* variables
// are set and no configuration file is.
const ImageDefault = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`

// Load reads a Distribution configuration file (path "" for ImageDefault),
// applies the REGISTRY_* variables of env and maps the result onto Berth's
// configuration. The error names every refused key; the report is
// returned with it.
func Load(path string, env []string) (*config.Config, *Report, error) {
	data := []byte(ImageDefault)
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, nil, fmt.Errorf("distribution config: %w", err)
		}
	}
	d, err := Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("distribution config %s: %w", path, err)
	}
	res, err := ApplyEnv(d, env)
	if err != nil {
		return nil, nil, err
	}
	c, rep, err := Map(d, path)
	rep.Env = res
	if err != nil {
		return nil, rep, fmt.Errorf("distribution config %s: Berth cannot serve this configuration:\n%w", path, err)
	}
	return c, rep, nil
}

// HasEnv reports whether env sets any Distribution configuration key (and
// not merely REGISTRY_PORT and the like).
func HasEnv(env []string) bool {
	res, err := ApplyEnv(&Configuration{}, env)
	return err != nil || len(res.Applied) > 0
}

// Find returns the configuration file Distribution would read: env's
// REGISTRY_CONFIGURATION_PATH, else the first of defaults that exists;
// "" if none.
func Find(env []string, defaults []string) string {
	for _, kv := range env {
		if len(kv) > len(ConfigPathVar) && kv[:len(ConfigPathVar)+1] == ConfigPathVar+"=" {
			return kv[len(ConfigPathVar)+1:]
		}
	}
	for _, p := range defaults {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}
