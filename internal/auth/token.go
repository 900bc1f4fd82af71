package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenPath is where the token endpoint is served.
const TokenPath = "/token"

// Claims are the claims of the tokens Berth issues and accepts: the
// registered ones (iss, sub, aud, exp, nbf, iat, jti), the access list of
// Docker's token specification, and Berth's own (kind, admin, groups of
// the subject; use and fpr on refresh tokens).
type Claims struct {
	jwt.RegisteredClaims
	Access []Access `json:"access,omitempty"`
	Kind   Kind     `json:"berth_kind,omitempty"`
	Admin  bool     `json:"berth_admin,omitempty"`
	Groups []string `json:"berth_groups,omitempty"`
	Use    string   `json:"berth_use,omitempty"` // "refresh" on refresh tokens
	Fpr    string   `json:"berth_fpr,omitempty"` // credential fingerprint (refresh tokens)
	issuer *trustedIssuer
}

const useRefresh = "refresh"

// subject is who a verified access token speaks for.
func (c *Claims) subject(ourIssuer string) *Subject {
	if c.Issuer != ourIssuer {
		return &Subject{Name: c.Subject, Kind: KindExternal, Source: "token"}
	}
	if c.Subject == "" {
		return &Subject{Kind: KindAnonymous, Source: "token"}
	}
	k := c.Kind
	if k == KindAnonymous {
		k = KindUser
	}
	return &Subject{Name: c.Subject, Kind: k, Admin: c.Admin, Groups: c.Groups, Source: "token"}
}

// Issued is a freshly issued access token.
type Issued struct {
	Token     string
	ExpiresIn int // seconds
	IssuedAt  time.Time
}

// issue signs a token for subj with the given access (refresh: a refresh
// token instead, without access).
func (s *Service) issue(ctx context.Context, subj *Subject, access []Access, refresh bool) (Issued, error) {
	s.keys.refresh(ctx)
	key, ok := s.keys.current()
	if !ok {
		return Issued{}, errors.New("auth: no signing key")
	}
	now := s.now()
	ttl := s.cfg.Token.TTL
	c := Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    s.cfg.Token.Issuer,
		Audience:  jwt.ClaimStrings{s.cfg.Token.Service},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ID:        randomHex(16),
	}}
	if subj != nil && !subj.Anonymous() {
		c.Subject, c.Kind = subj.Name, subj.Kind
	}
	if refresh {
		ttl = s.cfg.Token.RefreshTTL
		c.Use, c.Fpr = useRefresh, subj.fingerprint
	} else {
		c.Access = access
		if subj != nil {
			c.Admin, c.Groups = subj.Admin, subj.Groups
		}
	}
	exp := now.Add(ttl)
	if subj != nil && !subj.expires.IsZero() && subj.expires.Before(exp) {
		exp = subj.expires // no token outlives the robot or access token it came from
	}
	c.ExpiresAt = jwt.NewNumericDate(exp)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = key.id
	signed, err := t.SignedString(key.priv)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Token: signed, ExpiresIn: int(exp.Sub(now) / time.Second), IssuedAt: now}, nil
}

// validMethods are the JWS algorithms accepted (never "none", never HMAC:
// a public key must not double as a shared secret).
var validMethods = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// leeway tolerates clocks of instances and token services that disagree.
const leeway = 30 * time.Second

// maxToken bounds the length of a token parsed.
const maxToken = 32 << 10

// verify checks a token's signature, issuer, audience and times, and
// returns its claims. Berth's own tokens are checked against its keys
// (a retired key only for tokens issued before it was retired), others
// against the trusted issuers' keys. Refresh tokens are refused here.
func (k *keyring) verify(ctx context.Context, raw, audience string, trusted []trustedIssuer) (*Claims, error) {
	c, err := k.parse(ctx, raw, audience, trusted)
	if err != nil {
		return nil, err
	}
	if c.Use != "" {
		return nil, errors.New("not an access token")
	}
	return c, nil
}

// parse verifies any token Berth accepts.
func (k *keyring) parse(ctx context.Context, raw, audience string, trusted []trustedIssuer) (*Claims, error) {
	if len(raw) > maxToken {
		return nil, errors.New("token too long")
	}
	c := &Claims{}
	_, err := jwt.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		if iss == k.cfg.Issuer {
			if t.Method.Alg() != signingAlg {
				return nil, fmt.Errorf("unexpected algorithm %s", t.Method.Alg())
			}
			kid, _ := t.Header["kid"].(string)
			k.refresh(ctx) // a revoked key goes within keyReload
			key, ok := k.find(ctx, kid)
			if !ok {
				return nil, fmt.Errorf("unknown key %q", kid)
			}
			if !key.retired.IsZero() {
				iat, _ := t.Claims.GetIssuedAt()
				if iat == nil || iat.After(key.retired.Add(retiredGrace)) {
					return nil, errors.New("signed by a retired key after its retirement")
				}
			}
			return &key.priv.PublicKey, nil
		}
		for i := range trusted {
			if trusted[i].issuer == iss {
				c.issuer = &trusted[i]
				set := jwt.VerificationKeySet{}
				for _, pub := range trusted[i].keys {
					set.Keys = append(set.Keys, pub)
				}
				return set, nil
			}
		}
		return nil, fmt.Errorf("untrusted issuer %q", iss)
	}, jwt.WithValidMethods(validMethods), jwt.WithAudience(audience), jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway), jwt.WithTimeFunc(k.now), jwt.WithIssuedAt())
	if err != nil {
		return nil, err
	}
	if c.issuer != nil && (c.Use != "" || c.Kind != "" || c.Admin || len(c.Groups) > 0) {
		// Berth's private claims mean nothing from another issuer.
		c.Use, c.Kind, c.Admin, c.Groups = "invalid", "", false, nil
	}
	if c.issuer == nil {
		if err := k.checkLifetime(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkLifetime refuses a token of Berth's own that lives longer than
// Berth issues them (auth.token.ttl, refresh_ttl for refresh tokens): one
// minted with a stolen key for a year is no good.
func (k *keyring) checkLifetime(c *Claims) error {
	if c.IssuedAt == nil || c.ExpiresAt == nil {
		return errors.New("token without iat or exp")
	}
	limit := k.cfg.TTL
	if c.Use == useRefresh {
		limit = k.cfg.RefreshTTL
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > limit+time.Second {
		return fmt.Errorf("token lifetime %v is over the configured %v", life, limit)
	}
	return nil
}

// refreshSubject verifies a refresh token and finds its subject again,
// checking that the credential it was issued for has not changed.
func (s *Service) refreshSubject(ctx context.Context, raw string) (*Subject, error) {
	c, err := s.keys.parse(ctx, raw, s.cfg.Token.Service, nil)
	if err != nil {
		return nil, err
	}
	if c.Use != useRefresh || c.Issuer != s.cfg.Token.Issuer || c.Subject == "" {
		return nil, errors.New("not a refresh token")
	}
	var subj *Subject
	switch c.Kind {
	case KindRobot:
		r, err := s.store.Robot(ctx, c.Subject)
		if err != nil {
			return nil, err
		}
		if s.expired(r.ExpiresAt) {
			return nil, errors.New("robot account expired")
		}
		subj = robotSubject(r)
	default:
		if subj, err = s.lookupUser(ctx, c.Subject); err != nil {
			return nil, err
		}
		if id, _, ok := cutPAT(c.Fpr); ok {
			t, err := s.store.AccessToken(ctx, id)
			if err != nil || s.expired(t.ExpiresAt) || t.User != subj.Name {
				return nil, errors.New("access token revoked or expired")
			}
			subj.fingerprint = "pat:" + t.ID + ":" + fingerprint(t.SecretHash)
		}
	}
	if subj.fingerprint != c.Fpr {
		return nil, errors.New("credential changed since the token was issued")
	}
	return subj, nil
}

// cutPAT splits an access-token fingerprint pat:<id>:<fpr>.
func cutPAT(f string) (id, fpr string, ok bool) {
	if len(f) < 4 || f[:4] != "pat:" {
		return "", "", false
	}
	rest := f[4:]
	for i := 0; i < len(rest); i++ {
		if rest[i] == ':' {
			return rest[:i], rest[i+1:], true
		}
	}
	return "", "", false
}

// IssueToken signs an access token granting access to subj (nil: anonymous).
func (s *Service) IssueToken(ctx context.Context, subj *Subject, access []Access) (Issued, error) {
	return s.issue(ctx, subj, access, false)
}

// IssueRefreshToken signs a refresh token (docker's identity token) for
// subj: it replaces the password at the token endpoint until it expires or
// the credential it was issued for changes.
func (s *Service) IssueRefreshToken(ctx context.Context, subj *Subject) (Issued, error) {
	if subj.Anonymous() || subj.Kind == KindExternal {
		return Issued{}, errors.New("auth: no refresh token for this subject")
	}
	return s.issue(ctx, subj, nil, true)
}

// Refresh checks a refresh token and returns its subject, or a 401.
func (s *Service) Refresh(ctx context.Context, raw string) (*Subject, error) {
	subj, err := s.refreshSubject(ctx, raw)
	if err != nil {
		s.log.InfoContext(ctx, "refresh token rejected", "reason", err.Error())
		return nil, s.unauthorized("invalid or expired refresh token")
	}
	if s.admins[subj.Name] && subj.Kind == KindUser {
		subj.Admin = true
	}
	return subj, nil
}

// ServiceName is the service name of the tokens (their audience).
func (s *Service) ServiceName() string { return s.cfg.Token.Service }
