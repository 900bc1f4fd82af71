package auth

import "context"

// ProjectRole is subj's strongest role in a project ("" for none), as a
// user member or through an LDAP/OIDC group; robots have no role. For the
// pull gates' role exemptions (signature and vulnerability policies).
func (s *Service) ProjectRole(ctx context.Context, subj *Subject, project string) (string, error) {
	if subj.Anonymous() || subj.Kind != KindUser {
		return "", nil
	}
	return s.role(ctx, subj, project)
}
