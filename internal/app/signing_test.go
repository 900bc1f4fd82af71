package app_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

// The signature policy API: project admins change their project's rules
// and keys, members read them, others are refused; changes are audited;
// a refused pull says why.
func TestSigningAPI(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"other"}`, 201)
	for _, u := range []struct{ name, project, role string }{{"padmin", "team", "admin"}, {"dev", "team", "developer"}, {"oadmin", "other", "admin"}} {
		api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"`+u.name+`","password":"`+u.name+`-password"}`, 201)
		api(t, s.URL, admin, "PUT", "/api/v1/projects/"+u.project+"/members/user/"+u.name, `{"role":"`+u.role+`"}`, 200)
	}
	padmin, dev, oadmin := cred{"padmin", "padmin-password"}, cred{"dev", "dev-password"}, cred{"oadmin", "oadmin-password"}

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	key, _ := json.Marshal(map[string]string{"name": "release", "kind": "cosign-key",
		"data": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	const keys, rules = "/api/v1/projects/team/signing/keys", "/api/v1/projects/team/signing/rules"
	const rule = `{"repositories":"**","mode":"enforce","cosign_keys":["release"]}`

	api(t, s.URL, dev, "POST", keys, string(key), 403)
	api(t, s.URL, oadmin, "POST", keys, string(key), 403)
	api(t, s.URL, padmin, "POST", keys, `{"name":"release","kind":"cosign-key","data":"not a key"}`, 400)
	api(t, s.URL, padmin, "POST", keys, string(key), 201)
	api(t, s.URL, padmin, "POST", keys, string(key), 409)
	api(t, s.URL, dev, "POST", rules, rule, 403)
	api(t, s.URL, padmin, "POST", rules, `{"repositories":"[","mode":"enforce","cosign_keys":["release"]}`, 400)
	api(t, s.URL, padmin, "POST", rules, rule, 201)
	if body := api(t, s.URL, dev, "GET", rules, "", 200); !strings.Contains(body, `"cosign_keys":["release"]`) {
		t.Fatalf("rules read by a developer: %s", body)
	}
	api(t, s.URL, oadmin, "GET", rules, "", 403)

	m := &matrix{url: s.URL, admin: admin}
	m.config = m.pushBlob(t, "team/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "team/app", []byte("layer of team/app"))
	d := m.pushManifest(t, "team/app", "v1")
	res := send(t, "GET", s.URL+"/v2/team/app/manifests/v1", admin.basic(), nil, nil)
	if res.status != 403 || !strings.Contains(res.body, "DENIED") || !strings.Contains(res.body, "no signature") {
		t.Fatalf("unsigned pull: %d %s", res.status, res.body)
	}
	status := api(t, s.URL, dev, "GET", "/api/v1/projects/team/signing/status?repository=team/app&digest="+d.String(), "", 200)
	if !strings.Contains(status, `"met":false`) || !strings.Contains(status, `"reason":"no signature"`) {
		t.Fatalf("status: %s", status)
	}
	api(t, s.URL, dev, "POST", "/api/v1/projects/team/signing/verify?repository=team/app&digest="+d.String(), "", 403)
	api(t, s.URL, padmin, "POST", "/api/v1/projects/team/signing/verify?repository=team/app&digest="+d.String(), "", 200)
	api(t, s.URL, padmin, "GET", "/api/v1/projects/team/signing/status?repository=other/app&digest="+d.String(), "", 400)
	api(t, s.URL, padmin, "GET", "/api/v1/projects/team/signing/status?repository=team/app&digest=sha256:"+strings.Repeat("0", 64), "", 404)

	// The refusal and the changes are in the audit log (written in
	// batches: poll).
	var events string
	for range 50 {
		events = api(t, s.URL, admin, "GET", "/api/v1/audit?n=100", "", 200)
		if strings.Contains(events, `"signature.deny"`) && strings.Contains(events, `"signing_key_add"`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range []string{`"signature.deny"`, `"signing_rule_add"`, `"signing_key_add"`} {
		if !strings.Contains(events, w) {
			t.Errorf("audit log lacks %s", w)
		}
	}
}
