package auth

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

func TestRealmAndClientAddr(t *testing.T) {
	s := &Service{cfg: config.Default().Auth, proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name, remote, host string
		tls                bool
		hdr                map[string]string
		realm, client      string
	}{
		{"direct", "192.0.2.1:5555", "reg.example:5000", false, nil, "http://reg.example:5000/token", "192.0.2.1"},
		{"direct tls", "192.0.2.1:5555", "reg.example", true, nil, "https://reg.example/token", "192.0.2.1"},
		{"untrusted forwarded", "192.0.2.1:5555", "reg.example", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.9"},
			"http://reg.example/token", "192.0.2.1"},
		{"trusted proxy", "10.1.2.3:5555", "backend:5000", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "registry.example.com", "X-Forwarded-For": "203.0.113.9, 10.0.0.7"},
			"https://registry.example.com/token", "203.0.113.9"},
		{"trusted proxy, junk host", "10.1.2.3:5555", "backend:5000", false,
			map[string]string{"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": `bad"host`},
			"http://backend:5000/token", "10.1.2.3"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/v2/", nil)
		r.RemoteAddr, r.Host = tc.remote, tc.host
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		if got := s.Realm(r); got != tc.realm {
			t.Errorf("%s: realm %s, want %s", tc.name, got, tc.realm)
		}
		if got := s.ClientAddr(r); got != tc.client {
			t.Errorf("%s: client %s, want %s", tc.name, got, tc.client)
		}
	}
	s.cfg.Token.Realm = "https://auth.example/token"
	if got := s.Realm(httptest.NewRequest("GET", "/v2/", nil)); got != "https://auth.example/token" {
		t.Errorf("configured realm: %s", got)
	}
}
