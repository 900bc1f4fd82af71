package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// keyring holds the token signing keys: the current one signs, retired
// ones still verify the tokens they signed before they were retired. The
// keys are in the metadata database, so every instance signs and
// verifies with the same keys; each re-reads them every minute, and at
// once (at most every few seconds) when a token names a key it lacks.
type keyring struct {
	store meta.Store
	cfg   config.Token
	now   func() time.Time
	log   *slog.Logger

	mu       sync.RWMutex
	keys     []signingKey // newest first
	loadedAt time.Time
	missAt   time.Time
}

type signingKey struct {
	id      string
	priv    *ecdsa.PrivateKey
	created time.Time
	retired time.Time
}

const (
	keyReload     = time.Minute
	keyMissReload = 5 * time.Second
	// retiredGrace: an instance may sign with a key for up to a reload
	// period after another instance retired it.
	retiredGrace = keyReload + time.Minute
	signingAlg   = "ES256"
)

func newKeyring(ctx context.Context, store meta.Store, cfg config.Token, now func() time.Time, log *slog.Logger) (*keyring, error) {
	k := &keyring{store: store, cfg: cfg, now: now, log: log}
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	if _, ok := k.current(); !ok {
		if _, err := k.rotate(ctx, false); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// load reads the keys from the store.
func (k *keyring) load(ctx context.Context) error {
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("auth: signing keys: %w", err)
	}
	keys := make([]signingKey, 0, len(stored))
	for _, s := range stored {
		priv, err := x509.ParsePKCS8PrivateKey(s.PrivateKey)
		ec, ok := priv.(*ecdsa.PrivateKey)
		if err != nil || !ok || s.Algorithm != signingAlg {
			k.log.Error("auth: unusable signing key in the database, skipped", "kid", s.ID)
			continue
		}
		keys = append(keys, signingKey{id: s.ID, priv: ec, created: s.CreatedAt, retired: s.RetiredAt})
	}
	k.mu.Lock()
	k.keys, k.loadedAt = keys, k.now()
	k.mu.Unlock()
	return nil
}

// refresh reloads the keys when they are older than keyReload; one
// caller reloads, the others go on with the keys they have.
func (k *keyring) refresh(ctx context.Context) {
	k.mu.RLock()
	stale := k.now().Sub(k.loadedAt) >= keyReload
	k.mu.RUnlock()
	if stale {
		k.mu.Lock()
		stale = k.now().Sub(k.loadedAt) >= keyReload
		if stale {
			k.loadedAt = k.now() // claimed: no stampede of reloads
		}
		k.mu.Unlock()
	}
	if stale {
		if err := k.load(ctx); err != nil {
			k.log.Error("auth: reloading signing keys", "error", err)
		}
	}
}

// current returns the signing key.
func (k *keyring) current() (signingKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.retired.IsZero() {
			return key, true
		}
	}
	return signingKey{}, false
}

// find returns the key with id, reloading once if it is not known.
func (k *keyring) find(ctx context.Context, id string) (signingKey, bool) {
	lookup := func() (signingKey, bool) {
		k.mu.RLock()
		defer k.mu.RUnlock()
		for _, key := range k.keys {
			if key.id == id {
				return key, true
			}
		}
		return signingKey{}, false
	}
	if key, ok := lookup(); ok {
		return key, true
	}
	k.mu.Lock()
	reload := k.now().Sub(k.missAt) >= keyMissReload
	if reload {
		k.missAt = k.now()
	}
	k.mu.Unlock()
	if !reload || k.load(ctx) != nil {
		return signingKey{}, false
	}
	return lookup()
}

// rotate makes a new signing key, retires the current one and drops keys
// retired longer ago than any token they signed can live. With revoke,
// it drops every other key at once instead: every token they signed
// stops verifying (on this instance now, on others when they next reload
// their keys, within keyReload).
func (k *keyring) rotate(ctx context.Context, revoke bool) (string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	id := thumbprint(&priv.PublicKey)
	now := k.now()
	drop := now.Add(-k.cfg.RefreshTTL - k.cfg.TTL - retiredGrace)
	if revoke {
		drop = now.Add(time.Nanosecond) // the key retired now included
	}
	if err := k.store.RotateSigningKey(ctx, meta.SigningKey{ID: id, Algorithm: signingAlg, PrivateKey: der, CreatedAt: now}, drop); err != nil {
		return "", fmt.Errorf("auth: rotating the signing key: %w", err)
	}
	k.log.Info("token signing key rotated", "kid", id, "revoked_old_keys", revoke)
	return id, k.load(ctx)
}

// thumbprint is the RFC 7638 JWK thumbprint of a P-256 key, base64url.
func thumbprint(pub *ecdsa.PublicKey) string {
	x, y := ecCoords(pub)
	canon := `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func ecCoords(pub *ecdsa.PublicKey) (x, y string) {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil || len(raw) != 65 {
		return "", ""
	}
	return base64.RawURLEncoding.EncodeToString(raw[1:33]), base64.RawURLEncoding.EncodeToString(raw[33:])
}

// JWK is one public key of a JWKS document (RFC 7517).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the public keys that verify Berth's tokens, as a JWK Set,
// for other services (another Berth, a proxy) to verify them.
func (s *Service) JWKS(ctx context.Context) []byte {
	k := s.keys
	k.refresh(ctx)
	k.mu.RLock()
	defer k.mu.RUnlock()
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, key := range k.keys {
		x, y := ecCoords(&key.priv.PublicKey)
		set.Keys = append(set.Keys, JWK{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: key.id, Alg: signingAlg, Use: "sig"})
	}
	b, _ := json.Marshal(set)
	return b
}

// RotateKey makes a new token signing key. Tokens signed by the old ones
// stay valid until they expire, or, with revoke, stop verifying at once
// (on other instances within a minute): every client must log in again.
func (s *Service) RotateKey(ctx context.Context, revoke bool) (string, error) {
	return s.keys.rotate(ctx, revoke)
}

// trustedIssuer is an external token service and its keys.
type trustedIssuer struct {
	issuer string
	keys   []crypto.PublicKey
}

// loadTrusted reads the PEM certificates or public keys of the trusted
// token services.
func loadTrusted(list []config.TrustedIssuer) ([]trustedIssuer, error) {
	var out []trustedIssuer
	for _, ti := range list {
		data, err := os.ReadFile(ti.Certificate)
		if err != nil {
			return nil, fmt.Errorf("auth.token.trusted %s: %w", ti.Issuer, err)
		}
		keys, err := parsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("auth.token.trusted %s: %s: %w", ti.Issuer, ti.Certificate, err)
		}
		out = append(out, trustedIssuer{issuer: ti.Issuer, keys: keys})
	}
	return out, nil
}

// parsePublicKeys reads every CERTIFICATE and PUBLIC KEY block of a PEM file.
func parsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var pub any
		switch b.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			pub = cert.PublicKey
		case "PUBLIC KEY":
			var err error
			if pub, err = x509.ParsePKIXPublicKey(b.Bytes); err != nil {
				return nil, err
			}
		default:
			continue
		}
		switch pub.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, pub)
		default:
			return nil, errors.New("unsupported key type")
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no CERTIFICATE or PUBLIC KEY block")
	}
	return keys, nil
}
