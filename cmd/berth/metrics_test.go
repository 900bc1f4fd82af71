package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeMetricsListener: with metrics.addr, berth serve answers
// /metrics there (with metrics.token) and not on the API address.
func TestServeMetricsListener(t *testing.T) {
	addr, maddr := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "berth.yaml")
	const token = "scrape-token-0123456789"
	if err := os.WriteFile(cfg, []byte("version: 1\nmetrics:\n  addr: "+maddr+"\n  token: "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, logs := startServe(t, ctx, http.DefaultClient, "http://"+addr, "--config", cfg, "--addr", addr, "--data", t.TempDir())
	get := func(url, authz string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, logs)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := get("http://"+addr+"/metrics", "Bearer "+token); st != http.StatusNotFound {
		t.Errorf("/metrics on the API address: %d, want 404", st)
	}
	if st, _ := get("http://"+maddr+"/metrics", ""); st != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", st)
	}
	if st, body := get("http://"+maddr+"/metrics", "Bearer "+token); st != http.StatusOK || !strings.Contains(body, "berth_blobs_stored") {
		t.Errorf("/metrics on metrics.addr: %d", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
