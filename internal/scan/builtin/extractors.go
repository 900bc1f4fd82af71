package builtin

import (
	"context"
	"fmt"
	"io/fs"
	"sort"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/requirements"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargolock"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	scalibrfs "github.com/google/osv-scalibr/fs"
	"github.com/google/osv-scalibr/stats"

	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/layer"
)

// osRelease files are kept for the distribution extractors, which name
// the release in the ecosystem ("Debian:12").
var osRelease = map[string]bool{"etc/os-release": true, "usr/lib/os-release": true}

// extractors is the set of scalibr extractors Berth runs.
type extractors []filesystem.Extractor

func newExtractors() (extractors, error) {
	cfg := &cpb.PluginConfig{}
	var set extractors
	for _, mk := range []func(*cpb.PluginConfig) (filesystem.Extractor, error){
		apk.New, dpkg.New, rpm.New, // OS packages; rpm reads bdb, ndb and sqlite databases in pure Go
		gobinary.New, archive.New, packagelockjson.New, packagejson.New,
		wheelegg.New, requirements.New, cargolock.New, gemspec.New,
	} {
		e, err := mk(cfg)
		if err != nil {
			return nil, fmt.Errorf("scalibr extractor: %w", err)
		}
		set = append(set, e)
	}
	return set, nil
}

// wanted reports whether some extractor needs the file.
func (s extractors) wanted(p string, info fs.FileInfo) bool {
	if osRelease[p] {
		return true
	}
	api := fileAPI{path: p, info: info}
	for _, e := range s {
		if e.FileRequired(api) {
			return true
		}
	}
	return false
}

// run extracts the packages of the tree at dir, whose files came from the
// layers files names.
func (s extractors) run(ctx context.Context, dir string, files map[string]layer.File) ([]scan.Package, error) {
	inv, _, err := filesystem.Run(ctx, &filesystem.Config{Extractors: s, ScanRoots: scalibrfs.RealFSScanRoots(dir),
		Stats: stats.NoopCollector{}})
	if err != nil {
		return nil, err
	}
	out := make([]scan.Package, 0, len(inv.Packages))
	for _, p := range inv.Packages {
		out = append(out, convert(p, files))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Ecosystem != b.Ecosystem {
			return a.Ecosystem < b.Ecosystem
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Path < b.Path
	})
	return out, nil
}

// convert turns a scalibr package into Berth's.
func convert(p *extractor.Package, files map[string]layer.File) scan.Package {
	sp := scan.Package{Ecosystem: p.Ecosystem().String(), Name: p.Name, Version: p.Version, Licenses: p.Licenses}
	if u := p.PURL(); u != nil {
		sp.PURL = u.String()
	}
	sp.Path = p.Location.PathOrEmpty()
	if f, ok := files[sp.Path]; ok {
		sp.Layer = f.Layer
	}
	if sp.Ecosystem == "Go" && sp.Name == "go" {
		sp.SourceName = "stdlib" // what OSV calls the Go toolchain's library
	}
	switch m := p.Metadata.(type) {
	case *dpkgmeta.Metadata:
		if m.SourceName != "" && m.SourceName != p.Name {
			sp.SourceName, sp.SourceVersion = m.SourceName, m.SourceVersion
		}
	case *apkmeta.Metadata:
		if m.OriginName != "" && m.OriginName != p.Name {
			sp.SourceName = m.OriginName
		}
	}
	return sp
}
