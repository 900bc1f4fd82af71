package gc_test

import (
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/gc"
)

// FuzzParseRequest: the body of POST /api/v1/gc never panics the parser,
// and whatever it accepts is an empty body or a JSON object.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"", " ", `{"dry_run":true}`, `{"dry_run":false}`, `{"x":1}`, `{} {}`, `[]`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		_, err := gc.ParseRequest(strings.NewReader(body))
		trimmed := strings.TrimSpace(body)
		if err == nil && trimmed != "" && !strings.HasPrefix(trimmed, "{") && trimmed != "null" {
			t.Fatalf("accepted %q", body)
		}
	})
}
