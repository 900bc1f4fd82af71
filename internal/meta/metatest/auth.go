package metatest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// authTests are the access-control cases of the suite.
var authTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"AuthUsers", testAuthUsers},
	{"AuthProjectsAndMembers", testAuthProjects},
	{"AuthRobots", testAuthRobots},
	{"AuthAccessTokens", testAuthAccessTokens},
	{"AuthSigningKeys", testAuthSigningKeys},
	{"AuthSettings", testAuthSettings},
}

func testAuthUsers(t *testing.T, s meta.Store) {
	if err := s.CreateUser(ctx, meta.User{Name: "alice", PasswordHash: "h1", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, meta.User{Name: "alice", PasswordHash: "h2"}); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("second alice: %v, want ErrExists", err)
	}
	if err := s.CreateUser(ctx, meta.User{Name: "bob", PasswordHash: "hb"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, "alice")
	if err != nil || u.PasswordHash != "h1" || !u.Admin || u.CreatedAt.IsZero() {
		t.Fatalf("User(alice) = %+v, %v", u, err)
	}
	if _, err := s.User(ctx, "carol"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("User(carol): %v", err)
	}
	if n, err := s.CountAdmins(ctx); err != nil || n != 1 {
		t.Fatalf("CountAdmins = %d, %v", n, err)
	}
	u.PasswordHash, u.Admin = "h3", false
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "alice"); u.PasswordHash != "h3" || u.Admin {
		t.Fatalf("after update: %+v", u)
	}
	// A disabled administrator does not count; enabled again, it does.
	u.Admin, u.Disabled = true, true
	mustNil(t, s.UpdateUser(ctx, u))
	if u, _ := s.User(ctx, "alice"); !u.Disabled || !u.Admin {
		t.Fatalf("after disabling: %+v", u)
	}
	if n, err := s.CountAdmins(ctx); err != nil || n != 0 {
		t.Fatalf("CountAdmins with the admin disabled = %d, %v", n, err)
	}
	u.Admin, u.Disabled = false, false
	mustNil(t, s.UpdateUser(ctx, u))
	if err := s.CreateUser(ctx, meta.User{Name: "dora", PasswordHash: "hd", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.User(ctx, "dora"); !u.Disabled {
		t.Fatalf("created disabled: %+v", u)
	}
	mustNil(t, s.DeleteUser(ctx, "dora"))
	if err := s.UpdateUser(ctx, meta.User{Name: "carol"}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("UpdateUser(carol): %v", err)
	}
	users, err := s.Users(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
		t.Fatalf("Users = %+v, %v", users, err)
	}
	// Deleting a user drops their memberships and tokens.
	mustNil(t, s.CreateProject(ctx, meta.Project{Name: "p"}, meta.Member{Kind: meta.MemberUser, Name: "bob", Role: "guest"}))
	mustNil(t, s.CreateAccessToken(ctx, meta.AccessToken{ID: "t1", User: "bob", Name: "ci", SecretHash: "x"}))
	mustNil(t, s.DeleteUser(ctx, "bob"))
	if _, err := s.AccessToken(ctx, "t1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("token of a deleted user: %v", err)
	}
	if ms, _ := s.Members(ctx, "p"); len(ms) != 0 {
		t.Fatalf("members after user delete: %+v", ms)
	}
	if err := s.DeleteUser(ctx, "bob"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testAuthProjects(t *testing.T, s meta.Store) {
	mustNil(t, s.CreateProject(ctx, meta.Project{Name: "team-a", CreatedBy: "alice"},
		meta.Member{Kind: meta.MemberUser, Name: "alice", Role: "admin"}))
	if err := s.CreateProject(ctx, meta.Project{Name: "team-a"}); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("second team-a: %v", err)
	}
	mustNil(t, s.CreateProject(ctx, meta.Project{Name: "pub", Public: true}))
	p, err := s.Project(ctx, "team-a")
	if err != nil || p.Public || p.CreatedBy != "alice" {
		t.Fatalf("Project = %+v, %v", p, err)
	}
	p.Public = true
	mustNil(t, s.UpdateProject(ctx, p))
	if p, _ := s.Project(ctx, "team-a"); !p.Public {
		t.Fatal("UpdateProject did not save public")
	}
	if _, err := s.Project(ctx, "nope"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Project(nope): %v", err)
	}
	if ps, _ := s.Projects(ctx); len(ps) != 2 || ps[0].Name != "pub" {
		t.Fatalf("Projects = %+v", ps)
	}

	mustNil(t, s.PutMember(ctx, meta.Member{Project: "team-a", Kind: meta.MemberUser, Name: "bob", Role: "guest"}))
	mustNil(t, s.PutMember(ctx, meta.Member{Project: "team-a", Kind: meta.MemberUser, Name: "bob", Role: "developer"}))
	mustNil(t, s.PutMember(ctx, meta.Member{Project: "team-a", Kind: meta.MemberGroup, Name: "devs", Role: "maintainer"}))
	mustNil(t, s.PutMember(ctx, meta.Member{Project: "pub", Kind: meta.MemberGroup, Name: "ops", Role: "guest"}))
	if err := s.PutMember(ctx, meta.Member{Project: "nope", Kind: meta.MemberUser, Name: "bob", Role: "guest"}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("member of unknown project: %v", err)
	}
	ms, err := s.Members(ctx, "team-a")
	want := []meta.Member{
		{Project: "team-a", Kind: "user", Name: "alice", Role: "admin"},
		{Project: "team-a", Kind: "user", Name: "bob", Role: "developer"},
		{Project: "team-a", Kind: "group", Name: "devs", Role: "maintainer"},
	}
	if err != nil || !slices.Equal(ms, want) {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	got, err := s.Memberships(ctx, "bob", []string{"ops", "devs", "other"})
	slices.SortFunc(got, func(a, b meta.Member) int { return compare(a.Project+a.Name, b.Project+b.Name) })
	if err != nil || len(got) != 3 || got[0].Project != "pub" || got[1].Name != "bob" || got[2].Name != "devs" {
		t.Fatalf("Memberships = %+v, %v", got, err)
	}
	if got, err := s.Memberships(ctx, "carol", nil); err != nil || len(got) != 0 {
		t.Fatalf("Memberships(carol) = %+v, %v", got, err)
	}
	mustNil(t, s.DeleteMember(ctx, "team-a", meta.MemberUser, "bob"))
	if err := s.DeleteMember(ctx, "team-a", meta.MemberUser, "bob"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second DeleteMember: %v", err)
	}

	// Deleting a project drops its members and robots, not other projects'.
	mustNil(t, s.CreateRobot(ctx, meta.Robot{Name: "robot$team-a+ci", Project: "team-a", SecretHash: "s"}))
	mustNil(t, s.CreateRobot(ctx, meta.Robot{Name: "robot$pub+ci", Project: "pub", SecretHash: "s"}))
	mustNil(t, s.DeleteProject(ctx, "team-a"))
	if _, err := s.Robot(ctx, "robot$team-a+ci"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("robot of a deleted project: %v", err)
	}
	if _, err := s.Robot(ctx, "robot$pub+ci"); err != nil {
		t.Fatalf("other project's robot: %v", err)
	}
	if got, _ := s.Memberships(ctx, "alice", []string{"devs"}); len(got) != 0 {
		t.Fatalf("memberships of a deleted project: %+v", got)
	}
	if err := s.DeleteProject(ctx, "team-a"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second DeleteProject: %v", err)
	}
	// The name can be used again.
	mustNil(t, s.CreateProject(ctx, meta.Project{Name: "team-a"}))
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testAuthRobots(t *testing.T, s meta.Store) {
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	r := meta.Robot{Name: "robot$team-a+ci", Project: "team-a", Description: "CI", SecretHash: "abc",
		Permissions: []meta.RobotPermission{{Project: "team-a", Actions: []string{"pull", "push"}}}, ExpiresAt: exp}
	mustNil(t, s.CreateRobot(ctx, r))
	if err := s.CreateRobot(ctx, r); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("second robot: %v", err)
	}
	mustNil(t, s.CreateRobot(ctx, meta.Robot{Name: "robot$sys", SecretHash: "def",
		Permissions: []meta.RobotPermission{{Project: "*", Actions: []string{"pull"}}}}))
	got, err := s.Robot(ctx, r.Name)
	if err != nil || got.Description != "CI" || got.SecretHash != "abc" || !got.ExpiresAt.Equal(exp) ||
		len(got.Permissions) != 1 || !slices.Equal(got.Permissions[0].Actions, []string{"pull", "push"}) {
		t.Fatalf("Robot = %+v, %v", got, err)
	}
	if sys, _ := s.Robot(ctx, "robot$sys"); !sys.ExpiresAt.IsZero() || sys.Project != "" {
		t.Fatalf("system robot = %+v", sys)
	}
	if rs, _ := s.Robots(ctx, "team-a"); len(rs) != 1 || rs[0].Name != r.Name {
		t.Fatalf("Robots(team-a) = %+v", rs)
	}
	if rs, _ := s.Robots(ctx, ""); len(rs) != 1 || rs[0].Name != "robot$sys" {
		t.Fatalf("Robots('') = %+v", rs)
	}
	mustNil(t, s.DeleteRobot(ctx, r.Name))
	if err := s.DeleteRobot(ctx, r.Name); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second DeleteRobot: %v", err)
	}
}

func testAuthAccessTokens(t *testing.T, s meta.Store) {
	if err := s.CreateAccessToken(ctx, meta.AccessToken{ID: "x", User: "ghost", Name: "n", SecretHash: "h"}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("token of unknown user: %v", err)
	}
	mustNil(t, s.CreateUser(ctx, meta.User{Name: "alice", PasswordHash: "h"}))
	mustNil(t, s.CreateAccessToken(ctx, meta.AccessToken{ID: "t1", User: "alice", Name: "laptop", SecretHash: "h1"}))
	if err := s.CreateAccessToken(ctx, meta.AccessToken{ID: "t2", User: "alice", Name: "laptop", SecretHash: "h2"}); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("same name: %v", err)
	}
	mustNil(t, s.CreateAccessToken(ctx, meta.AccessToken{ID: "t3", User: "alice", Name: "ci", SecretHash: "h3", ExpiresAt: time.Now().Add(time.Hour)}))
	tok, err := s.AccessToken(ctx, "t1")
	if err != nil || tok.User != "alice" || tok.SecretHash != "h1" || !tok.ExpiresAt.IsZero() {
		t.Fatalf("AccessToken = %+v, %v", tok, err)
	}
	if ts, _ := s.AccessTokens(ctx, "alice"); len(ts) != 2 || ts[0].Name != "ci" || ts[1].Name != "laptop" {
		t.Fatalf("AccessTokens = %+v", ts)
	}
	if err := s.DeleteAccessToken(ctx, "bob", "t1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete another user's token: %v", err)
	}
	mustNil(t, s.DeleteAccessToken(ctx, "alice", "t1"))
}

func testAuthSigningKeys(t *testing.T, s meta.Store) {
	if ks, err := s.SigningKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("SigningKeys on an empty store = %+v, %v", ks, err)
	}
	t0 := time.Now().Add(-time.Hour)
	mustNil(t, s.RotateSigningKey(ctx, meta.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{1}, CreatedAt: t0}, t0.Add(-time.Hour)))
	t1 := t0.Add(30 * time.Minute)
	mustNil(t, s.RotateSigningKey(ctx, meta.SigningKey{ID: "k2", Algorithm: "ES256", PrivateKey: []byte{2}, CreatedAt: t1}, t0.Add(-time.Hour)))
	ks, err := s.SigningKeys(ctx)
	if err != nil || len(ks) != 2 || ks[0].ID != "k2" || !ks[0].RetiredAt.IsZero() || ks[1].ID != "k1" || !ks[1].RetiredAt.Equal(t1) {
		t.Fatalf("after rotation: %+v, %v", ks, err)
	}
	// A third rotation drops k1, retired before the cutoff.
	t2 := t1.Add(30 * time.Minute)
	mustNil(t, s.RotateSigningKey(ctx, meta.SigningKey{ID: "k3", Algorithm: "ES256", PrivateKey: []byte{3}, CreatedAt: t2}, t1.Add(time.Minute)))
	ks, _ = s.SigningKeys(ctx)
	if len(ks) != 2 || ks[0].ID != "k3" || ks[1].ID != "k2" || !ks[1].RetiredAt.Equal(t2) || ks[0].PrivateKey[0] != 3 {
		t.Fatalf("after second rotation: %+v", ks)
	}
}

func testAuthSettings(t *testing.T, s meta.Store) {
	if _, err := s.Setting(ctx, "project_creation"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("unset setting: %v", err)
	}
	mustNil(t, s.PutSetting(ctx, "project_creation", "admins"))
	mustNil(t, s.PutSetting(ctx, "project_creation", "users"))
	if v, err := s.Setting(ctx, "project_creation"); err != nil || v != "users" {
		t.Fatalf("Setting = %q, %v", v, err)
	}
}
