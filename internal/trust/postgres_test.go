package trust

import (
	"errors"
	"testing"

	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/registry"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Two instances on one PostgreSQL database and one blob directory agree:
// a policy set through one is enforced by the other, a signature pushed
// to one counts on the other, and a key removed on one stops counting on
// both.
func TestTwoInstancesOnPostgres(t *testing.T) {
	dsn, dir := pgtest.Start(t), t.TempDir()
	open := func() *env {
		st, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return newEnvOn(t, st, dir, false)
	}
	a, b := open(), open()
	k := newCosignKey(t)
	a.material("p", "release", KindCosignKey, k.pub)
	a.rule("p", Rule{Repositories: "**", Mode: ModeEnforce, CosignKeys: []string{"release"}})

	signed, _ := a.image("p/app", "signed")
	unsigned, _ := a.image("p/app", "unsigned")
	if err := b.pull("p/app", signed); !errors.Is(err, registry.ErrDenied) {
		t.Fatalf("before its signature, on b: %v", err)
	}
	a.signTag("p/app", signed, k, nil)
	for _, e := range []*env{a, b} {
		if err := e.pull("p/app", signed); err != nil {
			t.Fatalf("signed: %v", err)
		}
		if err := e.pull("p/app", unsigned); !errors.Is(err, registry.ErrDenied) {
			t.Fatalf("unsigned: %v", err)
		}
	}
	ms, _ := b.trust.Materials(ctx, "p")
	if err := b.trust.DeleteMaterial(ctx, "p", ms[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := a.pull("p/app", signed); !errors.Is(err, registry.ErrDenied) {
		t.Fatalf("after the key was removed on b, on a: %v", err)
	}
}
