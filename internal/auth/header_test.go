package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

func TestParseAuthorization(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		in   string
		want Credentials
		ok   bool
	}{
		{"", Credentials{}, true},
		{"Basic " + b64("alice:secret"), Credentials{Scheme: "basic", Username: "alice", Password: "secret"}, true},
		{"basic  " + b64("alice:se:cret") + " ", Credentials{Scheme: "basic", Username: "alice", Password: "se:cret"}, true},
		{"Basic " + b64("robot$team-a+ci:x"), Credentials{Scheme: "basic", Username: "robot$team-a+ci", Password: "x"}, true},
		{"Basic " + b64("alice"), Credentials{}, false},
		{"Basic " + b64(":pw"), Credentials{}, false},
		{"Basic " + b64("al\nice:pw"), Credentials{}, false},
		{"Basic !!!", Credentials{}, false},
		{"Bearer abc.def.ghi", Credentials{Scheme: "bearer", Token: "abc.def.ghi"}, true},
		{"BEARER abc", Credentials{Scheme: "bearer", Token: "abc"}, true},
		{"Bearer a b", Credentials{}, false},
		{"Bearer", Credentials{}, false},
		{"Digest x", Credentials{}, false},
		{"Bearer " + strings.Repeat("a", maxHeader), Credentials{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseAuthorization(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseAuthorization(%.40q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseScopes(t *testing.T) {
	got, err := ParseScopes([]string{
		"repository:team-a/app:pull,push",
		"repository:lib/x:pull repository(plugin):plug/in:pull",
		"repository:a/b:*",
		"registry:catalog:*",
		"registry:catalog:pull",    // not the catalog scope
		"repository:Bad/Name:pull", // invalid name
		"repository:a/c:dance",     // no known action
		"garbage",
		"repository:127.0.0.1:5000/x:pull", // a host-prefixed name is not ours
		"unknown:thing:pull",
		"repository:team-a/app:pull repository:team-a/app:delete", // merged with the first
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Access{
		{TypeRepository, "team-a/app", []string{"delete", "pull", "push"}},
		{TypeRepository, "lib/x", []string{"pull"}},
		{TypeRepository, "plug/in", []string{"pull"}},
		{TypeRepository, "a/b", []string{"delete", "pull", "push"}},
		{TypeRegistry, "catalog", []string{"*"}},
	}
	if !slices.EqualFunc(got, want, func(a, b Access) bool {
		return a.Type == b.Type && a.Name == b.Name && slices.Equal(a.Actions, b.Actions)
	}) {
		t.Fatalf("ParseScopes = %+v\nwant %+v", got, want)
	}
}

// TestParseScopesBounded (issue #13, finding 7): repeats are merged, and
// a request naming more than MaxScopes resources (or 4×MaxScopes scope
// strings) is refused, not granted piecemeal.
func TestParseScopesBounded(t *testing.T) {
	many := func(n int, name func(i int) string) []string {
		var out []string
		for i := range n {
			out = append(out, "repository:"+name(i)+":pull,push")
		}
		return out
	}
	distinct := func(i int) string { return fmt.Sprintf("p%d/app", i) }
	same := func(int) string { return "p/app" }
	tests := []struct {
		name   string
		scopes []string
		want   int // resources; -1: refused
	}{
		{"at the limit", many(MaxScopes, distinct), MaxScopes},
		{"one over", many(MaxScopes+1, distinct), -1},
		{"2000 pushes", many(2000, distinct), -1},
		{"repeats merge", many(4*MaxScopes, same), 1},
		{"9000 repeats", many(9000, same), -1},
		{"in one value", []string{strings.Join(many(MaxScopes+1, distinct), " ")}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScopes(tc.scopes)
			if tc.want < 0 {
				if !errors.Is(err, ErrTooManyScopes) {
					t.Fatalf("ParseScopes = %d scopes, %v; want ErrTooManyScopes", len(got), err)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("ParseScopes = %d scopes, %v; want %d", len(got), err, tc.want)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	got := bearerChallenge(`http://h/token`, "berth", "repository:a/b:pull,push", "insufficient_scope")
	want := `Bearer realm="http://h/token",service="berth",scope="repository:a/b:pull,push",error="insufficient_scope"`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if q := quote("a\"b\\c\nd"); q != `"a\"b\\cd"` {
		t.Fatalf("quote = %s", q)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")))
	f.Add("Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig")
	f.Add("basic Og==")
	f.Fuzz(func(t *testing.T, h string) {
		c, ok := ParseAuthorization(h)
		if !ok && c != (Credentials{}) {
			t.Fatalf("rejected header returned credentials %+v", c)
		}
		if c.Scheme == "basic" && (c.Username == "" || strings.Contains(c.Username, ":")) {
			t.Fatalf("bad user name %q", c.Username)
		}
		if c.Scheme == "bearer" && (c.Token == "" || strings.ContainsAny(c.Token, " \t\r\n")) {
			t.Fatalf("bad token %q", c.Token)
		}
	})
}

func FuzzParseScopes(f *testing.F) {
	f.Add("repository:team-a/app:pull,push registry:catalog:*")
	f.Add("repository(plugin):a:*")
	f.Fuzz(func(t *testing.T, s string) {
		list, _ := ParseScopes([]string{s})
		for _, a := range list {
			switch a.Type {
			case TypeRepository:
				if !oci.ValidName(a.Name) || len(a.Actions) == 0 {
					t.Fatalf("invalid access %+v", a)
				}
				for _, act := range a.Actions {
					if !slices.Contains(allActions, act) {
						t.Fatalf("unknown action in %+v", a)
					}
				}
			case TypeRegistry:
				if a.Name != "catalog" {
					t.Fatalf("invalid access %+v", a)
				}
			default:
				t.Fatalf("unknown type %+v", a)
			}
		}
	})
}
