package manage

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

func TestMountChecksPermissionFirst(t *testing.T) {
	var ran bool
	routes := []Route{{Name: "thing", Method: http.MethodPost, Pattern: "/api/v1/things/{project}", Perm: PermProjectAdmin,
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			ran = true
			var in struct{ N int }
			if err := ReadJSON(r, &in); err != nil {
				return err
			}
			return WriteJSON(w, http.StatusCreated, map[string]any{"project": r.PathValue("project"), "n": in.N})
		}}}
	deny := errors.New("no")
	authz := func(r *http.Request, p Permission) error {
		if p != PermProjectAdmin {
			t.Errorf("permission %v", p)
		}
		if r.Header.Get("X-Allow") == "" {
			return oci.NewError(oci.CodeDenied, deny.Error())
		}
		return nil
	}
	mux := http.NewServeMux()
	Mount(mux, routes, authz, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, tc := range []struct {
		allow      bool
		body       string
		wantStatus int
		wantRan    bool
		wantBody   string
	}{
		{false, `{"N":1}`, http.StatusForbidden, false, `"DENIED"`},
		{true, `{"N":2}`, http.StatusCreated, true, `{"n":2,"project":"team-a"}`},
		{true, `{"N":2,"x":1}`, http.StatusBadRequest, true, `unknown field`},
		{true, `{"N":2}{}`, http.StatusBadRequest, true, `trailing data`},
	} {
		ran = false
		req := httptest.NewRequest(http.MethodPost, "/api/v1/things/team-a", strings.NewReader(tc.body))
		if tc.allow {
			req.Header.Set("X-Allow", "1")
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tc.wantStatus || ran != tc.wantRan || !strings.Contains(rec.Body.String(), tc.wantBody) {
			t.Errorf("allow=%v body=%s: %d ran=%v %s", tc.allow, tc.body, rec.Code, ran, rec.Body)
		}
	}
}
