package testproc

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHTTPReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		path string
		want int
		ok   bool
	}{
		{"/up", http.StatusOK, true},
		{"/down", http.StatusOK, false},
		{"/down", 0, true}, // any answer will do
	} {
		if err := HTTPReady(srv.URL+c.path, c.want)(); (err == nil) != c.ok {
			t.Errorf("GET %s, want %d: %v", c.path, c.want, err)
		}
	}
	srv.Close()
	if err := HTTPReady(srv.URL+"/up", 0)(); err == nil {
		t.Error("a closed server counts as ready")
	}
}
