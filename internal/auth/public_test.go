package auth

import (
	"testing"
	"time"
)

func TestPublicCache(t *testing.T) {
	var c publicCache
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	c.put("pub", true, t0)
	c.put("priv", false, t0)
	tests := []struct {
		name     string
		project  string
		at       time.Duration
		public   bool
		remember bool
	}{
		{"public, fresh", "pub", 0, true, true},
		{"private, fresh", "priv", publicTTL / 2, false, true},
		{"expired", "pub", publicTTL, false, false},
		{"clock went back", "pub", -time.Second, false, false},
		{"unknown", "other", 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			public, ok := c.get(tc.project, t0.Add(tc.at))
			if public != tc.public || ok != tc.remember {
				t.Fatalf("get = %v, %v; want %v, %v", public, ok, tc.public, tc.remember)
			}
		})
	}
	c.clear()
	if _, ok := c.get("pub", t0); ok {
		t.Fatal("remembered after clear")
	}
}
