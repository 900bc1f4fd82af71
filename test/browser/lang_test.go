package browser

import (
	"strings"
	"testing"
)

// TestLanguageSwitch: the switch in the header turns the page into
// Chinese on the same page, the choice is remembered on other pages
// (cookie), and switching back brings the English strings back.
func TestLanguageSwitch(t *testing.T) {
	srv := startServer(t)
	b := newTab(t, srv, "light")
	b.login("admin", adminPassword)
	b.open("/ui/projects")
	if got := b.lang(); got != "en" {
		t.Fatalf("a browser asking for en-US gets lang %q", got)
	}
	const (
		heading = "main h1"
		nav     = `header nav a[href="/ui/projects"]`
		logout  = `form[action="/ui/logout"] button`
		langBtn = `form[action="/ui/lang"] button[type=submit]`
	)
	en := map[string]string{heading: b.text(heading), nav: b.text(nav), logout: b.text(logout), "title": eval[string](b, "document.title")}

	b.click(langBtn)
	if got := b.lang(); got != "zh-CN" {
		t.Fatalf("after the switch lang is %q, want zh-CN", got)
	}
	if got := b.path(); got != "/ui/projects" {
		t.Errorf("the switch went to %s, want to stay on /ui/projects", got)
	}
	zh := map[string]string{heading: b.text(heading), nav: b.text(nav), logout: b.text(logout), "title": eval[string](b, "document.title")}
	for k, s := range zh {
		if s == en[k] {
			t.Errorf("%s: %q in both languages", k, s)
		}
		if !hasHan(s) {
			t.Errorf("%s: %q has no Chinese characters", k, s)
		}
	}
	b.shot("projects")

	// Remembered on the next page, also the log-in page of a new session.
	b.open("/ui/")
	if got := b.lang(); got != "zh-CN" {
		t.Errorf("on the next page lang is %q, want zh-CN (remembered)", got)
	}
	b.shot("home")

	b.open("/ui/projects")
	b.click(langBtn)
	if got := b.lang(); got != "en" {
		t.Fatalf("after switching back lang is %q, want en", got)
	}
	for k, want := range en {
		var got string
		if k == "title" {
			got = eval[string](b, "document.title")
		} else {
			got = b.text(k)
		}
		if got != want {
			t.Errorf("%s after switching back: %q, want %q", k, got, want)
		}
	}
}

// hasHan says whether s has a CJK ideograph.
func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) >= 0
}
