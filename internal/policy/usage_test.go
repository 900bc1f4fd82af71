package policy

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

func TestRecentUsage(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := New(store, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Now()
	e.now = func() time.Time { return now }
	put := func(s string) {
		if err := store.PutBlob(ctx, "p/r", meta.Blob{Digest: digest.FromString(s), Size: int64(len(s))}); err != nil {
			t.Fatal(err)
		}
	}
	put("12345")
	u, err := e.RecentUsage(ctx, "p", time.Minute)
	if err != nil || u.StorageBytes != 5 {
		t.Fatalf("first: %+v, %v", u, err)
	}
	put("1234567890")
	if u, _ := e.RecentUsage(ctx, "p", time.Minute); u.StorageBytes != 5 {
		t.Fatalf("within a minute the remembered usage is shown: %+v", u)
	}
	now = now.Add(61 * time.Second)
	if u, _ := e.RecentUsage(ctx, "p", time.Minute); u.StorageBytes != 15 {
		t.Fatalf("after a minute the usage is computed again: %+v", u)
	}
}
