package policy

import (
	"fmt"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// maxPattern bounds a pattern's length.
const maxPattern = 1024

// Pattern selects repositories or tags, as Harbor's selectors do: one or
// more doublestar globs separated by commas (any may match), the whole
// optionally negated by a leading "!" (everything the globs do not match).
//
//	**              everything
//	v*              v1, v1.2.3, vnext (tags have no "/": * and ** match alike)
//	app/**          app, app/api, app/web/ui (repositories, relative to the project)
//	{main,dev}-*    main-123, dev-abc
//	v1.*,latest     either
//	!*-rc*          every tag without -rc
//
// The empty pattern is "**".
type Pattern struct {
	src    string
	globs  []string
	negate bool
}

// ParsePattern validates a pattern.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{src: s}
	if len(s) > maxPattern {
		return p, fmt.Errorf("%w: pattern longer than %d bytes", ErrInvalid, maxPattern)
	}
	body := strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(body, "!"); ok {
		p.negate, body = true, strings.TrimSpace(rest)
	}
	if body == "" {
		if p.negate {
			return p, fmt.Errorf("%w: pattern %q negates nothing", ErrInvalid, s)
		}
		body = "**"
	}
	for _, g := range splitTop(body) {
		g = strings.TrimSpace(g)
		if g == "" {
			return p, fmt.Errorf("%w: pattern %q has an empty alternative", ErrInvalid, s)
		}
		if !doublestar.ValidatePattern(g) {
			return p, fmt.Errorf("%w: pattern %q: %q is not a valid glob", ErrInvalid, s, g)
		}
		p.globs = append(p.globs, g)
	}
	return p, nil
}

// MustPattern parses a pattern known to be valid (tests, defaults).
func MustPattern(s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// splitTop splits s at the commas outside braces and brackets ({a,b} is
// one glob's alternatives). A backslash escapes the next byte.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{', '[':
			depth++
		case '}', ']':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// Match reports whether name is selected.
func (p Pattern) Match(name string) bool {
	if p.globs == nil { // the zero Pattern selects everything
		return !p.negate
	}
	for _, g := range p.globs {
		if ok, _ := doublestar.Match(g, name); ok {
			return !p.negate
		}
	}
	return p.negate
}

// String is the pattern as written.
func (p Pattern) String() string {
	if p.src == "" {
		return "**"
	}
	return p.src
}
