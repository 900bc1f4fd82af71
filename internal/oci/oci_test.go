package oci

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"library/nginx", true}, {"a/b/c/d", true}, {"my-app_1.0", true},
		{"a__b", true}, {"a---b", true}, {"team-a/app/api", true},
		{"", false}, {"A", false}, {"Library/nginx", false}, {"a/../b", false}, {"..", false},
		{"a/", false}, {"/a", false}, {"a//b", false}, {"-a", false}, {"a-", false},
		{"a___b", false}, {"a..b", false}, {"a b", false}, {"a:b", false},
		{strings.Repeat("a", MaxNameLength), true}, {strings.Repeat("a", MaxNameLength+1), false},
	}
	for _, tc := range tests {
		if got := ValidName(tc.name); got != tc.ok {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestValidTag(t *testing.T) {
	tests := []struct {
		tag string
		ok  bool
	}{
		{"latest", true}, {"v1.0.0", true}, {"_x", true}, {"A-b_c.1", true},
		{"", false}, {".x", false}, {"-x", false}, {"a/b", false}, {"a:b", false},
		{strings.Repeat("t", 128), true}, {strings.Repeat("t", 129), false},
	}
	for _, tc := range tests {
		if got := ValidTag(tc.tag); got != tc.ok {
			t.Errorf("ValidTag(%q) = %v, want %v", tc.tag, got, tc.ok)
		}
	}
}

func TestParseDigest(t *testing.T) {
	good := []string{
		"sha256:" + strings.Repeat("a", 64),
		"sha512:" + strings.Repeat("0", 128),
	}
	for _, s := range good {
		if _, err := ParseDigest(s); err != nil {
			t.Errorf("ParseDigest(%q) = %v", s, err)
		}
	}
	bad := []string{"", "sha256:", "sha256:abc", "sha256:" + strings.Repeat("A", 64), "md5:" + strings.Repeat("a", 32),
		"sha384:" + strings.Repeat("a", 96), "sha256" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("a", 64)}
	for _, s := range bad {
		if _, err := ParseDigest(s); !errors.Is(err, ErrDigestInvalid) {
			t.Errorf("ParseDigest(%q) = %v, want ErrDigestInvalid", s, err)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		header string
		size   int64
		want   ByteRange
		ok     bool
		err    bool
	}{
		{"bytes=0-9", 100, ByteRange{0, 9}, true, false},
		{"bytes=10-", 100, ByteRange{10, 99}, true, false},
		{"bytes=-10", 100, ByteRange{90, 99}, true, false},
		{"bytes=-1000", 100, ByteRange{0, 99}, true, false},
		{"bytes=50-1000", 100, ByteRange{50, 99}, true, false},
		{"bytes=100-", 100, ByteRange{}, true, true},
		{"bytes=-0", 100, ByteRange{}, true, true},
		{"bytes=0-0", 0, ByteRange{}, true, true},
		{"bytes=5-2", 100, ByteRange{}, false, false},
		{"bytes=0-1,5-6", 100, ByteRange{}, false, false},
		{"items=0-1", 100, ByteRange{}, false, false},
		{"bytes=x-1", 100, ByteRange{}, false, false},
		{"bytes=", 100, ByteRange{}, false, false},
	}
	for _, tc := range tests {
		got, ok, err := ParseRange(tc.header, tc.size)
		if ok != tc.ok || (err != nil) != tc.err || (err == nil && got != tc.want) {
			t.Errorf("ParseRange(%q, %d) = %v, %v, %v; want %v, %v, err %v", tc.header, tc.size, got, ok, err, tc.want, tc.ok, tc.err)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		header string
		want   ByteRange
		err    bool
	}{
		{"0-99", ByteRange{0, 99}, false},
		{"bytes=100-199", ByteRange{100, 199}, false},
		{"bytes 100-199/200", ByteRange{100, 199}, false},
		{"5-4", ByteRange{}, true},
		{"-4", ByteRange{}, true},
		{"a-b", ByteRange{}, true},
		{"", ByteRange{}, true},
		{"99999999999999999999-1", ByteRange{}, true},
	}
	for _, tc := range tests {
		got, err := ParseContentRange(tc.header)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseContentRange(%q) = %v, %v", tc.header, got, err)
		}
	}
}

// TestCatalogMatchesSpec checks the error catalog against the spec's list
// of codes and their statuses, plus the Docker Registry API codes Berth
// also sends.
func TestCatalogMatchesSpec(t *testing.T) {
	spec := map[Code]int{
		CodeBlobUnknown: 404, CodeBlobUploadInvalid: 400, CodeBlobUploadUnknown: 404, CodeDigestInvalid: 400,
		CodeManifestBlobUnknown: 400, CodeManifestInvalid: 400, CodeManifestUnknown: 404, CodeNameInvalid: 400,
		CodeNameUnknown: 404, CodeSizeInvalid: 400, CodeUnauthorized: 401, CodeDenied: 403,
		CodeUnsupported: 405, CodeTooManyRequests: 429,
	}
	docker := map[Code]int{CodeTagInvalid: 400}
	for code, status := range docker {
		spec[code] = status
	}
	for code, status := range spec {
		if got := code.Status(); got != status {
			t.Errorf("%s: status %d, want %d", code, got, status)
		}
		if code.Message() == "" {
			t.Errorf("%s has no message", code)
		}
	}
	for _, c := range Codes() {
		if _, ok := spec[c]; !ok && c != CodeUnknown {
			t.Errorf("catalog has %s, which neither the spec nor the Docker Registry API defines", c)
		}
	}
	if (&Error{Code: CodeUnknown}).HTTPStatus() != http.StatusInternalServerError {
		t.Error("UNKNOWN is not a 500")
	}
}
