package auth

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Credentials are what an Authorization header carries.
type Credentials struct {
	Scheme   string // "basic" or "bearer"; "" without a header
	Username string // basic
	Password string // basic
	Token    string // bearer
}

// maxHeader bounds what ParseAuthorization looks at: a JWT of a few
// hundred access entries fits; anything longer is refused unread.
const maxHeader = 64 << 10

// ParseAuthorization parses an Authorization header value (RFC 7617
// Basic, RFC 6750 Bearer; scheme names are case-insensitive). ok is false
// for a header that is present but malformed or of another scheme; an
// empty value gives zero Credentials and ok.
func ParseAuthorization(h string) (c Credentials, ok bool) {
	if h == "" {
		return Credentials{}, true
	}
	if len(h) > maxHeader {
		return Credentials{}, false
	}
	scheme, rest, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found {
		return Credentials{}, false
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return Credentials{}, false
		}
		user, pass, found := strings.Cut(string(raw), ":")
		if !found || user == "" || !utf8.ValidString(user) || hasControl(user) {
			return Credentials{}, false
		}
		return Credentials{Scheme: "basic", Username: user, Password: pass}, true
	case "bearer":
		if rest == "" || strings.ContainsAny(rest, " \t") || hasControl(rest) {
			return Credentials{}, false
		}
		return Credentials{Scheme: "bearer", Token: rest}, true
	}
	return Credentials{}, false
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// quote makes a quoted-string of RFC 9110 (challenge parameters).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		if r >= 0x20 && r != 0x7f {
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// bearerChallenge is a WWW-Authenticate value pointing at the token
// endpoint, as Docker's token authentication specifies; scope and errCode
// are left out when empty.
func bearerChallenge(realm, service, scope, errCode string) string {
	s := "Bearer realm=" + quote(realm) + ",service=" + quote(service)
	if scope != "" {
		s += ",scope=" + quote(scope)
	}
	if errCode != "" {
		s += ",error=" + quote(errCode)
	}
	return s
}

// basicChallenge asks for HTTP Basic credentials.
const basicChallenge = `Basic realm="Berth"`
