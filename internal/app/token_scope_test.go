package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestTokenHasNoSideEffects (issue #13, finding 7): with
// project_creation: users, a token request for push to new projects
// creates none of them; the first push with the token creates the
// project (its pusher as admin). Scopes are capped and de-duplicated: a
// request naming more than 64 resources is refused with 400, and 9,000
// repeats of one scope are refused too rather than answered at length.
func TestTokenHasNoSideEffects(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	dev := cred{"dev", "dev-password"}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, admin, "PATCH", "/api/v1/settings", `{"project_creation":"users"}`, 200)
	projects := func() string { return api(t, s.URL, admin, "GET", "/api/v1/projects", "", 200) }

	var scopes []string
	for i := range 10 {
		scopes = append(scopes, fmt.Sprintf("repository:new%d/app:pull,push", i))
	}
	tok, res := fetchToken(t, s.URL+"/token", "berth", dev, scopes...)
	if tok == "" {
		t.Fatalf("token for 10 new projects: %d %s", res.status, res.body)
	}
	if p := projects(); strings.Contains(p, `"new`) {
		t.Fatalf("a token request created projects: %s", p)
	}
	claims := jwtClaims(t, tok)
	if access, _ := claims["access"].([]any); len(access) != 10 {
		t.Fatalf("granted %d of 10 scopes: %v", len(access), claims["access"])
	}
	// The first push creates the project, with dev as its admin.
	blob := []byte("first layer")
	u := s.URL + "/v2/new3/app/blobs/uploads/?digest=" + digest.FromBytes(blob).String()
	if got := send(t, "POST", u, "Bearer "+tok, blob, nil).status; got != http.StatusCreated {
		t.Fatalf("push with the token: %d", got)
	}
	if p := projects(); !strings.Contains(p, `"new3"`) || strings.Contains(p, `"new4"`) {
		t.Fatalf("projects after one push: %s", p)
	}
	if body := api(t, s.URL, dev, "GET", "/api/v1/projects/new3/members", "", 200); !strings.Contains(body, `"name":"dev","role":"admin"`) {
		t.Fatalf("members of new3: %s", body)
	}

	tests := []struct {
		name   string
		n      int
		scope  func(i int) string
		status int
	}{
		{"64 distinct", 64, func(i int) string { return fmt.Sprintf("repository:p%d/app:pull,push", i) }, http.StatusOK},
		{"2000 distinct", 2000, func(i int) string { return fmt.Sprintf("repository:p%d/app:pull,push", i) }, http.StatusBadRequest},
		{"9000 repeats", 9000, func(int) string { return "repository:p/app:pull" }, http.StatusBadRequest},
		{"200 repeats merged", 200, func(int) string { return "repository:p/app:pull" }, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"service": {"berth"}}
			for i := range tc.n {
				q.Add("scope", tc.scope(i))
			}
			res := send(t, "GET", s.URL+"/token?"+q.Encode(), dev.basic(), nil, nil)
			if res.status != tc.status {
				t.Fatalf("%d scopes: %d %.200s, want %d", tc.n, res.status, res.body, tc.status)
			}
			if len(res.body) > 64<<10 {
				t.Fatalf("a %d-byte answer", len(res.body))
			}
		})
	}
	if p := projects(); strings.Contains(p, `"p0"`) || strings.Contains(p, `"p"`) {
		t.Fatalf("token requests created projects: %s", p)
	}
}
