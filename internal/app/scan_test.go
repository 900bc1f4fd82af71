package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/scantest"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// pushDB builds a database of advisories and pushes it as vulndb/osv:latest.
func pushDB(t *testing.T, base string, advs ...scantest.Advisory) digest.Digest {
	t.Helper()
	dir := t.TempDir()
	scantest.WriteOSV(t, dir, advs...)
	art, err := vulndb.Build([]string{dir}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	blobs := [][]byte{art.Config.Data}
	for _, l := range art.Layers {
		blobs = append(blobs, l.Data)
	}
	return scantest.PushArtifact(t, base, "vulndb/osv", "latest", art.Manifest, blobs...)
}

func findings(t *testing.T, res *scan.Result) []scantest.Finding {
	t.Helper()
	if res.Report == nil {
		t.Fatal("result without report")
	}
	out := []scantest.Finding{}
	for _, f := range res.Report.Findings {
		out = append(out, scantest.Finding{ID: f.ID, Package: f.Package, Installed: f.Installed, Fixed: f.Fixed, Severity: f.Severity.String()})
	}
	return out
}

func decodeResult(t *testing.T, body string) *scan.Result {
	t.Helper()
	var r scan.Result
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("result %s: %v", body, err)
	}
	return &r
}

func get(t *testing.T, url, accept string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, "")
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b.String()
}

func TestScanReportAndGate(t *testing.T) {
	srv := apptest.Start(t, nil)
	base := srv.URL
	layers := scantest.ImageLayers(t)
	img := scantest.PushImage(t, base, "team/app", "v1", layers...)
	scanURL := base + "/api/v1/projects/team/scan/app?reference=v1"

	st, body := call(t, http.MethodPost, scanURL+"&wait=true", "")
	expect(t, "scan without a database", st, body, http.StatusServiceUnavailable, "no vulnerability database")

	pushDB(t, base, scantest.Advisories...)
	if err := srv.App.LoadVulnDB(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, body = call(t, http.MethodGet, base+"/api/v1/scan/database", "")
	expect(t, "database status", st, body, http.StatusOK, `"loaded":true`, `"advisories":7`, `"stale":false`)

	st, body = call(t, http.MethodPost, scanURL+"&wait=true", "")
	expect(t, "scan", st, body, http.StatusOK, `"status":"success"`, `"findings":4`, `"worst":"ALPINE-TEST-busybox"`)
	res := decodeResult(t, body)
	if !reflect.DeepEqual(findings(t, res), scantest.Expected) {
		t.Errorf("findings:\n got %+v\nwant %+v", findings(t, res), scantest.Expected)
	}
	layerOf := map[string]digest.Digest{}
	for _, f := range res.Report.Findings {
		layerOf[f.ID] = f.Layer
	}
	if layerOf["ALPINE-TEST-busybox"] != digest.FromBytes(layers[0]) || layerOf["GHSA-test-lodash"] != digest.FromBytes(layers[1]) {
		t.Errorf("layers of findings = %v", layerOf)
	}
	if res.Report.Findings[0].CVSSScore != 9.8 || res.Report.Findings[0].Aliases[0] != "CVE-2099-0001" {
		t.Errorf("worst finding = %+v, want CVSS 9.8 and alias CVE-2099-0001", res.Report.Findings[0])
	}

	t.Run("reports", func(t *testing.T) {
		reportURL := base + "/api/v1/projects/team/scan-report/app?reference=" + img.Digest.String()
		st, h, body := get(t, reportURL, scan.HarborReportMediaType)
		if st != http.StatusOK || h.Get("Content-Type") != scan.HarborReportMediaType {
			t.Fatalf("harbor report: %d %s %s", st, h.Get("Content-Type"), body)
		}
		var hr scan.HarborReport
		if err := json.Unmarshal([]byte(body), &hr); err != nil {
			t.Fatal(err)
		}
		if hr.Severity != "Critical" || len(hr.Vulnerabilities) != 4 || hr.Vulnerabilities[0].PreferredCVSS.ScoreV3 != 9.8 ||
			hr.Artifact.Digest != img.Digest || hr.Artifact.Repository != "team/app" {
			t.Errorf("harbor report = %+v", hr)
		}
		st, h, body = get(t, reportURL+"&format=csv", "")
		lines := strings.Split(strings.TrimSpace(body), "\n")
		if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || len(lines) != 5 ||
			!strings.HasPrefix(lines[1], "ALPINE-TEST-busybox,CVE-2099-0001,critical,9.8,") {
			t.Errorf("csv report: %d %s\n%s", st, h.Get("Content-Type"), body)
		}
		st, body = call(t, http.MethodGet, base+"/api/v1/projects/team/scan/app?reference=v1", "")
		expect(t, "summary", st, body, http.StatusOK, `"counts":{"critical":1,"high":1,"low":1,"medium":1}`)
	})

	manifestURL := base + "/v2/team/app/manifests/v1"
	pull := func() (int, string) { return call(t, http.MethodGet, manifestURL, "") }
	setPolicy := func(url string, p scan.Policy) {
		t.Helper()
		b, _ := json.Marshal(p)
		st, body := call(t, http.MethodPut, url, string(b))
		expect(t, "policy", st, body, http.StatusOK)
	}
	projectPolicy, systemPolicy := base+"/api/v1/projects/team/scan-policy", base+"/api/v1/scan/policy"

	t.Run("gate", func(t *testing.T) {
		st, body := pull()
		expect(t, "pull without a gating policy", st, body, http.StatusOK)
		setPolicy(projectPolicy, scan.Policy{PreventSeverity: scan.SeverityHigh})
		st, body = pull()
		expect(t, "pull of a vulnerable image", st, body, http.StatusForbidden, `"DENIED"`, "2 vulnerabilities",
			"worst: ALPINE-TEST-busybox (critical, CVSS 9.8) in busybox 1.36.1-r0, fixed in 1.36.1-r10")
		yesterday := time.Now().Add(-24 * time.Hour)
		setPolicy(systemPolicy, scan.Policy{Allowlist: []scan.AllowEntry{{ID: "CVE-2099-0001"}, {ID: "GHSA-test-lodash", Expires: &yesterday}}})
		st, body = pull()
		expect(t, "pull with the worst allowlisted (by alias)", st, body, http.StatusForbidden, "1 vulnerability at", "worst: GHSA-test-lodash (high)")
		tomorrow := time.Now().Add(24 * time.Hour)
		setPolicy(projectPolicy, scan.Policy{PreventSeverity: scan.SeverityHigh, Allowlist: []scan.AllowEntry{{ID: "GHSA-test-lodash", Expires: &tomorrow}}})
		st, body = pull()
		expect(t, "pull with every finding allowlisted", st, body, http.StatusOK)
		setPolicy(projectPolicy, scan.Policy{PreventCVSS: 9.5})
		st, body = pull()
		expect(t, "pull under a CVSS threshold, worst allowlisted", st, body, http.StatusOK)
		setPolicy(systemPolicy, scan.Policy{})
		st, body = pull()
		expect(t, "pull over a CVSS threshold", st, body, http.StatusForbidden, "1 vulnerability", "CVSS 9.8")

		scantest.PushImage(t, base, "team/app", "unscanned", layers[1])
		setPolicy(projectPolicy, scan.Policy{BlockUnscanned: true})
		st, body = call(t, http.MethodGet, base+"/v2/team/app/manifests/unscanned", "")
		expect(t, "pull of an unscanned image", st, body, http.StatusForbidden, "has not been scanned")
		st, body = call(t, http.MethodHead, base+"/v2/team/app/manifests/unscanned", "")
		expect(t, "HEAD of an unscanned image", st, body, http.StatusForbidden)
		// The gate refuses client pulls only: the scanner, the API and the
		// web UI still read the manifest.
		st, body = call(t, http.MethodGet, base+"/ui/repositories/team/app@"+img.Digest.String(), "")
		expect(t, "artifact page of a blocked image", st, body, http.StatusOK)
		st, body = call(t, http.MethodPost, base+"/api/v1/projects/team/scan/app?reference=unscanned&wait=true", "")
		expect(t, "scan of an image the gate blocks", st, body, http.StatusOK, `"status":"success"`)
		st, body = call(t, http.MethodGet, base+"/v2/team/app/manifests/unscanned", "")
		expect(t, "pull once scanned (no findings in its one layer)", st, body, http.StatusOK)
		setPolicy(projectPolicy, scan.Policy{})
		st, body = call(t, http.MethodGet, base+"/v2/team/app/manifests/unscanned", "")
		expect(t, "pull of an unscanned image, no policy", st, body, http.StatusOK)
	})

	t.Run("index", func(t *testing.T) {
		clean := scantest.PushImage(t, base, "team/multi", "arm", scantest.Layer(t, scantest.File{Name: "etc/os-release", Body: []byte(scantest.AlpineRelease)}))
		vuln := scantest.PushImage(t, base, "team/multi", "amd", layers...)
		scantest.PushIndex(t, base, "team/multi", "v1", map[string]v1.Descriptor{"linux/amd64": vuln, "linux/arm64": clean})
		st, body := call(t, http.MethodPost, base+"/api/v1/projects/team/scan/multi?reference=v1&wait=true", "")
		expect(t, "scan of an index", st, body, http.StatusOK, `"findings":4`, `"worst":"ALPINE-TEST-busybox"`, `"platform":"linux/amd64"`)
		st, body = call(t, http.MethodGet, base+"/api/v1/projects/team/scan/multi?reference=arm", "")
		expect(t, "the clean child's own result", st, body, http.StatusOK, `"findings":0`, `"status":"success"`)
	})

	t.Run("sbom", func(t *testing.T) {
		st, h, body := get(t, base+"/api/v1/projects/team/sbom/app?reference=v1&format=cyclonedx", "")
		if st != http.StatusOK || h.Get("Content-Type") != scan.MediaTypeCycloneDX || !strings.Contains(body, `"name": "lodash"`) {
			t.Fatalf("cyclonedx: %d %s %.300s", st, h.Get("Content-Type"), body)
		}
		for _, f := range []struct{ format, mediaType string }{{"spdx", scan.MediaTypeSPDX}, {"cyclonedx", scan.MediaTypeCycloneDX}} {
			st, body := call(t, http.MethodPost, base+"/api/v1/projects/team/sbom/app?reference=v1&format="+f.format, "")
			expect(t, "attach "+f.format, st, body, http.StatusCreated, `"digest":"sha256:`)
			st, _, refs := get(t, base+"/v2/team/app/referrers/"+img.Digest.String()+"?artifactType="+url.QueryEscape(f.mediaType), "")
			if st != http.StatusOK || strings.Count(refs, `"artifactType":"`+f.mediaType+`"`) != 1 {
				t.Errorf("referrers of type %s: %d %s", f.mediaType, st, refs)
			}
		}
		st, body = call(t, http.MethodGet, base+"/api/v1/projects/team/sbom/app?reference=v1&format=xml", "")
		expect(t, "unknown format", st, body, http.StatusBadRequest)
	})

	t.Run("rescan after a database update", func(t *testing.T) {
		more := append([]scantest.Advisory{{ID: "GHSA-test-leftpad", Ecosystem: "npm", Name: "left-pad", Fixed: "1.3.1", Severity: "LOW"}}, scantest.Advisories...)
		version := pushDB(t, base, more...)
		if err := srv.App.LoadVulnDB(context.Background()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, body := call(t, http.MethodGet, base+"/api/v1/projects/team/scan/app?reference=v1", "")
			if st == http.StatusOK && strings.Contains(body, version.String()) {
				expect(t, "rescanned result", st, body, http.StatusOK, `"findings":5`)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no rescan with database %s: %d %s", version, st, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("vex", func(t *testing.T) {
		vex := []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"test","timestamp":"2026-12-01T00:00:00Z","version":1,
		 "statements":[{"vulnerability":{"name":"CVE-2099-0001"},"products":[{"@id":"pkg:oci/app@` + strings.ReplaceAll(img.Digest.String(), ":", "%3A") + `"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"},
		  {"vulnerability":{"name":"GHSA-test-lodash"},"status":"under_investigation"}]}`)
		empty := []byte("{}")
		scantest.PushBlob(t, base, "team/app", empty)
		d := scantest.PushBlob(t, base, "team/app", vex)
		man, _ := json.Marshal(v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, ArtifactType: "application/vnd.openvex+json",
			Config:  v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON, Digest: digest.FromBytes(empty), Size: 2},
			Layers:  []v1.Descriptor{{MediaType: "application/vnd.openvex+json", Digest: d.Digest, Size: d.Size}},
			Subject: &img})
		scantest.PushManifest(t, base, "team/app", digest.FromBytes(man).String(), v1.MediaTypeImageManifest, man)
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, body := call(t, http.MethodGet, base+"/api/v1/projects/team/scan-report/app?reference=v1", "")
			if st == http.StatusOK && strings.Contains(body, `"vex":"not_affected"`) {
				expect(t, "result with a VEX statement", st, body, http.StatusOK, `"findings":4`, `"worst":"GHSA-test-lodash"`)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("VEX not applied: %d %s", st, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		setPolicy(projectPolicy, scan.Policy{PreventSeverity: scan.SeverityCritical})
		st, body := pull()
		expect(t, "pull with the critical finding not_affected", st, body, http.StatusOK)
		setPolicy(projectPolicy, scan.Policy{})
	})

	t.Run("scan on push", func(t *testing.T) {
		setPolicy(base+"/api/v1/projects/auto/scan-policy", scan.Policy{ScanOnPush: true})
		// An image of its own (results are per digest): the app layer over
		// a bare os-release layer.
		scantest.PushImage(t, base, "auto/app", "v1", scantest.Layer(t, scantest.File{Name: "etc/os-release", Body: []byte(scantest.DebianRelease)}), layers[1])
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, body := call(t, http.MethodGet, base+"/api/v1/projects/auto/scan/app?reference=v1", "")
			if st == http.StatusOK {
				expect(t, "scan on push", st, body, http.StatusOK, `"findings":4`, `"worst":"GHSA-test-lodash"`, `"counts":{"high":1,"low":2,"medium":1}`)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no scan on push: %d %s", st, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
