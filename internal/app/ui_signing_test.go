package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestUISigning(t *testing.T) {
	s := startUI(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	m := &matrix{url: s.URL, admin: admin}
	m.config = m.pushBlob(t, "team/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "team/app", []byte("layer of team/app"))
	d := m.pushManifest(t, "team/app", "v1")

	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	const base = "/ui/projects/team/signing"
	want(t, "empty", b.get(base), 200, "No signature rules", "No trust material.")
	want(t, "bad key", b.post(base+"/keys", url.Values{"name": {"release"}, "kind": {"cosign-key"}, "data": {"hello"}}),
		http.StatusUnprocessableEntity, "Not valid material")
	want(t, "bad key, Chinese", b.do("POST", base+"/keys", url.Values{"name": {"release"}, "kind": {"cosign-key"}, "data": {"hello"}},
		map[string]string{"Accept-Language": "zh-CN"}), http.StatusUnprocessableEntity, "不是该类型的有效材料")
	wantDone(t, "key", b.post(base+"/keys", url.Values{"name": {"release"}, "kind": {"cosign-key"}, "data": {pub}}), base)
	want(t, "same name", b.post(base+"/keys", url.Values{"name": {"release"}, "kind": {"cosign-key"}, "data": {pub}}),
		http.StatusUnprocessableEntity, "material of that name")
	want(t, "rule not JSON", b.post(base+"/rules", url.Values{"rule": {"enforce please"}}), http.StatusUnprocessableEntity, "not valid JSON")
	want(t, "rule naming no key", b.post(base+"/rules", url.Values{"rule": {`{"repositories":"**","mode":"enforce","cosign_keys":["nope"]}`}}),
		http.StatusUnprocessableEntity, "The rule is invalid")
	wantDone(t, "rule", b.post(base+"/rules", url.Values{"rule": {`{"repositories":"**","mode":"audit","cosign_keys":["release"]}`}}), base)
	p := b.get(base)
	want(t, "listed", p, 200, "release", "cosign-key", "&#34;cosign_keys&#34;")
	if body := api(t, s.URL, admin, "GET", "/api/v1/projects/team/signing/rules", "", 200); !strings.Contains(body, `"mode":"audit"`) {
		t.Fatalf("rules: %s", body)
	}

	// The artifact page shows the status the API gives.
	want(t, "artifact", b.get("/ui/repositories/team/app@"+d.String()), 200, "Signatures", "not met", "no signature", "No signature found.")

	// Under an enforce rule the page still shows why the pull is refused.
	wantDone(t, "enforce rule", b.post(base+"/rules", url.Values{"rule": {`{"repositories":"**","mode":"enforce","cosign_keys":["release"]}`}}), base)
	want(t, "artifact under enforce", b.get("/ui/repositories/team/app@"+d.String()), 200, "Signatures", "not met", "no signature")
	enforceID := between(strings.SplitN(b.get(base).body, `"mode":"enforce"`, 2)[0][strings.LastIndex(strings.SplitN(b.get(base).body, `"mode":"enforce"`, 2)[0], `name="id" value="`):], `name="id" value="`, `"`)
	wantDone(t, "delete enforce rule", b.post(base+"/rules/delete", url.Values{"id": {enforceID}}), base)

	ruleID := between(p.body, `name="id" value="`, `"`)
	wantDone(t, "delete rule", b.post(base+"/rules/delete", url.Values{"id": {ruleID}}), base)
	keyID := between(b.get(base).body, `name="id" value="`, `"`)
	wantDone(t, "delete key", b.post(base+"/keys/delete", url.Values{"id": {keyID}}), base)
	want(t, "empty again", b.get(base), 200, "No signature rules", "No trust material.")
}
