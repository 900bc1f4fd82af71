// Package oidctest is a small OpenID Connect issuer for tests, on an
// httptest server: discovery, a JWK Set of keys it can rotate, an
// authorization endpoint that approves at once, and a token endpoint
// that answers with an ID token the test shapes (to be tampered with,
// expired, for another audience...). Tokens can also be signed directly,
// as a CI system's workload identity tokens are.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is a test OpenID Connect provider.
type Issuer struct {
	URL      string
	ClientID string

	srv *httptest.Server
	mu  sync.Mutex
	// keys are published in the JWK Set, the last one signs.
	keys []key
	// codes are the nonces of the authorization requests, by code.
	codes map[string]string
	// Mint, when set, makes the ID token of the token endpoint from the
	// default claims (which it may change) and returns the signed token;
	// nil: the default claims signed with the current key.
	Mint func(claims jwt.MapClaims) string
	// Claims are added to every ID token of the token endpoint.
	Claims jwt.MapClaims
}

type key struct {
	id  string
	key *rsa.PrivateKey
}

// Start runs an issuer on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{ClientID: "berth", codes: map[string]string{}, Claims: jwt.MapClaims{}}
	is.Rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("GET /jwks", is.jwks)
	mux.HandleFunc("GET /authorize", is.authorize)
	mux.HandleFunc("POST /token", is.token)
	is.srv = httptest.NewServer(mux)
	is.URL = is.srv.URL
	t.Cleanup(is.srv.Close)
	return is
}

// Close stops the issuer (a provider that is down).
func (is *Issuer) Close() { is.srv.Close() }

// Rotate adds a new signing key; the old ones stay published.
func (is *Issuer) Rotate(t testing.TB) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	id := fmt.Sprintf("k%d", len(is.keys)+1)
	is.keys = append(is.keys, key{id, k})
	return id
}

// DropOldKeys stops publishing every key but the current one.
func (is *Issuer) DropOldKeys() {
	is.mu.Lock()
	is.keys = is.keys[len(is.keys)-1:]
	is.mu.Unlock()
}

// Sign signs claims with the current key (kid set), or with a key that is
// not published when unpublished is true.
func (is *Issuer) Sign(t testing.TB, claims jwt.MapClaims, unpublished bool) string {
	t.Helper()
	s, err := is.sign(claims, unpublished)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (is *Issuer) sign(claims jwt.MapClaims, unpublished bool) (string, error) {
	is.mu.Lock()
	k := is.keys[len(is.keys)-1]
	is.mu.Unlock()
	if unpublished {
		pk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return "", err
		}
		k = key{"unknown", pk}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = k.id
	return tok.SignedString(k.key)
}

// DefaultClaims are the claims of a good ID token for subject with nonce.
func (is *Issuer) DefaultClaims(subject, nonce string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": is.URL, "sub": subject, "aud": is.ClientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

func (is *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"issuer": is.URL, "authorization_endpoint": is.URL + "/authorize", "token_endpoint": is.URL + "/token",
		"jwks_uri": is.URL + "/jwks", "end_session_endpoint": is.URL + "/logout",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (is *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	defer is.mu.Unlock()
	var keys []map[string]string
	for _, k := range is.keys {
		pub := k.key.PublicKey
		keys = append(keys, map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.id,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())})
	}
	writeJSON(w, map[string]any{"keys": keys})
}

// authorize approves at once: back to redirect_uri with a code and the
// state.
func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "PKCE (S256) required", http.StatusBadRequest)
		return
	}
	code := fmt.Sprintf("code-%d", time.Now().UnixNano())
	is.mu.Lock()
	is.codes[code] = q.Get("nonce")
	is.mu.Unlock()
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	code := r.PostFormValue("code")
	is.mu.Lock()
	nonce, ok := is.codes[code]
	delete(is.codes, code)
	mint := is.Mint
	is.mu.Unlock()
	if !ok || r.PostFormValue("code_verifier") == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	c := is.DefaultClaims("user-1", nonce)
	for k, v := range is.Claims {
		c[k] = v
	}
	var idt string
	if mint != nil {
		idt = mint(c)
	} else {
		var err error
		if idt, err = is.sign(c, false); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	writeJSON(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": idt})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
