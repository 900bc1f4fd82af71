package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Roles in a project.
const (
	RoleAdmin      = "admin"
	RoleMaintainer = "maintainer"
	RoleDeveloper  = "developer"
	RoleGuest      = "guest"
)

// roleActions is what each role may do with the project's repositories.
var roleActions = map[string][]string{
	RoleAdmin:      {ActionDelete, ActionPull, ActionPush},
	RoleMaintainer: {ActionDelete, ActionPull, ActionPush},
	RoleDeveloper:  {ActionPull, ActionPush},
	RoleGuest:      {ActionPull},
}

// roleRank orders roles, weakest first.
var roleRank = map[string]int{RoleGuest: 1, RoleDeveloper: 2, RoleMaintainer: 3, RoleAdmin: 4}

// ValidRole reports whether r names a role.
func ValidRole(r string) bool { return roleRank[r] > 0 }

// Project creation policies (the project_creation setting).
const (
	SettingProjectCreation = "project_creation"
	CreationAdmins         = "admins" // only system administrators create projects
	CreationUsers          = "users"  // any user; pushing to a new name creates it
)

// challengeError is an OCI error with a WWW-Authenticate challenge.
type challengeError struct {
	oe        *oci.Error
	challenge string
}

func (e *challengeError) Error() string     { return e.oe.Error() }
func (e *challengeError) Unwrap() error     { return e.oe }
func (e *challengeError) Challenge() string { return e.challenge }

func errTooManyLogins() error {
	return &oci.Error{Code: oci.CodeTooManyRequests, Message: "too many failed logins; try again later"}
}

func (s *Service) unauthorized(msg string) error { return oci.NewError(oci.CodeUnauthorized, msg) }

func (s *Service) invalidToken() error {
	return &challengeError{oe: oci.NewError(oci.CodeUnauthorized, "invalid or expired token"), challenge: "invalid_token"}
}

func denied() error {
	return oci.NewError(oci.CodeDenied, "requested access to the resource is denied")
}

// v2Error turns an authentication failure into the error sent on /v2/,
// with a challenge naming scope when it is a 401.
func (s *Service) v2Error(r *http.Request, err error, scope, errCode string) error {
	var ce *challengeError
	if errors.As(err, &ce) { // invalid token
		errCode, err = ce.challenge, ce.oe
	}
	var oe *oci.Error
	if !errors.As(err, &oe) || oe.Code != oci.CodeUnauthorized {
		return err
	}
	ch := basicChallenge
	if s.cfg.Token.Enabled {
		ch = bearerChallenge(s.Realm(r), s.cfg.Token.Service, scope, errCode)
	}
	return &challengeError{oe: oe, challenge: ch}
}

func authRequired() *oci.Error { return oci.NewError(oci.CodeUnauthorized, "authentication required") }

// CheckBase authorizes GET /v2/: any authenticated request. Anonymous ones
// get the challenge that tells clients where to log in (docker login
// relies on it).
func (s *Service) CheckBase(r *http.Request) error {
	id := identityOf(r)
	if id.err != nil {
		return s.v2Error(r, id.err, "", "")
	}
	if id.subj == nil {
		return s.v2Error(r, authRequired(), "", "")
	}
	return nil
}

// CheckCatalog authorizes GET /v2/_catalog: a token with the catalog
// scope, or an authenticated user; the list is then filtered (Visible).
func (s *Service) CheckCatalog(r *http.Request) error {
	const scope = "registry:catalog:*"
	id := identityOf(r)
	switch {
	case id.err != nil:
		return s.v2Error(r, id.err, scope, "")
	case id.bearer && !grants(id.access, TypeRegistry, "catalog", "*"):
		return s.v2Error(r, authRequired(), scope, "insufficient_scope")
	case id.subj == nil || id.subj.Anonymous():
		return s.v2Error(r, authRequired(), scope, "")
	}
	return nil
}

// repoScope is the scope a client should ask for to do action on repo.
func repoScope(repo, action string) string {
	acts := action
	if action == ActionPush {
		acts = "pull,push"
	}
	return TypeRepository + ":" + repo + ":" + acts
}

// CheckRepo authorizes action (pull, push, delete) on a repository: 401
// with a challenge when the request is anonymous or its token lacks the
// access (so the client fetches a new token), 403 when an authenticated
// user lacks the permission.
func (s *Service) CheckRepo(r *http.Request, repo, action string) error {
	id := identityOf(r)
	scope := repoScope(repo, action)
	if id.err != nil {
		return s.v2Error(r, id.err, scope, "")
	}
	if s.allowed(r.Context(), id, repo, action) {
		if action == ActionPull && id.subj.Anonymous() && !id.bearer {
			id.anonPull = repo
		}
		return s.checkNetwork(r, id.subj, repo, action)
	}
	switch {
	case id.bearer:
		return s.v2Error(r, authRequired(), scope, "insufficient_scope")
	case id.subj == nil:
		return s.v2Error(r, authRequired(), scope, "")
	}
	return denied()
}

// Allowed reports whether the request may do action on repo, without
// side effects (push is never allowed here: it may create a project): a
// mount checks pull on its source with it.
func (s *Service) Allowed(r *http.Request, repo, action string) bool {
	id := identityOf(r)
	return id.err == nil && action != ActionPush && s.allowed(r.Context(), id, repo, action) &&
		s.checkNetwork(r, id.subj, repo, action) == nil
}

func (s *Service) allowed(ctx context.Context, id *identity, repo, action string) bool {
	if id.bearer {
		if !grants(id.access, TypeRepository, repo, action) {
			return false
		}
		if action == ActionPush {
			// The token was granted push to a project that may not exist
			// yet: the push creates it, not the token request.
			if err := s.createOnPush(ctx, id.subj, repo); err != nil {
				s.log.ErrorContext(ctx, "creating a project on push", "repo", repo, "error", err)
				return false
			}
		}
		return true
	}
	acts, err := s.Actions(ctx, id.subj, repo, action == ActionPush)
	if err != nil {
		s.log.ErrorContext(ctx, "authorization failed", "repo", repo, "error", err)
		return false
	}
	return slices.Contains(acts, action)
}

// Actions is what subj (nil: anonymous) may do on repo. With create, a
// push to a project that does not exist creates it, with subj as its
// admin, when subj may create projects.
func (s *Service) Actions(ctx context.Context, subj *Subject, repo string, create bool) ([]string, error) {
	return s.actions(ctx, subj, repo, create, create)
}

// actions is Actions. With push, a project that does not exist counts as
// subj's own when subj may create it (it gets an admin's actions); with
// create too, it is created now.
func (s *Service) actions(ctx context.Context, subj *Subject, repo string, push, create bool) ([]string, error) {
	project := ProjectOf(repo)
	if subj != nil && subj.Admin {
		if push && create {
			if err := s.ensureProject(ctx, project, subj); err != nil {
				return nil, err
			}
		}
		return allActions, nil
	}
	if subj != nil && subj.Kind == KindExternal {
		return nil, nil // only what its token grants
	}
	var acts []string
	if subj != nil && subj.Kind == KindRobot {
		r, err := s.robotOf(ctx, subj)
		if err != nil {
			return nil, err
		}
		acts = robotActions(r, project)
	}
	p, err := s.store.Project(ctx, project)
	if errors.Is(err, meta.ErrNotFound) {
		if acts != nil {
			return acts, nil
		}
		if push && s.mayCreate(ctx, subj) {
			if create {
				if err := s.ensureProject(ctx, project, subj); err != nil {
					return nil, err
				}
			}
			return roleActions[RoleAdmin], nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p.Public {
		acts = append(acts, ActionPull)
	}
	if subj != nil && subj.Kind == KindUser {
		role, err := s.role(ctx, subj, project)
		if err != nil {
			return nil, err
		}
		acts = append(acts, roleActions[role]...)
	}
	slices.Sort(acts)
	return slices.Compact(acts), nil
}

// role is subj's strongest role in a project ("" for none), as a user
// member or through an LDAP group.
func (s *Service) role(ctx context.Context, subj *Subject, project string) (string, error) {
	ms, err := s.store.Memberships(ctx, subj.Name, subj.Groups)
	if err != nil {
		return "", err
	}
	best := ""
	for _, m := range ms {
		if m.Project == project && roleRank[m.Role] > roleRank[best] {
			best = m.Role
		}
	}
	return best, nil
}

func (s *Service) robotOf(ctx context.Context, subj *Subject) (*meta.Robot, error) {
	if subj.robot != nil {
		return subj.robot, nil
	}
	r, err := s.store.Robot(ctx, subj.Name)
	if errors.Is(err, meta.ErrNotFound) {
		return &meta.Robot{Name: subj.Name}, nil
	}
	return &r, err
}

func robotActions(r *meta.Robot, project string) []string {
	var acts []string
	for _, p := range r.Permissions {
		if p.Project == project || p.Project == "*" {
			acts = append(acts, p.Actions...)
		}
	}
	slices.Sort(acts)
	return slices.Compact(acts)
}

// mayCreate reports whether subj may create projects.
func (s *Service) mayCreate(ctx context.Context, subj *Subject) bool {
	if subj == nil || subj.Kind != KindUser {
		return false
	}
	return subj.Admin || s.ProjectCreation(ctx) == CreationUsers
}

// ProjectCreation returns the project creation policy (default admins).
func (s *Service) ProjectCreation(ctx context.Context) string {
	v, err := s.store.Setting(ctx, SettingProjectCreation)
	if err != nil || (v != CreationUsers && v != CreationAdmins) {
		return CreationAdmins
	}
	return v
}

// createOnPush creates the project of repo, with subj as its admin, when
// it does not exist and subj may create projects: a push with a token
// (which granted push to the project to be) creates it, as one with a
// password does.
func (s *Service) createOnPush(ctx context.Context, subj *Subject, repo string) error {
	if subj == nil || (!subj.Admin && !s.mayCreate(ctx, subj)) {
		return nil
	}
	return s.ensureProject(ctx, ProjectOf(repo), subj)
}

// ensureProject creates a project with subj as its admin, unless it exists.
func (s *Service) ensureProject(ctx context.Context, name string, subj *Subject) error {
	if _, err := s.store.Project(ctx, name); err == nil {
		return nil
	}
	err := s.store.CreateProject(ctx, meta.Project{Name: name, CreatedBy: subj.Name},
		meta.Member{Kind: meta.MemberUser, Name: subj.Name, Role: RoleAdmin})
	if err == nil {
		s.log.InfoContext(ctx, "project created by a push", "project", name, "user", subj.Name)
	}
	if errors.Is(err, meta.ErrExists) {
		return nil
	}
	return err
}

// Grant computes the access a token gets for the requested scopes:
// for each repository, the requested actions subj may do (push to a new
// project when subj may create it; the first push creates it: a token
// request has no side effects); the catalog for anyone signed in.
func (s *Service) Grant(ctx context.Context, subj *Subject, requested []Access) ([]Access, error) {
	var out []Access
	for _, a := range requested {
		switch a.Type {
		case TypeRepository:
			acts, err := s.actions(ctx, subj, a.Name, slices.Contains(a.Actions, ActionPush), false)
			if err != nil {
				return nil, err
			}
			var granted []string
			for _, act := range a.Actions {
				if slices.Contains(acts, act) {
					granted = append(granted, act)
				}
			}
			if len(granted) > 0 {
				out = append(out, Access{Type: a.Type, Name: a.Name, Actions: granted})
			}
			if slices.Contains(a.Actions, ActionPull) {
				cache, err := s.grantCachePull(ctx, subj, a.Name)
				if err != nil {
					return nil, err
				}
				out = append(out, cache...)
			}
		case TypeRegistry:
			if !subj.Anonymous() {
				out = append(out, catalogAccess)
			}
		}
	}
	return out, nil
}

// grantCachePull is the access a token needs for a pull of repo that the
// pull-through cache serves: the /v2/ router authorizes such a pull
// against the cache repository (hub/library/nginx for library/nginx in
// mirror mode), but a Docker daemon asks for a token for the name it
// pulls. The token then also names the cache repository, with pull when
// subj may pull from its project.
func (s *Service) grantCachePull(ctx context.Context, subj *Subject, repo string) ([]Access, error) {
	if s.proxyRepo == nil {
		return nil, nil
	}
	cache, ok := s.proxyRepo(ctx, repo)
	if !ok || cache == repo {
		return nil, nil
	}
	acts, err := s.Actions(ctx, subj, cache, false)
	if err != nil || !slices.Contains(acts, ActionPull) {
		return nil, err
	}
	return []Access{{Type: TypeRepository, Name: cache, Actions: []string{ActionPull}}}, nil
}

// Visible returns a filter of the repositories the request may see in
// the catalog (nil: all).
func (s *Service) Visible(r *http.Request) (func(repo string) bool, error) {
	ctx := r.Context()
	id := identityOf(r)
	subj := id.subj
	if subj != nil && (subj.Admin || subj.Kind == KindExternal) {
		return nil, nil
	}
	projects := map[string]bool{}
	if subj != nil && subj.Kind == KindRobot {
		rb, err := s.robotOf(ctx, subj)
		if err != nil {
			return nil, err
		}
		for _, p := range rb.Permissions {
			if slices.Contains(p.Actions, ActionPull) {
				if p.Project == "*" {
					return nil, nil
				}
				projects[p.Project] = true
			}
		}
	} else if subj != nil && subj.Kind == KindUser {
		ms, err := s.store.Memberships(ctx, subj.Name, subj.Groups)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			projects[m.Project] = true
		}
	}
	all, err := s.store.Projects(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		if p.Public {
			projects[p.Name] = true
		}
	}
	return func(repo string) bool { return projects[ProjectOf(repo)] }, nil
}

// CheckAPI is the management API's authorizer (manage.Authorizer): the
// route's permission against the request's subject; PermProjectRead and
// PermProjectAdmin refer to the {project} path value.
func (s *Service) CheckAPI(r *http.Request, perm manage.Permission) error {
	ctx := r.Context()
	id := identityOf(r)
	if id.err == nil {
		// Public routes too: what they show may depend on who asks.
		if err := s.recheck(ctx, id); err != nil {
			return apiError(err)
		}
	}
	if perm == manage.PermPublic {
		return nil
	}
	if id.err != nil {
		return apiError(id.err)
	}
	subj := id.subj
	anonymous := subj.Anonymous()
	ok := false
	switch perm {
	case manage.PermAuthenticated:
		ok = !anonymous
	case manage.PermProjectRead:
		project := r.PathValue("project")
		if subj != nil && subj.Admin {
			ok = true
			break
		}
		acts, err := s.Actions(ctx, subj, project, false)
		if err != nil {
			return err
		}
		ok = len(acts) > 0
		if !ok && subj != nil && subj.Kind == KindUser {
			role, err := s.role(ctx, subj, project)
			if err != nil {
				return err
			}
			ok = role != ""
		}
	case manage.PermProjectAdmin:
		if subj != nil && subj.Admin {
			ok = true
			break
		}
		if subj != nil && subj.Kind == KindUser {
			role, err := s.role(ctx, subj, r.PathValue("project"))
			if err != nil {
				return err
			}
			ok = role == RoleAdmin
		}
	case manage.PermSystemAdmin:
		ok = subj != nil && subj.Admin
	}
	switch {
	case ok:
		return nil
	case anonymous:
		return apiError(authRequired())
	}
	return denied()
}

// apiError adds a Basic challenge to a 401 of the management API.
func apiError(err error) error {
	var ce *challengeError
	if errors.As(err, &ce) {
		err = ce.oe
	}
	var oe *oci.Error
	if errors.As(err, &oe) && oe.Code == oci.CodeUnauthorized {
		return &challengeError{oe: oe, challenge: basicChallenge}
	}
	return err
}
