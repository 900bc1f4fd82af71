package scrub_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc/gctest"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/scrub"
)

// POST /api/v1/scrub runs the scrub as a background job; GET reports it:
// a corrupted blob file is reported, and with {"repair": true} dropped.
func TestAPI(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.Jobs.Poll = 50 * time.Millisecond })
	c := &gctest.Client{Base: s.URL, HTTP: s.Client()}
	layer := []byte("the layer's bytes")
	if err := c.Push(gctest.NewImage("team/app", "v1", layer), ""); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(layer)
	var file string
	filepath.WalkDir(filepath.Join(s.Config.Storage.Filesystem.Root, "blobs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && e.Name() == d.Encoded() {
			file = p
		}
		return nil
	})
	if file == "" {
		t.Fatalf("blob file of %s not found", d)
	}
	if err := os.WriteFile(file, []byte("the layer's bytez"), 0o644); err != nil {
		t.Fatal(err)
	}

	do := func(method, body string) (int, string) {
		t.Helper()
		resp, b, err := c.Do(method, "/api/v1/scrub", http.Header{"Content-Type": {"application/json"}}, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := do("POST", `{"repare": true}`); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s", code, body)
	}
	run := func(body string, repair bool) *scrub.Report {
		t.Helper()
		if code, resp := do("POST", body); code != http.StatusAccepted || !strings.Contains(resp, `"pending":true`) {
			t.Fatalf("start: %d %s", code, resp)
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			_, resp := do("GET", "")
			var st jobs.RunStatus[scrub.Report]
			if err := json.Unmarshal([]byte(resp), &st); err != nil {
				t.Fatal(err)
			}
			if !st.Running && !st.Pending && st.Last != nil && st.Last.Repair == repair {
				return st.Last
			}
		}
		t.Fatal("scrub did not finish")
		return nil
	}
	if rep := run("", false); rep.Corrupt != 1 || rep.Repaired != 0 || rep.Checked < 2 {
		t.Fatalf("report = %+v, want the corrupt blob found and nothing repaired", rep)
	}
	if resp, _, err := c.Do("GET", "/v2/team/app/blobs/"+d.String(), nil, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("before the repair the blob is still listed: %v %v", resp, err)
	}
	if rep := run(`{"repair": true}`, true); rep.Corrupt != 1 || rep.Repaired != 1 {
		t.Fatalf("repair report = %+v", rep)
	}
	if resp, _, err := c.Do("GET", "/v2/team/app/blobs/"+d.String(), nil, nil); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after the repair: %v %v, want 404", resp, err)
	}
}
