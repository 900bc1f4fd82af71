package vulndb

import (
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/osv-scalibr/semantic"

	"github.com/berth-registry/berth/internal/scan"
)

// Index is a loaded vulnerability database: advisories by ecosystem and
// package name. It is read-only once built.
type Index struct {
	Version string    // the artifact's manifest digest
	BuiltAt time.Time // when the database was built (its annotation)
	count   int
	byPkg   map[string][]entry
}

type entry struct {
	adv *Advisory
	aff *Affected
}

// NewIndex indexes advisories.
func NewIndex(version string, builtAt time.Time, advisories []Advisory) *Index {
	ix := &Index{Version: version, BuiltAt: builtAt, count: len(advisories), byPkg: map[string][]entry{}}
	for i := range advisories {
		a := &advisories[i]
		for j := range a.Affected {
			af := &a.Affected[j]
			base, _ := baseEcosystem(af.Ecosystem)
			for _, r := range af.Ranges {
				sortRange(base, r)
			}
			k := key(base, af.Name)
			ix.byPkg[k] = append(ix.byPkg[k], entry{a, af})
		}
	}
	return ix
}

// Advisories is the number of advisories indexed.
func (ix *Index) Advisories() int { return ix.count }

var pypiSeparators = regexp.MustCompile(`[-_.]+`)

// key normalises a package name as its ecosystem compares names.
func key(base, name string) string {
	switch base {
	case "PyPI":
		name = pypiSeparators.ReplaceAllString(strings.ToLower(name), "-")
	case "NuGet", "Packagist":
		name = strings.ToLower(name)
	}
	return base + "\x00" + name
}

// Match returns the findings of packages, worst first. A package is
// affected when its version is listed or lies in a range, compared in
// its ecosystem's own order; versions that cannot be parsed match only
// when listed.
func (ix *Index) Match(pkgs []scan.Package) []scan.Finding {
	var out []scan.Finding
	for _, p := range pkgs {
		base, suffix := baseEcosystem(p.Ecosystem)
		v := p.MatchVersion()
		seen := map[string]bool{}
		for _, e := range ix.byPkg[key(base, p.MatchName())] {
			if seen[e.adv.ID] {
				continue
			}
			if _, s := baseEcosystem(e.aff.Ecosystem); s != "" && s != suffix {
				continue // another release of the distribution
			}
			fixed, hit := affects(e.aff, base, v)
			if !hit {
				continue
			}
			seen[e.adv.ID] = true
			out = append(out, scan.Finding{ID: e.adv.ID, Aliases: e.adv.Aliases, Summary: e.adv.Summary,
				Package: p.Name, Ecosystem: p.Ecosystem, Installed: p.Version, Fixed: fixed,
				Severity: e.adv.Severity, CVSSScore: e.adv.CVSSScore, CVSSVector: e.adv.CVSSVector,
				Layer: p.Layer, Path: p.Path})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return scan.Worse(out[i], out[j]) })
	return out
}

// affects reports whether version v of a package is affected, and the
// lowest fixed version above it if one is known.
func affects(af *Affected, base, v string) (fixed string, hit bool) {
	for _, lv := range af.Versions {
		if lv == v {
			hit = true
		}
	}
	ver, err := semantic.Parse(v, base)
	if err != nil {
		return "", hit
	}
	for _, r := range af.Ranges {
		if f, ok := inRange(r, ver); ok {
			hit = true
			if f != "" && (fixed == "" || compare(base, f, fixed) < 0) {
				fixed = f
			}
		}
	}
	return fixed, hit
}

// inRange evaluates a sorted range as OSV defines it: the last event at
// or below v decides (introduced: affected; fixed, limit: not; a
// last_affected below v: not). It returns the first fixed event above v.
func inRange(r Range, v semantic.Version) (fixed string, hit bool) {
	for i, e := range r {
		c := 0 // v compared with the event
		if !(e.Kind == Introduced && e.Version == "0") {
			var err error
			if c, err = v.CompareStr(e.Version); err != nil {
				continue
			}
		}
		if c < 0 { // this event and the later ones are above v
			if hit {
				for _, later := range r[i:] {
					if later.Kind == Fixed {
						return later.Version, true
					}
				}
			}
			return "", hit
		}
		switch e.Kind {
		case Introduced:
			hit = true
		case Fixed, Limit:
			hit = false
		case LastAffected:
			if c > 0 {
				hit = false
			}
		}
	}
	return "", hit
}

// compare orders two versions of an ecosystem (string order when one
// does not parse, so that sorting stays total).
func compare(base, a, b string) int {
	if a == b {
		return 0
	}
	if a == "0" {
		return -1
	}
	if b == "0" {
		return 1
	}
	va, err := semantic.Parse(a, base)
	if err == nil {
		if c, err := va.CompareStr(b); err == nil {
			return c
		}
	}
	return strings.Compare(a, b)
}

// sortRange sorts a range's events in the ecosystem's order; at equal
// versions, introductions come last, so that "fixed X, introduced X"
// means affected from X.
func sortRange(base string, r Range) {
	sort.SliceStable(r, func(i, j int) bool {
		if c := compare(base, r[i].Version, r[j].Version); c != 0 {
			return c < 0
		}
		return r[i].Kind != Introduced && r[j].Kind == Introduced
	})
}
