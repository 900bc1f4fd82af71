package ui

import (
	"io/fs"
	"path"
	"testing"
)

// TestViewsParse parses every view, as their first renders would: views
// are parsed lazily, so this is where a broken template fails.
func TestViewsParse(t *testing.T) {
	a, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	v, err := newViews(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.files) < 10 {
		t.Fatalf("only %d views found", len(v.files))
	}
	for name := range v.files {
		t1, ok, err := v.get(name)
		if !ok || err != nil {
			t.Fatalf("view %s: ok=%v err=%v", name, ok, err)
		}
		t2, _, _ := v.get(name)
		if t1 != t2 {
			t.Errorf("view %s parsed twice", name)
		}
	}
	if _, ok, _ := v.get("no-such-view"); ok {
		t.Error("an unknown view was found")
	}
}

// TestAssetTypes: every embedded asset has a content type of its own.
func TestAssetTypes(t *testing.T) {
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, ok := assetTypes[path.Ext(p)]; !ok {
			t.Errorf("%s: no content type for %q", p, path.Ext(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := assetType(".css"); got != "text/css; charset=utf-8" {
		t.Errorf("css: %q", got)
	}
	if got := assetType(".bin"); got != "application/octet-stream" {
		t.Errorf("unknown: %q", got)
	}
}
