package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

func TestAuthCommands(t *testing.T) {
	data := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("alice-password\n"), 0o600)
	env := []string{"BERTH_AUTH_BCRYPT_COST=4"}
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(context.Background(), append(args, "--data", data), env, &out, &errb); err != nil {
			t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String()
	}
	runOK("user", "add", "alice", "--admin", "--password-file", pwFile)
	stdin = strings.NewReader("bob-password\n")
	runOK("user", "add", "bob")
	if out := runOK("user", "list"); !strings.Contains(out, "alice  true") || !strings.Contains(out, "bob    false") {
		t.Fatalf("user list:\n%s", out)
	}
	stdin = strings.NewReader("bob-password-2\n")
	runOK("user", "passwd", "bob")
	runOK("project", "add", "team-a")
	runOK("project", "add", "--public", "pub")
	if out := runOK("project", "list"); !strings.Contains(out, "team-a  false") || !strings.Contains(out, "pub     true") {
		t.Fatalf("project list:\n%s", out)
	}
	runOK("project", "member", "add", "team-a", "bob", "developer")
	runOK("project", "member", "add", "team-a", "devs", "guest", "--group")
	out := runOK("robot", "add", "ci", "--project", "team-a", "--actions", "pull,push", "--expires", "24h")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(lines[0], "robot$team-a+ci") || len(lines[1]) != 64 { // 256 bits, hex
		t.Fatalf("robot add:\n%s", out)
	}
	secret := lines[1]

	for _, bad := range [][]string{
		{"user", "add"},  // no name
		{"user", "frob"}, // unknown
		{"project", "member", "add", "team-a", "bob", "boss"}, // unknown role
		{"robot", "add", "x"}, // no project
	} {
		var o, e bytes.Buffer
		if err := run(context.Background(), append(bad, "--data", data), env, &o, &e); err == nil {
			t.Errorf("berth %v succeeded", bad)
		}
	}

	// The server, on the same data, knows them.
	cfg, err := config.Load("", append(env, "BERTH_AUTH_MODE=builtin"), config.Overrides{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	for _, c := range []struct {
		user, pw string
		want     int
	}{{"alice", "alice-password", 200}, {"bob", "bob-password-2", 200}, {"bob", "bob-password", 401}, {"robot$team-a+ci", secret, 200}} {
		req, _ := http.NewRequest("GET", srv.URL+"/v2/team-a/app/tags/list", nil)
		req.SetBasicAuth(c.user, c.pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// 404: authorized, the repository does not exist yet.
		if got := resp.StatusCode; (c.want == 200 && got != 404) || (c.want == 401 && got != 401) {
			t.Errorf("%s: %d", c.user, got)
		}
	}
	runOK("user", "delete", "bob")
}

func TestRotateKeyCommand(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	rotate := func(env []string, flags ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append([]string{"auth", "rotate-key", "--data", data}, flags...), env, &out, &errb)
		return out.String(), err
	}
	if _, err := rotate(nil); err == nil || !strings.Contains(err.Error(), "auth.mode: none") {
		t.Fatalf("rotate-key with access control off: %v, want an error naming auth.mode", err)
	}
	env := []string{"BERTH_AUTH_MODE=builtin", "BERTH_AUTH_BCRYPT_COST=4", "BERTH_LOG_LEVEL=error"}
	kids := func() []string {
		t.Helper()
		cfg, err := config.Load("", env, config.Overrides{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		srv := httptest.NewServer(a.Handler())
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct{ Keys []struct{ Kid string } }
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range set.Keys {
			ids = append(ids, k.Kid)
		}
		return ids
	}
	before := kids()
	if len(before) != 1 {
		t.Fatalf("keys before rotation: %v", before)
	}
	out, err := rotate(env)
	if err != nil {
		t.Fatal(err)
	}
	after := kids()
	if len(after) != 2 || !slices.Contains(after, before[0]) {
		t.Fatalf("keys after rotation: %v, want the old %s and a new one", after, before[0])
	}
	for _, k := range after {
		if k != before[0] && !strings.Contains(out, k) {
			t.Errorf("output %q does not name the new key %s", out, k)
		}
	}
	// --revoke drops every old key (issue 13, finding 4).
	if out, err = rotate(env, "--revoke"); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("rotate-key --revoke: %q, %v", out, err)
	}
	if revoked := kids(); len(revoked) != 1 || slices.Contains(after, revoked[0]) || !strings.Contains(out, revoked[0]) {
		t.Fatalf("keys after rotate-key --revoke: %v (before: %v)", revoked, after)
	}
}
