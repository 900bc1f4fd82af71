package ui

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestLocalizer(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	en, zh := cats.localizer("en", now), cats.localizer("zh-CN", now)
	tests := []struct {
		name, got, want string
	}{
		{"en number", en.Num(1234567), "1,234,567"},
		{"zh number", zh.Num(1234567), "1,234,567"},
		{"en bytes", en.Size(512), "512 B"},
		{"zh bytes", zh.Size(512), "512 字节"},
		{"KiB", en.Size(1536), "1.5 KiB"},
		{"GiB", en.Size(3 << 30), "3.0 GiB"},
		{"en date", en.Date(now), "Mar 4, 2026 12:00 UTC"},
		{"zh date", zh.Date(now), "2026年3月4日 12:00 UTC"},
		{"en ago", en.Ago(now.Add(-3 * time.Hour)), "3 h ago"},
		{"zh ago", zh.Ago(now.Add(-3 * time.Hour)), "3 小时前"},
		{"zh never", zh.Date(time.Time{}), "从未"},
		{"percent", en.Percent(1, 4), "25%"},
		{"missing key", en.T("no.such.key"), "no.such.key"},
		{"other language", zh.Other(), "en"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestPickLang(t *testing.T) {
	tests := []struct {
		accept, cookie, want string
	}{
		{"", "", "en"},
		{"zh-CN,zh;q=0.9", "", "zh-CN"},
		{"zh", "", "zh-CN"},
		{"zh-Hans-CN", "", "zh-CN"},
		{"fr-FR,en;q=0.5", "", "en"},
		{"de", "", "en"},
		{"zh-CN", "en", "en"},
		{"en", "zh-CN", "zh-CN"},
		{"en", "xx", "en"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/ui/", nil)
		r.Header.Set("Accept-Language", tc.accept)
		if tc.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+tc.cookie)
		}
		if got := pickLang(r); got != tc.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", tc.accept, tc.cookie, got, tc.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/projects?x=1":   "/ui/projects?x=1",
		"":                   "/ui/",
		"//evil.example/":    "/ui/",
		"/\\evil.example":    "/ui/",
		"https://evil/":      "/ui/",
		"/ui/\r\nSet-Cookie": "/ui/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
