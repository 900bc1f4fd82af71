package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/freeport"
)

func TestCommands(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(good, []byte("version: 1\nhttp:\n  addr: 127.0.0.1:5000\n"), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nhttp:\n  address: x\n"), 0o644)
	tests := []struct {
		args    []string
		out     string
		wantErr string
	}{
		{[]string{"version"}, "berth ", ""},
		{[]string{"config", "check", good}, "ok", ""},
		{[]string{"config", "check", bad}, "", "address"},
		{[]string{"config"}, "", "usage"},
		{[]string{"frobnicate"}, "", "unknown command"},
		{[]string{"serve", "--nope"}, "", "not defined"},
		{[]string{"serve", "--config", bad}, "", "address"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		err := run(context.Background(), tc.args, nil, &out, &errb)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out.String(), tc.out) {
			t.Errorf("%v: %q, %v", tc.args, out.String(), err)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// syncBuf collects the server's log output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startServe runs `berth serve` in the background and waits until /v2/ answers.
func startServe(t *testing.T, ctx context.Context, client *http.Client, base string, args ...string) (<-chan error, *syncBuf) {
	t.Helper()
	logs := &syncBuf{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), []string{"BERTH_LOG_LEVEL=info"}, io.Discard, logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(base + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return done, logs
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("server did not become ready\n%s", logs)
	return nil, nil
}

// TestGracefulShutdown: a request in flight when the signal comes still
// completes, then serve returns cleanly.
func TestGracefulShutdown(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := "http://" + addr
	done, logs := startServe(t, ctx, http.DefaultClient, base, "--addr", addr, "--data", t.TempDir())

	resp, err := http.Post(base+"/v2/slow/blobs/uploads/", "", nil)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("start upload: %v %v", resp, err)
	}
	loc := resp.Header.Get("Location")
	pr, pw := io.Pipe()
	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PATCH", base+loc, pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	pw.Write(bytes.Repeat([]byte("x"), 1<<16))
	time.Sleep(100 * time.Millisecond)
	cancel() // as SIGTERM would
	time.Sleep(100 * time.Millisecond)
	pw.Write(bytes.Repeat([]byte("y"), 1<<16))
	pw.Close()
	if code := <-result; code != http.StatusAccepted {
		t.Fatalf("in-flight PATCH got %d during shutdown\n%s", code, logs)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
	if _, err := http.Get(base + "/v2/"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, certFile, keyFile)
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "berth.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("version: 1\nhttp:\n  addr: %s\n  tls:\n    certificate: %s\n    key: %s\n", addr, certFile, keyFile)), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	done, _ := startServe(t, ctx, client, "https://"+addr, "--config", cfg, "--data", filepath.Join(dir, "data"))

	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + addr + "/v2/"); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	if _, err := http.Get("http://" + addr + "/v2/"); err == nil {
		// Go's TLS server answers plain HTTP with a 400, which is fine; a
		// 200 would mean TLS is off.
		if resp, _ := http.Get("http://" + addr + "/v2/"); resp != nil && resp.StatusCode == 200 {
			t.Error("plain HTTP served with TLS configured")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--data", dir}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sqlite database: migrations applied") {
		t.Fatalf("output %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "berth.db")); err != nil {
		t.Fatal(err)
	}
}

// Issue 13, info item: beyond loopback, an unset auth.token.realm (the
// realm then follows the Host header) is warned about.
func TestWarnExposed(t *testing.T) {
	public := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5000}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	for _, tc := range []struct {
		name  string
		addr  net.Addr
		edit  func(*config.Config)
		warns string
	}{
		{"auth off, public", public, nil, "ACCESS CONTROL IS OFF"},
		{"auth off, loopback", local, nil, ""},
		{"no realm, public", public, func(c *config.Config) { c.Auth.Mode = "builtin" }, "auth.token.realm is not set"},
		{"no realm, loopback", local, func(c *config.Config) { c.Auth.Mode = "builtin" }, ""},
		{"realm, public", public, func(c *config.Config) {
			c.Auth.Mode, c.Auth.Token.Realm = "builtin", "https://registry.example.com/token"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load("", nil, config.Overrides{Data: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(cfg)
			}
			var logs bytes.Buffer
			warnExposed(cfg, tc.addr, slog.New(slog.NewTextHandler(&logs, nil)))
			if got := logs.String(); tc.warns == "" && got != "" || !strings.Contains(got, tc.warns) {
				t.Errorf("logged %q, want %q", got, tc.warns)
			}
		})
	}
}
