package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berth-registry/berth/internal/oci"
)

// Actions on repositories, as token scopes name them.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
)

// allActions is what "*" stands for on a repository.
var allActions = []string{ActionPull, ActionPush, ActionDelete}

// Resource types of scopes.
const (
	TypeRepository = "repository"
	TypeRegistry   = "registry"
)

// Access is one entry of a token's access claim (and one requested scope):
// a resource and the actions on it.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// String formats an access as a scope (repository:team-a/app:pull,push).
func (a Access) String() string {
	return a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",")
}

// MaxScopes is the most distinct resources one token request may name;
// a request naming more (or more than 4×MaxScopes scope strings, repeats
// included) is refused with ErrTooManyScopes. Clients ask for one or two
// repositories (a mount names its source too).
const MaxScopes = 64

// ErrTooManyScopes: a token request names more than MaxScopes resources.
var ErrTooManyScopes = fmt.Errorf("a token request may name at most %d scopes", MaxScopes)

// ParseScopes parses the scope parameters of a token request: each value
// may hold several scopes separated by spaces (OAuth2 style), each one
// type[(class)]:name:actions. Malformed scopes and unknown types are
// skipped, as Distribution does: the token then simply grants less.
// Repository names are validated; "*" among actions stands for all.
// Scopes naming the same resource are merged (their actions joined), in
// the order each resource first appears.
func ParseScopes(values []string) ([]Access, error) {
	var out []Access
	seen := map[string]int{} // type:name -> index in out
	fields := 0
	for _, v := range values {
		for _, s := range strings.Fields(v) {
			if fields++; fields > 4*MaxScopes {
				return nil, ErrTooManyScopes
			}
			a, ok := parseScope(s)
			if !ok {
				continue
			}
			key := a.Type + ":" + a.Name
			if i, dup := seen[key]; dup {
				acts := append(out[i].Actions, a.Actions...)
				slices.Sort(acts)
				out[i].Actions = slices.Compact(acts)
				continue
			}
			if len(out) == MaxScopes {
				return nil, ErrTooManyScopes
			}
			seen[key] = len(out)
			out = append(out, a)
		}
	}
	return out, nil
}

func parseScope(s string) (Access, bool) {
	if len(s) > 4096 {
		return Access{}, false
	}
	typ, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Access{}, false
	}
	// The name may contain ':' only in a registry host:port prefix, which
	// repository names here never have: the actions follow the last ':'.
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return Access{}, false
	}
	name, acts := rest[:i], rest[i+1:]
	if j := strings.IndexByte(typ, '('); j >= 0 && strings.HasSuffix(typ, ")") {
		typ = typ[:j] // repository(plugin) is a repository
	}
	var actions []string
	for _, a := range strings.Split(acts, ",") {
		switch a {
		case "*":
			actions = append(actions, allActions...)
		case ActionPull, ActionPush, ActionDelete:
			actions = append(actions, a)
		}
	}
	slices.Sort(actions)
	actions = slices.Compact(actions)
	switch typ {
	case TypeRepository:
		if !oci.ValidName(name) || len(actions) == 0 {
			return Access{}, false
		}
	case TypeRegistry:
		if name != "catalog" || !strings.Contains(","+acts+",", ",*,") {
			return Access{}, false
		}
		actions = []string{"*"}
	default:
		return Access{}, false
	}
	return Access{Type: typ, Name: name, Actions: actions}, true
}

// catalogAccess is the scope that lists repositories.
var catalogAccess = Access{Type: TypeRegistry, Name: "catalog", Actions: []string{"*"}}

// grants reports whether the access list allows action on a resource.
func grants(list []Access, typ, name, action string) bool {
	for _, a := range list {
		if a.Type == typ && a.Name == name && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, "*")) {
			return true
		}
	}
	return false
}

// ProjectOf is the project of a repository: its first path component.
func ProjectOf(repo string) string {
	p, _, _ := strings.Cut(repo, "/")
	return p
}
