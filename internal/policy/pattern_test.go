package policy

import (
	"errors"
	"testing"
)

func TestPattern(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"", []string{"", "v1", "app/api"}, nil},
		{"**", []string{"", "latest", "a/b/c"}, nil},
		{"v*", []string{"v1", "v1.2.3", "v"}, []string{"latest", "1v"}},
		{"*", []string{"app", ""}, []string{"app/api"}},
		{"app/**", []string{"app", "app/api", "app/web/ui"}, []string{"apps/x", "lib/app/x"}},
		{"{main,dev}-*", []string{"main-1", "dev-abc"}, []string{"feature-1", "main"}},
		{"v1.*,latest", []string{"v1.0", "latest"}, []string{"v2.0", "latest2"}},
		{" v1.* , latest ", []string{"v1.0", "latest"}, []string{"v2.0"}},
		{"!*-rc*", []string{"v1", "v1-final"}, []string{"v1-rc1", "2.0-rc"}},
		{"!v*,latest", []string{"main"}, []string{"v1", "latest"}},
		{"release-[0-9]*", []string{"release-1", "release-2024"}, []string{"release-x"}},
		{"a?c", []string{"abc"}, []string{"ac", "abbc"}},
	}
	for _, tc := range tests {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", tc.pattern, err)
		}
		for _, s := range tc.match {
			if !p.Match(s) {
				t.Errorf("%q does not match %q", tc.pattern, s)
			}
		}
		for _, s := range tc.nomatch {
			if p.Match(s) {
				t.Errorf("%q matches %q", tc.pattern, s)
			}
		}
	}
	if (Pattern{}).String() != "**" || !(Pattern{}).Match("x") {
		t.Error("the zero Pattern is not **")
	}
}

func TestPatternInvalid(t *testing.T) {
	for _, s := range []string{"[", "{a,b", "!", "a,,b", ",", "v1,", string(make([]byte, maxPattern+1))} {
		if _, err := ParsePattern(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePattern(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

// FuzzParsePattern: parsing never panics, and a pattern that parses
// matches without panicking.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"**", "v*", "!*-rc*", "{a,b}-*", "app/**,lib/*", "[a-", "\\", "a\\,b"} {
		f.Add(s, "v1.2")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		p.Match(name)
		if p.String() == "" {
			t.Fatal("empty String")
		}
	})
}
