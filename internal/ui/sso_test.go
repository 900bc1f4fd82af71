package ui

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/auth/oidc"
)

func TestDecodeSSOState(t *testing.T) {
	enc := func(st ssoState) string {
		b, _ := json.Marshal(st)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	good := ssoState{Flow: oidc.Flow{State: "s", Nonce: "n", Verifier: "v"}, Next: "/ui/user"}
	tests := []struct {
		name, in string
		want     ssoState
		ok       bool
	}{
		{"good", enc(good), good, true},
		{"next elsewhere is made local", enc(ssoState{Flow: good.Flow, Next: "//evil.example.com"}), ssoState{Flow: good.Flow, Next: "/ui/"}, true},
		{"not base64", "!!", ssoState{}, false},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("{")), ssoState{}, false},
		{"too long", strings.Repeat("A", maxSSOCookie+1), ssoState{}, false},
	}
	for _, tc := range tests {
		got, err := decodeSSOState(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: %+v, %v", tc.name, got, err)
		}
	}
}

func FuzzDecodeSSOState(f *testing.F) {
	b, _ := json.Marshal(ssoState{Flow: oidc.Flow{State: "s", Nonce: "n", Verifier: "v"}, Next: "/ui/x"})
	f.Add(base64.RawURLEncoding.EncodeToString(b))
	f.Add("e30")
	f.Fuzz(func(t *testing.T, v string) {
		st, err := decodeSSOState(v)
		if err != nil {
			return
		}
		if localPath(st.Next) != st.Next {
			t.Fatalf("next %q is not a local path", st.Next)
		}
	})
}
