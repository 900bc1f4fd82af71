package auth

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// Workload identity: a CI job logs in as a robot account with the OIDC
// token its CI system gave it (auth.workload_identity), as the password:
//
//	docker login -u 'robot$team+ci' -p "$ACTIONS_ID_TOKEN"
//
// The token must verify (the issuer's keys, audience, expiry) and carry
// every claim condition of an entry for that robot; the login then acts
// as the robot, no longer than the token lives. No secret is stored in the
// CI system.

// WorkloadVerifier verifies a CI system's OIDC token (internal/auth/oidc).
type WorkloadVerifier interface {
	// Verify returns the claims and expiry of a valid token of issuer for
	// audience; errors wrap ErrUnavailable when the issuer cannot be
	// reached.
	Verify(ctx context.Context, issuer, audience, raw string) (map[string]any, time.Time, error)
}

// looksLikeJWT reports whether a password is a compact JWS (an OIDC
// token) rather than a robot secret.
func looksLikeJWT(pw string) bool {
	return strings.HasPrefix(pw, "eyJ") && strings.Count(pw, ".") == 2 && len(pw) < 16<<10
}

// workloadLogin logs in robot r with an OIDC token, trying each
// auth.workload_identity entry of the robot.
func (s *Service) workloadLogin(ctx context.Context, r meta.Robot, token string) (*Subject, error) {
	var unavailable error
	for _, w := range s.cfg.WorkloadIdentity {
		if w.Robot != r.Name {
			continue
		}
		claims, exp, err := s.workload.Verify(ctx, w.Issuer, w.Audience, token)
		if errors.Is(err, ErrUnavailable) {
			unavailable = err
			continue
		}
		if err != nil {
			s.log.InfoContext(ctx, "workload identity: token refused", "robot", r.Name, "issuer", w.Issuer, "reason", err.Error())
			continue
		}
		if k, ok := claimsMatch(w, claims); !ok {
			s.log.InfoContext(ctx, "workload identity: a claim condition does not hold", "robot", r.Name, "issuer", w.Issuer, "claim", k)
			continue
		}
		subj := robotSubject(r)
		subj.Source = "workload-identity"
		if subj.expires.IsZero() || exp.Before(subj.expires) {
			subj.expires = exp
		}
		return subj, nil
	}
	if unavailable != nil {
		return nil, unavailable
	}
	return nil, errBadPassword
}

// claimsMatch checks every claim condition; it returns the first claim
// that fails.
func claimsMatch(w config.WorkloadIdentity, claims map[string]any) (string, bool) {
	for k, pattern := range w.Claims {
		v, ok := claims[k]
		if !ok {
			return k, false
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case bool, float64:
			s = fmt.Sprint(v)
		default:
			return k, false
		}
		if ok, err := path.Match(pattern, s); err != nil || !ok {
			return k, false
		}
	}
	return "", true
}
