package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Realm is the token endpoint's URL for a request: auth.token.realm, or
// the scheme and host the client used, plus TokenPath. X-Forwarded-Proto
// and X-Forwarded-Host are believed only from a trusted proxy
// (http.trusted_proxies), so a client cannot send others' tokens to a
// host of its choosing.
func (s *Service) Realm(r *http.Request) string {
	if s.cfg.Token.Realm != "" {
		return s.cfg.Token.Realm
	}
	return s.requestBase(r) + TokenPath
}

// SSORedirectURL is the callback URL of single sign-on for a request:
// auth.oidc.redirect_url, or built like Realm from the scheme and host the
// client used (behind a proxy, set it: the provider compares it with the
// URL registered there).
func (s *Service) SSORedirectURL(r *http.Request) string {
	if s.cfg.OIDC.RedirectURL != "" {
		return s.cfg.OIDC.RedirectURL
	}
	return s.requestBase(r) + SSOCallbackPath
}

// SSOCallbackPath is where the OIDC provider sends the browser back.
const SSOCallbackPath = "/ui/oidc/callback"

// requestBase is scheme://host as the client reached Berth.
func (s *Service) requestBase(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.fromTrustedProxy(r) {
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host
}

func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// validHost accepts host or host:port made of URL-safe characters.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]_", c) >= 0) {
			return false
		}
	}
	return true
}

func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (s *Service) isTrustedProxy(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Service) fromTrustedProxy(r *http.Request) bool {
	a, ok := peerAddr(r)
	return ok && s.isTrustedProxy(a)
}

// ClientAddr is the client's address for rate limiting and logs: the
// peer, or, behind trusted proxies, the last address in X-Forwarded-For
// that is not a trusted proxy.
func (s *Service) ClientAddr(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if !s.isTrustedProxy(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.isTrustedProxy(a) {
			return a.String()
		}
	}
	return peer.String()
}
