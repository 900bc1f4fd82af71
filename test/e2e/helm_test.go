package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

const (
	mtHelmConfig = "application/vnd.cncf.helm.config.v1+json"
	mtHelmChart  = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Helm 3 keeps charts in OCI registries: helm push of a packaged chart,
// helm pull, show and template straight from the registry, a version with
// build metadata (whose "+" Helm writes as "_" in the tag), and the chart
// listed by the registry with Helm's media types.
func TestHelmCharts(t *testing.T) {
	testproc.Need(t, "helm")
	reg := startRegistry(t)
	c := newClients(t, reg)
	const repo = "charts/webapp"
	work := t.TempDir()
	c.helm("create", filepath.Join(work, "webapp"))
	// A value only this test sets, to see it come back from the registry.
	values := filepath.Join(work, "webapp", "values.yaml")
	writeFile(t, values, append(readFile(t, values), []byte("\nberthE2E: "+filepath.Base(work)+"\n")...))

	pushed := map[string]string{} // chart version -> path of the packaged chart
	for _, version := range []string{"0.1.0", "1.2.3+build.7"} {
		c.helm("package", filepath.Join(work, "webapp"), "--version", version, "--destination", work)
		pkg := filepath.Join(work, "webapp-"+version+".tgz")
		out := c.helm("push", pkg, "oci://"+reg.Host+"/charts")
		if !strings.Contains(out, "Digest: sha256:") {
			t.Errorf("helm push %s printed no digest: %s", version, out)
		}
		pushed[version] = pkg
	}

	t.Run("manifest", func(t *testing.T) {
		m, _ := reg.mustManifest(t, repo, "0.1.0")
		if m.Config == nil || m.Config.MediaType != mtHelmConfig || len(m.Layers) != 1 || m.Layers[0].MediaType != mtHelmChart {
			t.Fatalf("chart manifest config %+v layers %+v, want Helm's media types", m.Config, m.Layers)
		}
		// The layer is the packaged chart, byte for byte.
		if want := sha256Digest(readFile(t, pushed["0.1.0"])); m.Layers[0].Digest != want {
			t.Errorf("chart layer %s, packaged chart %s", m.Layers[0].Digest, want)
		}
		tags := reg.tags(t, repo)
		if !slices.Contains(tags, "0.1.0") || !slices.Contains(tags, "1.2.3_build.7") {
			t.Errorf("tags %v, want 0.1.0 and 1.2.3_build.7", tags)
		}
	})

	t.Run("pull", func(t *testing.T) {
		c := c.forT(t)
		for version, pkg := range pushed {
			dest := t.TempDir()
			c.helm("pull", "oci://"+reg.Host+"/"+repo, "--version", version, "--destination", dest)
			got := readFile(t, filepath.Join(dest, "webapp-"+version+".tgz"))
			if sha256Digest(got) != sha256Digest(readFile(t, pkg)) {
				t.Errorf("helm pull %s: chart differs from the one pushed", version)
			}
		}
	})

	t.Run("show-and-template", func(t *testing.T) {
		c := c.forT(t)
		chart := c.helm("show", "chart", "oci://"+reg.Host+"/"+repo, "--version", "1.2.3+build.7")
		if !strings.Contains(chart, "version: 1.2.3+build.7") || !strings.Contains(chart, "name: webapp") {
			t.Errorf("helm show chart:\n%s", chart)
		}
		vals := c.helm("show", "values", "oci://"+reg.Host+"/"+repo, "--version", "0.1.0")
		if !strings.Contains(vals, "berthE2E: "+filepath.Base(work)) {
			t.Errorf("helm show values lacks the test's value:\n%s", truncate(vals, 2000))
		}
		manifests := c.helm("template", "e2e", "oci://"+reg.Host+"/"+repo, "--version", "0.1.0")
		if !strings.Contains(manifests, "kind: Deployment") {
			t.Errorf("helm template rendered no Deployment:\n%s", truncate(manifests, 2000))
		}
	})
}

// helm runs helm against the plain-HTTP registry (its configuration and
// cache are under the clients' own HOME and XDG directories) and returns
// what it printed (stdout, then stderr: helm push reports there).
func (c *clients) helm(args ...string) string {
	c.t.Helper()
	switch args[0] {
	case "push", "pull", "show", "template":
		args = append(args, "--plain-http")
	}
	r := c.exec(runOpts{}, "helm", args...)
	if r.Err != nil {
		c.t.Fatalf("helm %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Err,
			truncate(r.Stdout, 8000), truncate(r.Stderr, 8000))
	}
	return r.Stdout + r.Stderr
}
