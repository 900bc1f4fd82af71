package app_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
)

// slowRequest sends a request's head, then its body a piece every gap,
// and returns the response status (0 if the connection closed without
// one) and how long after the head it came. The body is sent while the
// response is read, as a client that streams its body would.
func slowRequest(t *testing.T, base, head string, body []byte, piece int, gap time.Duration) (int, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // bounds the test
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() {
		for off := 0; off < len(body); off += piece {
			time.Sleep(gap)
			if _, err := conn.Write(body[off:min(off+piece, len(body))]); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, time.Since(start)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestBodyIdleTimeout (issue #13, finding 5): a body that stops moving is
// cut off after http.body_idle_timeout; one that keeps moving, however
// slowly and for however long, completes; the token endpoint's body too.
func TestBodyIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	srv := apptest.Start(t, func(c *config.Config) { c.HTTP.BodyIdleTimeout = idle })
	body := []byte(strings.Repeat("0123456789", 20))
	head := func(path string, n int) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, n)
	}
	tests := []struct {
		name  string
		piece int
		gap   time.Duration
		want  func(status int, took time.Duration) bool
	}{
		// A byte every 1.5 idle periods: cut off at the first gap.
		{"stalled", 1, 3 * idle / 2, func(s int, took time.Duration) bool { return s != http.StatusCreated && took < 4*idle }},
		// 10 bytes every idle/5 for 4 idle periods: it keeps moving.
		{"slow but moving", 10, idle / 5, func(s int, took time.Duration) bool { return s == http.StatusCreated && took > 3*idle }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, took := slowRequest(t, srv.URL, head("/v2/slow/blobs/uploads/?digest="+sha(body), len(body)), body, tc.piece, tc.gap)
			if !tc.want(status, took) {
				t.Fatalf("status %d after %v", status, took)
			}
		})
	}
	t.Run("token body", func(t *testing.T) {
		srv := startAuth(t, func(c *config.Config) { c.HTTP.BodyIdleTimeout = idle })
		form := []byte("grant_type=password&service=berth&username=admin&password=" + adminPassword)
		status, took := slowRequest(t, srv.URL, head("/token", len(form)), form, 1, 3*idle/2)
		if status == http.StatusOK || took > 4*idle {
			t.Fatalf("a stalled POST /token body: status %d after %v", status, took)
		}
	})
}

// TestUnauthenticatedBodyRefused (issue #13, finding 5): where access
// control requires credentials, a request without them is answered 401
// before its body is read, and the connection is closed at once: a slow
// body cannot hold it (the idle timeout is long here on purpose).
func TestUnauthenticatedBodyRefused(t *testing.T) {
	srv := startAuth(t, func(c *config.Config) { c.HTTP.BodyIdleTimeout = time.Hour })
	for _, path := range []string{"/v2/team/app/blobs/uploads/", "/api/v1/projects"} {
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx", path)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
				t.Fatalf("status %d, Connection: %q; want 401 and close", resp.StatusCode, resp.Header.Get("Connection"))
			}
			// The server closes its end without waiting for the body.
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the 401: %v, want EOF", err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("the connection stayed open %v", took)
			}
		})
	}
}
