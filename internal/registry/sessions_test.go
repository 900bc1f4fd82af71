package registry

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestUploadSessionCaps (issue #13, finding 10): open sessions are capped
// per client and per repository; ending one frees its place; a session no
// request wrote to expires after EmptyUploadTTL (in memory or in the
// store), one that was written to stays.
func TestUploadSessionCaps(t *testing.T) {
	for _, single := range []bool{true, false} {
		t.Run(map[bool]string{true: "single instance", false: "leased"}[single], func(t *testing.T) {
			st, blobs, _ := testStores(t)
			const ttl = 300 * time.Millisecond
			svc := New(st, blobs, Options{SingleInstance: single, DeleteEnabled: true,
				MaxUploadsPerRepository: 3, MaxUploadsPerClient: 2, EmptyUploadTTL: ttl}, slog.New(slog.DiscardHandler))
			c1, c2, c3 := WithClient(ctx, "address 10.0.0.1"), WithClient(ctx, "address 10.0.0.2"), WithClient(ctx, "user bob")
			start := func(cctx context.Context, repo string, wantErr bool) Upload {
				t.Helper()
				u, err := svc.StartUpload(cctx, repo, "")
				if wantErr {
					if !errors.Is(err, ErrTooManyUploads) || !strings.Contains(err.Error(), "upload_sessions_per_") {
						t.Fatalf("StartUpload past a cap: %v, want ErrTooManyUploads", err)
					}
					return u
				}
				if err != nil {
					t.Fatalf("StartUpload: %v", err)
				}
				return u
			}
			a1 := start(c1, "team/app", false)
			a2 := start(c1, "team/app", false)
			start(c1, "team/other", true) // client cap: 2
			b1 := start(c2, "team/app", false)
			start(c3, "team/app", true) // repository cap: 3
			if err := svc.CancelUpload(ctx, "team/app", a1.ID); err != nil {
				t.Fatal(err)
			}
			a3 := start(c1, "team/app", false) // a place was freed
			if _, err := svc.WriteUpload(ctx, "team/app", a2.ID, -1, 1, strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(ttl + 100*time.Millisecond)
			start(c3, "team/third", false) // sweeps
			deadline := time.Now().Add(5 * time.Second)
			for _, u := range []Upload{b1, a3} {
				for {
					_, err := svc.UploadStatus(ctx, "team/app", u.ID)
					if errors.Is(err, ErrUploadUnknown) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("unused session %s still there: %v", u.ID, err)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if got, err := svc.UploadStatus(ctx, "team/app", a2.ID); err != nil || got.Size != 1 {
				t.Fatalf("the session written to: %+v, %v", got, err)
			}
			// c1 holds a2 only now: one more, then the cap.
			start(c1, "team/app", false)
			start(c1, "team/app", true)
		})
	}
}
