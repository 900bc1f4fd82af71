package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

// TestRetentionCommand: `berth retention run` on the local store, dry run
// first (nothing changes), then for real.
func TestRetentionCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg, err := config.Load("", nil, config.Overrides{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	send := func(method, path, ctype string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
	}
	cfgBlob := []byte("{}")
	send("POST", "/v2/team/app/blobs/uploads/?digest="+digest.FromBytes(cfgBlob).String(), "application/octet-stream", cfgBlob)
	for i := 1; i <= 3; i++ {
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[],"annotations":{"i":"%d"}}`,
			digest.FromBytes(cfgBlob), i)
		send("PUT", fmt.Sprintf("/v2/team/app/manifests/v%d", i), "application/vnd.oci.image.manifest.v1+json", []byte(m))
	}
	send("PUT", "/api/v1/projects/team/retention", "application/json", []byte(`{"rules":[{"keep":"latest_pushed","count":1}]}`))
	srv.Close()
	a.Close()

	var out bytes.Buffer
	if err := run(ctx, []string{"retention", "run", "team", "--dry-run", "--data", dir}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"would delete team/app:v1", "would delete team/app:v2", "kept by no rule",
		"project team: 1 repositories, 1 tags kept, 2 tags and 0 untagged manifests would delete", "dry run: nothing was deleted"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(ctx, []string{"retention", "run", "--data", dir, "--json", "team"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"tags_deleted": 2`) || !strings.Contains(out.String(), `"trigger": "cli"`) {
		t.Errorf("run output:\n%s", out.String())
	}
	out.Reset()
	// The manifests left untagged are within the grace period (1h)...
	run(ctx, []string{"retention", "run", "team", "--dry-run", "--data", dir}, nil, &out, io.Discard)
	if !strings.Contains(out.String(), "0 tags and 0 untagged manifests would delete") {
		t.Errorf("after the run, the dry run reports:\n%s", out.String())
	}
	// ... unless it is shorter.
	out.Reset()
	run(ctx, []string{"retention", "run", "team", "--dry-run", "--data", dir}, []string{"BERTH_POLICY_UNTAGGED_GRACE=0s"}, &out, io.Discard)
	if !strings.Contains(out.String(), "0 tags and 2 untagged manifests would delete") {
		t.Errorf("after the run, the dry run reports:\n%s", out.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"retention"}, "usage"},
		{[]string{"retention", "run"}, "PROJECT is required"},
		{[]string{"retention", "run", "nope", "--data", dir}, "not found"},
		{[]string{"retention", "run", "team", "extra", "--data", dir}, "unexpected argument"},
	} {
		if err := run(ctx, tc.args, nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
