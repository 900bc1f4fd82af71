package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/internal/config"
)

var pullA = []Access{{Type: TypeRepository, Name: "team/app", Actions: []string{"pull"}}}

func TestTokenVerify(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, nil)
	alice := &Subject{Name: "alice", Kind: KindUser}
	tok, err := s.IssueToken(ctx, alice, pullA)
	mustOK(t, err)
	c, err := s.keys.verify(ctx, tok.Token, "berth", nil)
	if err != nil || c.Subject != "alice" || !grants(c.Access, TypeRepository, "team/app", "pull") || grants(c.Access, TypeRepository, "team/app", "push") {
		t.Fatalf("verify = %+v, %v", c, err)
	}

	parts := strings.Split(tok.Token, ".")
	tamper := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	other := newService(t, store, clk, func(c *config.Auth) { c.Token.Service = "other" })
	for name, bad := range map[string]string{
		"tampered access": tamper(map[string]any{"iss": "berth", "sub": "alice", "aud": "berth", "exp": clk.now().Add(time.Hour).Unix(),
			"iat": clk.now().Unix(), "access": []Access{{Type: TypeRepository, Name: "team/app", Actions: []string{"pull", "push"}}}}),
		"bad signature": parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)),
		"alg none":      base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"garbage":       "not-a-token",
		"empty":         "",
	} {
		if _, err := s.keys.verify(ctx, bad, "berth", nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// HS256 with the public key as the shared secret.
	key, _ := s.keys.current()
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.priv.PublicKey)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "berth", "aud": "berth", "exp": clk.now().Add(time.Hour).Unix()})
	hs.Header["kid"] = key.id
	hsTok, _ := hs.SignedString(pubDER)
	if _, err := s.keys.verify(ctx, hsTok, "berth", nil); err == nil {
		t.Error("HS256 token accepted")
	}
	// Wrong audience: another service sharing the keys refuses it.
	if _, err := other.keys.verify(ctx, tok.Token, "other", nil); err == nil {
		t.Error("token for service berth accepted by service other")
	}
	// Expired (beyond the leeway).
	clk.add(5*time.Minute + leeway + time.Second)
	if _, err := s.keys.verify(ctx, tok.Token, "berth", nil); err == nil {
		t.Error("expired token accepted")
	}
}

func TestRefreshTokenIsNotAccess(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, nil)
	mustOK(t, s.Manager().CreateUser(ctx, "alice", "alice-password", false))
	subj, err := s.Login(ctx, "alice", "alice-password", "a")
	mustOK(t, err)
	rt, err := s.IssueRefreshToken(ctx, subj)
	mustOK(t, err)
	if _, err := s.keys.verify(ctx, rt.Token, "berth", nil); err == nil {
		t.Fatal("refresh token accepted as an access token")
	}
	if got, err := s.Refresh(ctx, rt.Token); err != nil || got.Name != "alice" {
		t.Fatalf("Refresh = %+v, %v", got, err)
	}
	at, _ := s.IssueToken(ctx, subj, nil)
	if _, err := s.Refresh(ctx, at.Token); err == nil {
		t.Fatal("access token accepted as a refresh token")
	}
	mustOK(t, s.Manager().DeleteUser(ctx, "alice"))
	if _, err := s.Refresh(ctx, rt.Token); err == nil {
		t.Fatal("refresh token of a deleted user accepted")
	}
}

func TestKeyRotation(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, nil)
	old, _ := s.keys.current()
	t1, _ := s.IssueToken(ctx, nil, pullA)
	clk.add(time.Second)
	kid, err := s.RotateKey(ctx, false)
	mustOK(t, err)
	if kid == old.id {
		t.Fatal("rotation kept the key")
	}
	t2, _ := s.IssueToken(ctx, nil, pullA)
	if h := jwtHeader(t, t2.Token); h["kid"] != kid {
		t.Fatalf("new token signed by %v, want %s", h["kid"], kid)
	}
	// Another instance (a second service on the same store) verifies both.
	other := newService(t, store, clk, nil)
	for _, tok := range []string{t1.Token, t2.Token} {
		if _, err := other.keys.verify(ctx, tok, "berth", nil); err != nil {
			t.Errorf("token after rotation: %v", err)
		}
	}
	var set struct{ Keys []JWK }
	json.Unmarshal(s.JWKS(ctx), &set)
	if len(set.Keys) != 2 || set.Keys[0].Kid != kid || set.Keys[1].Kid != old.id || set.Keys[0].Crv != "P-256" {
		t.Fatalf("JWKS %+v", set.Keys)
	}
	// A token the old key signs long after its retirement is refused.
	clk.add(retiredGrace + time.Minute)
	c := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "berth", Audience: jwt.ClaimStrings{"berth"},
		IssuedAt: jwt.NewNumericDate(clk.now()), ExpiresAt: jwt.NewNumericDate(clk.now().Add(time.Minute))}}
	late := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	late.Header["kid"] = old.id
	lateTok, _ := late.SignedString(old.priv)
	if _, err := other.keys.verify(ctx, lateTok, "berth", nil); err == nil {
		t.Fatal("token signed by a retired key after its retirement accepted")
	}
}

func jwtHeader(t *testing.T, tok string) map[string]any {
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	mustOK(t, err)
	var h map[string]any
	json.Unmarshal(b, &h)
	return h
}

func TestExternalIssuer(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pemPath := filepath.Join(dir, "ext.pem")
	os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, func(c *config.Auth) {
		c.Token.Trusted = []config.TrustedIssuer{{Issuer: "ext-auth", Certificate: pemPath}}
	})
	sign := func(key any, method jwt.SigningMethod, iss, aud string) string {
		c := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: iss, Subject: "ci", Audience: jwt.ClaimStrings{aud},
			IssuedAt: jwt.NewNumericDate(clk.now()), ExpiresAt: jwt.NewNumericDate(clk.now().Add(time.Minute))}, Access: pullA}
		tok, err := jwt.NewWithClaims(method, c).SignedString(key)
		mustOK(t, err)
		return tok
	}
	c, err := s.keys.verify(ctx, sign(rsaKey, jwt.SigningMethodRS256, "ext-auth", "berth"), "berth", s.trusted)
	if err != nil || c.subject("berth").Kind != KindExternal || !grants(c.Access, TypeRepository, "team/app", "pull") {
		t.Fatalf("external token: %+v, %v", c, err)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tok := range map[string]string{
		"wrong key":      sign(otherKey, jwt.SigningMethodES256, "ext-auth", "berth"),
		"unknown issuer": sign(rsaKey, jwt.SigningMethodRS256, "someone", "berth"),
		"wrong audience": sign(rsaKey, jwt.SigningMethodRS256, "ext-auth", "elsewhere"),
		"claims berth's": sign(rsaKey, jwt.SigningMethodRS256, "berth", "berth"),
	} {
		if _, err := s.keys.verify(ctx, tok, "berth", s.trusted); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzVerifyToken: any input is refused without a panic, unless it is a
// token the service issued.
func FuzzVerifyToken(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.eyJpc3MiOiJiZXJ0aCJ9.c2ln")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJiZXJ0aCIsImF1ZCI6ImJlcnRoIiwiZXhwIjo5OTk5OTk5OTk5fQ.")
	dir := f.TempDir()
	store, err := openFuzzStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	clk := &clock{t: time.Now()}
	c := testConfig()
	s, err := New(ctx, c, store, discard(), Options{Now: clk.now})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if c, err := s.keys.verify(ctx, raw, "berth", nil); err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
	})
}
