package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
)

// TestUploadSessionCapHTTP (issue #13, finding 10): past
// registry.upload_sessions_per_client, POST .../blobs/uploads/ answers 429
// TOOMANYREQUESTS naming the setting; cancelling a session frees a place.
func TestUploadSessionCapHTTP(t *testing.T) {
	srv := apptest.Start(t, func(c *config.Config) { c.Registry.UploadSessionsPerClient = 2 })
	var locs []string
	for i := range 3 {
		res := send(t, "POST", srv.URL+"/v2/flood/app/blobs/uploads/", "", nil, nil)
		if i < 2 {
			if res.status != http.StatusAccepted {
				t.Fatalf("session %d: %d %s", i, res.status, res.body)
			}
			locs = append(locs, res.header.Get("Location"))
			continue
		}
		if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "TOOMANYREQUESTS") ||
			!strings.Contains(res.body, "upload_sessions_per_client") {
			t.Fatalf("past the cap: %d %s", res.status, res.body)
		}
	}
	if res := send(t, "DELETE", srv.URL+locs[0], "", nil, nil); res.status != http.StatusNoContent {
		t.Fatalf("cancel: %d", res.status)
	}
	if res := send(t, "POST", srv.URL+"/v2/flood/app/blobs/uploads/", "", nil, nil); res.status != http.StatusAccepted {
		t.Fatalf("after a cancel: %d %s", res.status, res.body)
	}
}
