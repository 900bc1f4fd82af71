package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

// TestPostThenPutUnderLoad: an upload session is usable by the very next
// request, with several clients pushing at once.
func TestPostThenPutUnderLoad(t *testing.T) {
	s := apptest.Start(t, nil)
	client := &http.Client{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				repo := fmt.Sprintf("load/app%d", w)
				body := []byte(fmt.Sprintf("blob %d %d", w, i))
				dgst := digest.FromBytes(body)
				head, err := client.Head(s.URL + "/v2/" + repo + "/blobs/" + dgst.String())
				if err != nil || head.StatusCode != 404 {
					t.Errorf("HEAD: %v %v", head, err)
					return
				}
				head.Body.Close()
				resp, err := client.Post(s.URL+"/v2/"+repo+"/blobs/uploads/", "", nil)
				if err != nil || resp.StatusCode != 202 {
					t.Errorf("POST: %v %v", resp, err)
					return
				}
				resp.Body.Close()
				req, _ := http.NewRequest("PUT", s.URL+resp.Header.Get("Location")+"?digest="+dgst.String(), bytes.NewReader(body))
				resp, err = client.Do(req)
				if err != nil || resp.StatusCode != 201 {
					t.Errorf("PUT after POST: %v %v", resp.Status, err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// TestUploadBusyOnAnotherInstance: while a chunk streams into one instance,
// a request for the same session on another instance (sharing the stores)
// gets 416 BLOB_UPLOAD_INVALID with the session's Range and Location, and
// continues it once the first is done.
func TestUploadBusyOnAnotherInstance(t *testing.T) {
	// Two instances sharing PostgreSQL and one blob directory.
	dsn := pgtest.Start(t)
	s1 := apptest.Start(t, func(c *config.Config) {
		c.Database.Driver, c.Database.Postgres.DSN = "postgres", dsn
	})
	s2 := apptest.Start(t, func(c *config.Config) {
		c.Database.Driver, c.Database.Postgres.DSN = "postgres", dsn
		c.Storage.Filesystem.Root = s1.Config.Storage.Filesystem.Root
	})
	send := func(srv *apptest.Server, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, _ := send(s1, "POST", "/v2/busy/app/blobs/uploads/", nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || !strings.HasPrefix(loc, "/v2/busy/app/blobs/uploads/") {
		t.Fatalf("POST: %s, Location %q", resp.Status, loc)
	}
	if resp, _ := send(s1, "PATCH", loc, strings.NewReader("0123456789"), "Content-Range", "0-9"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first chunk: %s", resp.Status)
	}

	pr, pw := io.Pipe()
	streamed := make(chan *http.Response, 1)
	go func() {
		resp, _ := send(s1, "PATCH", loc, pr)
		streamed <- resp
	}()
	pw.Write([]byte("streaming"))
	// Wait until the streaming request holds the session's lease: a probe
	// sent before could take it first, and the stream would then rightly be
	// refused as busy. No probe has run yet, so the lease is the stream's.
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	id := loc[strings.LastIndex(loc, "/")+1:]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var leased bool
		if err := db.QueryRow(context.Background(), "SELECT lease_owner <> '' FROM uploads WHERE id = $1", id).Scan(&leased); err != nil {
			t.Fatal(err)
		}
		if leased {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the streaming request never took the session's lease")
		}
	}
	// Probe with a chunk at a wrong offset: harmless if it gets the lease.
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(body, "being written by another request") {
		if time.Now().After(deadline) {
			t.Fatalf("the other instance never reported the session busy; last answer %s %s", resp.Status, body)
		}
		resp, body = send(s2, "PATCH", loc, strings.NewReader("x"), "Content-Range", "100-100")
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("probe: %s %s", resp.Status, body)
		}
	}
	if !strings.Contains(body, `"BLOB_UPLOAD_INVALID"`) || resp.Header.Get("Range") != "0-9" || resp.Header.Get("Location") != loc {
		t.Fatalf("busy answer: Range %q, Location %q, body %s", resp.Header.Get("Range"), resp.Header.Get("Location"), body)
	}
	pw.Close()
	if resp := <-streamed; resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-18" {
		t.Fatalf("streamed chunk: %s, Range %q", resp.Status, resp.Header.Get("Range"))
	}
	dgst := digest.FromString("0123456789streaming!")
	if resp, body := send(s2, "PUT", loc+"?digest="+dgst.String(), strings.NewReader("!"), "Content-Range", "19-19"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT on the other instance: %s %s", resp.Status, body)
	}
}

// TestUploadWithLostBytes: when the bytes a session counts are gone (a
// crash lost unsynced chunks), the next chunk gets BLOB_UPLOAD_UNKNOWN so
// the client starts over, not a server error.
func TestUploadWithLostBytes(t *testing.T) {
	s := apptest.Start(t, nil)
	resp, err := http.Post(s.URL+"/v2/lost/blobs/uploads/", "", nil)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("POST: %v %v", resp, err)
	}
	loc := resp.Header.Get("Location")
	patch := func(body, rng string) *http.Response {
		req, _ := http.NewRequest("PATCH", s.URL+loc, strings.NewReader(body))
		req.Header.Set("Content-Range", rng)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := patch("0123456789", "0-9"); resp.StatusCode != 202 {
		t.Fatalf("first chunk: %s", resp.Status)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	if err := os.Truncate(filepath.Join(s.Config.Storage.Filesystem.Root, "uploads", id), 4); err != nil {
		t.Fatal(err)
	}
	if resp := patch("abc", "10-12"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("chunk after lost bytes: %s, want 404 BLOB_UPLOAD_UNKNOWN", resp.Status)
	}
	if resp := patch("abc", "10-12"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("session still there: %s", resp.Status)
	}
}
