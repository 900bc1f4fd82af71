package app

import (
	"net/http"

	v2 "github.com/berth-registry/berth/internal/api/v2"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/ratelimit"
)

// v2Admit applies the rate limits (rate_limit) to /v2/ requests, after
// authorization: per user or robot, else per client address, and per
// project; manifest GETs count as pulls.
type v2Admit struct{ a *App }

func (v v2Admit) Admit(w http.ResponseWriter, r *http.Request, m v2.Matched) error {
	req := ratelimit.Request{Kind: ratelimit.Anonymous, Name: v.a.clientIP(r)}
	if s := auth.SubjectOf(r); !s.Anonymous() {
		req.Kind, req.Name = ratelimit.User, s.Name
		if s.Kind == auth.KindRobot {
			req.Kind = ratelimit.Robot
		}
	}
	if m.Repo != "" {
		req.Project = auth.ProjectOf(m.Repo)
	}
	req.ManifestPull = m.Kind == v2.KindManifest && r.Method == http.MethodGet
	return v.a.limiter.Admit(w.Header(), req)
}
