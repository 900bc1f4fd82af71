package auth

import "context"

// ProjectRole returns the role the caller of ctx holds in project ("" :
// none, or anonymous): the vulnerability gate's role exemptions.
func (s *Service) ProjectRole(ctx context.Context, project string) (string, error) {
	subj := SubjectFromContext(ctx)
	if subj.Anonymous() {
		return "", nil
	}
	return s.role(ctx, subj, project)
}
