package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

func TestHealthURL(t *testing.T) {
	tests := []struct {
		addr string
		tls  bool
		want string
	}{
		{":5000", false, "http://127.0.0.1:5000/healthz"},
		{"0.0.0.0:5000", false, "http://127.0.0.1:5000/healthz"},
		{"[::]:5000", false, "http://[::1]:5000/healthz"},
		{"127.0.0.1:5001", false, "http://127.0.0.1:5001/healthz"},
		{"registry.internal:443", true, "https://registry.internal:443/healthz"},
	}
	for _, tc := range tests {
		h := config.HTTP{Addr: tc.addr}
		if tc.tls {
			h.TLS = config.TLS{Certificate: "c.pem", Key: "k.pem"}
		}
		got, err := healthURL(h)
		if err != nil || got != tc.want {
			t.Errorf("healthURL(%q, tls %v) = %q, %v; want %q", tc.addr, tc.tls, got, err, tc.want)
		}
	}
	if _, err := healthURL(config.HTTP{Addr: "5000"}); err == nil {
		t.Error("healthURL(5000): no error for an address without a port")
	}
}

func TestHealthcheck(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusServiceUnavailable) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	plain := httptest.NewServer(mux)
	defer plain.Close()
	secure := httptest.NewTLSServer(mux)
	defer secure.Close()
	closed := httptest.NewServer(mux)
	closed.Close()

	// The pair only turns https on in the configuration; the healthcheck
	// reads neither file.
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, cert, key)
	cfgFile := filepath.Join(dir, "berth.yaml")
	os.WriteFile(cfgFile, []byte("version: 1\nhttp:\n  addr: "+strings.TrimPrefix(plain.URL, "http://")+"\n"), 0o644)

	tests := []struct {
		name    string
		args    []string
		env     []string
		wantErr string // "" for exit 0
	}{
		{"url", []string{"--url", plain.URL + "/healthz"}, nil, ""},
		{"unhealthy", []string{"--url", plain.URL + "/down"}, nil, "503"},
		{"timeout", []string{"--url", plain.URL + "/slow", "--timeout", "200ms"}, nil, "deadline exceeded"},
		{"refused", []string{"--url", closed.URL + "/healthz"}, nil, "refused"},
		{"verifies-explicit-https", []string{"--url", secure.URL + "/healthz"}, nil, "certificate"},
		{"insecure", []string{"--url", secure.URL + "/healthz", "--insecure"}, nil, ""},
		{"from-env", nil, []string{"BERTH_HTTP_ADDR=" + strings.TrimPrefix(plain.URL, "http://")}, ""},
		{"from-env-tls", nil, []string{"BERTH_HTTP_ADDR=" + strings.TrimPrefix(secure.URL, "https://"),
			"BERTH_HTTP_TLS_CERTIFICATE=" + cert, "BERTH_HTTP_TLS_KEY=" + key}, ""},
		{"from-env-down", nil, []string{"BERTH_HTTP_ADDR=" + strings.TrimPrefix(closed.URL, "http://")}, "refused"},
		{"from-config", []string{"--config", cfgFile}, nil, ""},
		{"from-BERTH_CONFIG", nil, []string{"BERTH_CONFIG=" + cfgFile}, ""},
		{"bad-config", nil, []string{"BERTH_NO_SUCH_KEY=1"}, "names no configuration key"},
		{"extra-argument", []string{"now"}, nil, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			start := time.Now()
			err := run(context.Background(), append([]string{"healthcheck"}, tc.args...), tc.env, &out, &errb)
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if tc.wantErr == "" {
				if err != nil || !strings.Contains(out.String(), "200 OK") {
					t.Fatalf("err = %v, stdout %q, stderr %q", err, out.String(), errb.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
