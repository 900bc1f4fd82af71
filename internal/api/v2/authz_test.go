package v2

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

// recordingAuthz denies what deny says and records what it was asked.
type recordingAuthz struct {
	asked []Matched
	deny  func(m Matched) bool
}

func (a *recordingAuthz) Authorize(r *http.Request, m Matched) error {
	a.asked = append(a.asked, m)
	if a.deny(m) {
		return oci.NewError(oci.CodeDenied, "no")
	}
	return nil
}
func (a *recordingAuthz) Allowed(*http.Request, string, Action) bool { return false }
func (a *recordingAuthz) Visible(*http.Request) (func(string) bool, error) {
	return nil, nil
}

// The router asks the authorizer with the matched route-table entry
// (its Action) before the handler, and sends its error instead.
func TestRouterAuthorizesBeforeHandler(t *testing.T) {
	ran := 0
	h := func(w http.ResponseWriter, r *http.Request) error { ran++; return nil }
	table := []Route{
		{Name: "manifest_get", Kind: KindManifest, Method: http.MethodGet, Action: ActionPull, Handle: h},
		{Name: "manifest_delete", Kind: KindManifest, Method: http.MethodDelete, Action: ActionDelete, Handle: h},
	}
	authz := &recordingAuthz{deny: func(m Matched) bool { return m.Action == ActionDelete }}
	rt := NewRouter(table, slog.New(slog.NewTextHandler(io.Discard, nil))).WithAuthorizer(authz)

	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/team/app/manifests/v1", nil))
	if rec.Code != 200 || ran != 1 {
		t.Fatalf("allowed GET: %d, handler ran %d times", rec.Code, ran)
	}
	rec = httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/v2/team/app/manifests/v1", nil))
	if rec.Code != http.StatusForbidden || ran != 1 {
		t.Fatalf("denied DELETE: %d, handler ran %d times", rec.Code, ran)
	}
	if len(authz.asked) != 2 || authz.asked[0].Repo != "team/app" || authz.asked[0].Action != ActionPull || authz.asked[1].Action != ActionDelete {
		t.Fatalf("asked %+v", authz.asked)
	}
	// An invalid name is refused before the authorizer is asked.
	rec = httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/Team/manifests/v1", nil))
	if rec.Code != http.StatusBadRequest || len(authz.asked) != 2 {
		t.Fatalf("invalid name: %d, asked %d", rec.Code, len(authz.asked))
	}
}
