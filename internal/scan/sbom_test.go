package scan

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var sbomPackages = []Package{
	{Ecosystem: "Alpine:v3.20", Name: "busybox", Version: "1.36.1-r0", PURL: "pkg:apk/alpine/busybox@1.36.1-r0?distro=3.20.3",
		Licenses: []string{"GPL-2.0-only"}, Path: "lib/apk/db/installed", Layer: digest.FromString("l1")},
	{Ecosystem: "npm", Name: "@scope/x", Version: "4.17.20", PURL: "pkg:npm/%40scope/x@4.17.20", Path: "app/package-lock.json", Layer: digest.FromString("l2")},
	{Ecosystem: "Go", Name: "go", Version: "1.26.8", SourceName: "stdlib"},
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	for url, file := range map[string]string{
		"http://cyclonedx.org/schema/bom-1.5.schema.json":           "bom-1.5.SNAPSHOT.schema.json",
		"http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json":     "spdx.SNAPSHOT.schema.json",
		"http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json": "jsf-0.82.SNAPSHOT.schema.json",
	} {
		b, err := os.ReadFile("testdata/schema/" + file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.5.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCycloneDXSchema validates the CycloneDX document against the
// vendored CycloneDX 1.5 schema, and checks that it fails on a broken one.
func TestCycloneDXSchema(t *testing.T) {
	s := compileSchema(t)
	b, err := cycloneDXDocument("team/app", digest.FromString("img"), sbomPackages, time.Unix(1700000000, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(doc); err != nil {
		t.Fatalf("CycloneDX document invalid: %v\n%s", err, b)
	}
	doc.(map[string]any)["components"].([]any)[0].(map[string]any)["type"] = "gizmo"
	if err := s.Validate(doc); err == nil {
		t.Fatal("a component of an unknown type passed the schema")
	}
	var bom struct {
		Components []struct{ Name, Version, PURL string }
	}
	json.Unmarshal(b, &bom)
	if len(bom.Components) != 3 || bom.Components[1].PURL != "pkg:npm/%40scope/x@4.17.20" {
		t.Errorf("components = %+v", bom.Components)
	}
}

// TestSPDXDocument checks the SPDX 2.3 document against the rules of the
// specification's JSON schema that apply to it (required fields, the
// SPDX identifier grammar, relationship targets): no SPDX 2.3 schema is
// vendored here.
func TestSPDXDocument(t *testing.T) {
	b, err := spdxDocument("team/app", digest.FromString("img"), sbomPackages, time.Unix(1700000000, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo", "packages", "relationships"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("document lacks %s", k)
		}
	}
	if doc["spdxVersion"] != "SPDX-2.3" || doc["dataLicense"] != "CC0-1.0" || doc["SPDXID"] != "SPDXRef-DOCUMENT" {
		t.Errorf("header = %v %v %v", doc["spdxVersion"], doc["dataLicense"], doc["SPDXID"])
	}
	idRE := regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.\-]+$`)
	ids := map[string]bool{"SPDXRef-DOCUMENT": true}
	for _, p := range doc["packages"].([]any) {
		pkg := p.(map[string]any)
		for _, k := range []string{"name", "SPDXID", "downloadLocation"} {
			if _, ok := pkg[k]; !ok {
				t.Errorf("package %v lacks %s", pkg["name"], k)
			}
		}
		id, _ := pkg["SPDXID"].(string)
		if !idRE.MatchString(id) || ids[id] {
			t.Errorf("package SPDXID %q invalid or repeated", id)
		}
		ids[id] = true
	}
	if len(ids) != 5 {
		t.Errorf("%d SPDX ids, want the document, the image and 3 packages", len(ids))
	}
	for _, r := range doc["relationships"].([]any) {
		rel := r.(map[string]any)
		if !ids[rel["spdxElementId"].(string)] || !ids[rel["relatedSpdxElement"].(string)] {
			t.Errorf("relationship %v names an unknown element", rel)
		}
	}
	created := doc["creationInfo"].(map[string]any)["created"].(string)
	if _, err := time.Parse(time.RFC3339, created); err != nil || created[len(created)-1] != 'Z' {
		t.Errorf("created %q is not an SPDX date", created)
	}
}
