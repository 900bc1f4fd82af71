package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// TestReplicationAPI drives /api/v1/replication's validation and errors:
// registries (secrets never shown, kept when sent back redacted), rules
// naming a registered registry, runs and tasks.
func TestReplicationAPI(t *testing.T) {
	s := apptest.Start(t, nil)
	dst := apptest.Start(t, nil)
	base := s.URL + "/api/v1/replication"

	st, body := call(t, "POST", base+"/registries", `{"name":"b","type":"berth","url":"`+dst.URL+`","username":"u","password":"p4ss"}`)
	expect(t, "create registry", st, body, http.StatusCreated, `"password":"********"`, `"url":"`+dst.URL+`"`)
	st, body = call(t, "POST", base+"/registries", `{"name":"b","url":"`+dst.URL+`"}`)
	expect(t, "duplicate", st, body, http.StatusConflict, "exists")
	for what, in := range map[string]string{
		"bad url":        `{"name":"c","url":"ftp://x"}`,
		"bad name":       `{"name":"C D","url":"https://x"}`,
		"bad type":       `{"name":"c","type":"quay2","url":"https://x"}`,
		"token and user": `{"name":"c","url":"https://x","token":"t","username":"u"}`,
		"unknown field":  `{"name":"c","url":"https://x","colour":"red"}`,
		"redacted, new":  `{"name":"c","url":"https://x","password":"********"}`,
	} {
		st, body = call(t, "POST", base+"/registries", in)
		expect(t, what, st, body, http.StatusBadRequest)
	}
	// A redacted password sent back keeps the stored one.
	st, body = call(t, "PUT", base+"/registries/b", `{"type":"berth","url":"`+dst.URL+`","username":"u2","password":"********"}`)
	expect(t, "update keeping the password", st, body, http.StatusOK, `"username":"u2"`, `"password":"********"`)
	if reg, err := s.App.Replication().Registry(context.Background(), "b"); err != nil || reg.Password != "p4ss" || reg.Username != "u2" {
		t.Fatalf("stored after the update: %+v, %v", reg, err)
	}
	st, body = call(t, "PUT", base+"/registries/zz", `{"url":"`+dst.URL+`"}`)
	expect(t, "update unknown", st, body, http.StatusNotFound)
	st, body = call(t, "POST", base+"/registries/b/health", "")
	expect(t, "health", st, body, http.StatusOK, `"healthy":true`)
	st, body = call(t, "GET", base+"/registries", "")
	expect(t, "list", st, body, http.StatusOK, `"name":"b"`)
	if strings.Contains(body, "p4ss") {
		t.Fatalf("a secret in the listing: %s", body)
	}

	st, body = call(t, "POST", base+"/rules", `{"name":"r","direction":"push","registry":"nope"}`)
	expect(t, "rule with an unknown registry", st, body, http.StatusBadRequest, "not registered")
	st, body = call(t, "POST", base+"/rules", `{"name":"r","direction":"sideways","registry":"b"}`)
	expect(t, "bad direction", st, body, http.StatusBadRequest, "push or pull")
	st, body = call(t, "POST", base+"/rules", `{"name":"r","direction":"push","registry":"b","schedule":"61 * * * *"}`)
	expect(t, "bad schedule", st, body, http.StatusBadRequest, "schedule")
	st, body = call(t, "POST", base+"/rules", `{"name":"r","enabled":true,"direction":"push","registry":"b","repositories":"team/**","events":true}`)
	expect(t, "create rule", st, body, http.StatusCreated, `"concurrency":4`)
	st, body = call(t, "DELETE", base+"/registries/b", "")
	expect(t, "delete a registry in use", st, body, http.StatusConflict, "rule r")

	st, body = call(t, "POST", base+"/rules/r/runs", "")
	expect(t, "run", st, body, http.StatusAccepted, `"trigger":"manual"`, `"rule":"r"`)
	st, body = call(t, "POST", base+"/rules/zz/runs", "")
	expect(t, "run an unknown rule", st, body, http.StatusNotFound)
	st, body = call(t, "GET", base+"/runs?rule=r", "")
	expect(t, "runs", st, body, http.StatusOK, `"runs":[{"id":1`)
	st, body = call(t, "GET", base+"/runs?limit=x", "")
	expect(t, "bad limit", st, body, http.StatusBadRequest)
	st, body = call(t, "GET", base+"/runs/1/tasks", "")
	expect(t, "tasks", st, body, http.StatusOK, `"tasks":`)
	st, body = call(t, "GET", base+"/runs/abc", "")
	expect(t, "bad run id", st, body, http.StatusNotFound)
	st, body = call(t, "GET", base+"/runs/99/tasks", "")
	expect(t, "tasks of an unknown run", st, body, http.StatusNotFound)

	st, body = call(t, "DELETE", base+"/rules/r", "")
	expect(t, "delete rule", st, body, http.StatusNoContent)
	st, body = call(t, "DELETE", base+"/registries/b", "")
	expect(t, "delete registry", st, body, http.StatusNoContent)
	st, body = call(t, "GET", base+"/registries/b", "")
	expect(t, "deleted", st, body, http.StatusNotFound)
}
