package ui

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCatalogs fails when a key is missing from a catalog, when a
// template asks for a key no catalog has, or when a key is used nowhere
// (templates and Go code name keys as string literals).
func TestCatalogs(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range languages[1:] {
		for k := range cats[languages[0]] {
			if _, ok := cats[l][k]; !ok {
				t.Errorf("key %q is in %s.json but not in %s.json", k, languages[0], l)
			}
		}
		for k := range cats[l] {
			if _, ok := cats[languages[0]][k]; !ok {
				t.Errorf("key %q is in %s.json but not in %s.json", k, l, languages[0])
			}
		}
	}
	var sources strings.Builder
	err = fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(p)
		sources.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := sources.String()
	// Every literal key a template translates exists.
	for _, m := range regexp.MustCompile(`\.T "([^"]+)"`).FindAllStringSubmatch(tmpl, -1) {
		if _, ok := cats[languages[0]][m[1]]; !ok {
			t.Errorf("templates use key %q, which no catalog has", m[1])
		}
	}
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources.Write(b)
	}
	all := sources.String()
	var unused []string
	for k := range cats[languages[0]] {
		if !strings.Contains(all, `"`+k+`"`) && !dynamicKey(k, all) {
			unused = append(unused, k)
		}
	}
	slices.Sort(unused)
	for _, k := range unused {
		t.Errorf("key %q is used by no template or Go code", k)
	}
}

// dynamicKey accepts keys built from a literal prefix and a value
// ("error."+code+".title"): the prefix must appear in the code.
func dynamicKey(k, src string) bool {
	if strings.HasPrefix(k, "error.") && strings.HasSuffix(k, ".title") && strings.Contains(src, `"error."`) {
		return true
	}
	for _, prefix := range []string{"project.sort.", "tags.sort.", "badge.", "anomaly.kind.", "replication.status.", "scan.severity."} {
		if strings.HasPrefix(k, prefix) && strings.Contains(src, `"`+prefix+`"`) {
			return true
		}
	}
	return false
}

// TestCatalogFormats checks that a message with arguments has the same
// verbs in every language.
func TestCatalogFormats(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	verbs := regexp.MustCompile(`%[a-z]`)
	for k, en := range cats[languages[0]] {
		for _, l := range languages[1:] {
			a, b := verbs.FindAllString(en, -1), verbs.FindAllString(cats[l][k], -1)
			if !slices.Equal(a, b) {
				t.Errorf("key %q: %s has verbs %v, %s has %v", k, languages[0], a, l, b)
			}
		}
	}
}
