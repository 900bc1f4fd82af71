package browser

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// page is one page of the screenshot walk.
type pageCase struct {
	name string
	path string
	// pending pages are being built on other branches: a 404 is noted,
	// not a failure, until they land.
	pending bool
}

// TestPagesLightDark walks the main pages as the admin in light and dark
// mode (emulated prefers-color-scheme), in English and in Chinese, saves a
// screenshot of each, and checks what a person would notice: the page
// answers 200, the language is the one chosen, text is readable against
// its background (contrast of every visible text element at least 3:1,
// the body's at least 7:1), dark mode is dark, and nothing is wider than
// the window.
func TestPagesLightDark(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo","public":true}`, 201)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"internal"}`, 201)
	app := srv.pushRandom(t, "demo/app", "1.0", 3)
	srv.pushRandom(t, "demo/app", "1.1", 2)
	srv.pushRandom(t, "demo/app", "latest", 2)
	srv.pushRandom(t, "demo/tools", "v1", 1)
	srv.pushRandom(t, "internal/base", "bookworm", 1)

	pages := []pageCase{
		{name: "home", path: "/ui/"},
		{name: "search", path: "/ui/search?q=app"},
		{name: "projects", path: "/ui/projects"},
		{name: "project", path: "/ui/projects/demo"},
		{name: "repository", path: "/ui/repositories/demo/app"},
		{name: "artifact", path: "/ui/repositories/demo/app@" + app.String()},
		{name: "not-found", path: "/ui/projects/no-such-project"},
		{name: "members", path: "/ui/projects/demo/members"},
		{name: "robots", path: "/ui/projects/demo/robots"},
		{name: "policies", path: "/ui/projects/demo/policies"},
		{name: "user", path: "/ui/user"},
		{name: "admin-system", path: "/ui/admin"},
		{name: "admin-users", path: "/ui/admin/users"},
		{name: "admin-gc", path: "/ui/admin/gc"},
		{name: "admin-scrub", path: "/ui/admin/scrub"},
		{name: "admin-proxy", path: "/ui/admin/proxy"},
		{name: "admin-audit", path: "/ui/admin/audit"},
		{name: "admin-anomalies", path: "/ui/admin/anomalies"},
		{name: "admin-keys", path: "/ui/admin/keys"},
	}
	for _, theme := range []string{"light", "dark"} {
		for _, lang := range []string{"en", "zh-CN"} {
			t.Run(theme+"-"+lang, func(t *testing.T) {
				b := newTab(t, srv, theme)
				b.open("/ui/login")
				if lang != b.lang() {
					b.click(`form[action="/ui/lang"] button[type=submit]`)
				}
				checkPage(t, b, "login", lang)
				b.shot("login")
				b.login("admin", adminPassword)
				for _, p := range pages {
					st := b.open(p.path)
					want := int64(200)
					if p.name == "not-found" {
						want = 404
					}
					if st == 404 && p.pending {
						t.Logf("%s (%s): not built yet (404)", p.name, p.path)
						continue
					}
					if st != want {
						t.Errorf("%s (%s): status %d, want %d", p.name, p.path, st, want)
						continue
					}
					checkPage(t, b, p.name, lang)
					b.shot(p.name)
					// The 404 page's own load is logged as a failed resource.
					var allowed []string
					if p.name == "not-found" {
						allowed = append(allowed, p.path)
					}
					if errs := b.consoleErrors(allowed...); len(errs) > 0 {
						t.Errorf("%s: errors in the browser's console:\n  %s", p.name, strings.Join(errs, "\n  "))
					}
				}
			})
		}
	}
}

// checkPage checks the language, readability and width of the page shown.
func checkPage(t *testing.T, b *tab, name, lang string) {
	t.Helper()
	if got := b.lang(); got != lang {
		t.Errorf("%s: lang %q, want %q", name, got, lang)
	}
	r := eval[readability](b, readabilityJS)
	if r.Overflow > 0 {
		t.Errorf("%s (%s): the page is %d px wider than the window", name, b.theme, r.Overflow)
	}
	if r.BodyContrast < 7 {
		t.Errorf("%s (%s): body text contrast %.1f:1, want at least 7:1", name, b.theme, r.BodyContrast)
	}
	if b.theme == "dark" && r.BodyBgLuminance > 0.1 {
		t.Errorf("%s: dark mode background luminance %.2f: not dark", name, r.BodyBgLuminance)
	}
	if b.theme == "light" && r.BodyBgLuminance < 0.6 {
		t.Errorf("%s: light mode background luminance %.2f: not light", name, r.BodyBgLuminance)
	}
	if len(r.Poor) > 0 {
		t.Errorf("%s (%s): text hard to read (contrast under 3:1):\n  %s", name, b.theme, strings.Join(r.Poor, "\n  "))
	}
}

// readability is what readabilityJS measures.
type readability struct {
	Overflow        int      `json:"overflow"`
	BodyContrast    float64  `json:"bodyContrast"`
	BodyBgLuminance float64  `json:"bodyBgLuminance"`
	Poor            []string `json:"poor"`
}

// readabilityJS measures the WCAG contrast of every visible element with
// text of its own against the background it is drawn on (the first
// ancestor with an opaque background), and how far the page overflows
// the window sideways.
var readabilityJS = fmt.Sprintf(`(() => {
  const parse = c => { const m = c.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
  const lum = ({r, g, b}) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const bg = el => { for (; el; el = el.parentElement) { const c = parse(getComputedStyle(el).backgroundColor); if (c.a > 0.5) return c; } return parse(getComputedStyle(document.documentElement).backgroundColor || "rgb(255,255,255)"); };
  const poor = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
    if (!own || el.closest("meter,script,style,option")) continue;
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || s.visibility === "hidden" || s.display === "none") continue;
    const k = ratio(parse(s.color), bg(el));
    if (k < 3) poor.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " " + JSON.stringify(el.textContent.trim().slice(0, 30)) + " " + k.toFixed(2) + ":1");
  }
  const bs = getComputedStyle(document.body);
  return {
    overflow: Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth),
    bodyContrast: ratio(parse(bs.color), bg(document.body)),
    bodyBgLuminance: lum(bg(document.body)),
    poor: poor.slice(0, %d),
  };
})()`, 10)

// TestPhoneWidth: at a phone's width (390 CSS px, mobile emulation) the
// pages that people open on a phone fit the screen: nothing sticks out
// sideways, so no button is out of reach (wide tables scroll inside
// their own box), and the artifact page's heading stays a heading.
func TestPhoneWidth(t *testing.T) {
	srv := startServer(t)
	srv.api(t, "POST", "/api/v1/projects", `{"name":"demo","public":true}`, 201)
	app := srv.pushRandom(t, "demo/app", "1.0", 2)
	b := newTab(t, srv, "light")
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open("/ui/login")
	checkWidth(t, b, "login")
	b.login("admin", adminPassword)
	for _, p := range []pageCase{
		{name: "home", path: "/ui/"},
		{name: "search", path: "/ui/search?q=app"},
		{name: "projects", path: "/ui/projects"},
		{name: "project", path: "/ui/projects/demo"},
		{name: "repository", path: "/ui/repositories/demo/app"},
		{name: "artifact", path: "/ui/repositories/demo/app@" + app.String()},
		{name: "members", path: "/ui/projects/demo/members"},
		{name: "robots", path: "/ui/projects/demo/robots"},
		{name: "policies", path: "/ui/projects/demo/policies"},
		{name: "user", path: "/ui/user"},
		{name: "admin-gc", path: "/ui/admin/gc"},
		{name: "admin-audit", path: "/ui/admin/audit"},
		{name: "admin-anomalies", path: "/ui/admin/anomalies"},
	} {
		b.open(p.path)
		checkWidth(t, b, p.name)
		if p.name == "artifact" {
			// .mono's code size must not win over the heading's.
			if px := eval[float64](b, `parseFloat(getComputedStyle(document.querySelector("h1")).fontSize)`); px < 18 {
				t.Errorf("artifact heading: %.0f px, want a heading size (at least 18)", px)
			}
			// Pull commands break between words only, never inside one
			// like oci-archive (a word too wide scrolls with the table).
			if n := eval[int](b, `[...document.querySelectorAll("table.pulls code span")].filter(c => c.getClientRects().length > 1).length`); n > 0 {
				t.Errorf("artifact: %d words of pull commands broken over lines", n)
			}
		}
	}
}

// checkWidth fails when the page is wider than the window, and saves a
// screenshot of it.
func checkWidth(t *testing.T, b *tab, name string) {
	t.Helper()
	r := eval[readability](b, readabilityJS)
	if r.Overflow > 0 {
		t.Errorf("%s: %d px wider than a 390 px screen (screenshot %s)", name, r.Overflow, b.shot(name+"-phone"))
	}
}
