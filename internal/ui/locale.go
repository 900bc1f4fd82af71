package ui

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed locales/*.json
var localeFS embed.FS

// Languages the UI speaks, the first is the default.
var languages = []string{"en", "zh-CN"}

var langTags = []language.Tag{language.English, language.SimplifiedChinese}

var langMatcher = language.NewMatcher(langTags)

// langCookie remembers the language picked with the switch.
const langCookie = "berth_lang"

// catalogs maps a language to its messages, loaded once.
type catalogs map[string]map[string]string

func loadCatalogs() (catalogs, error) {
	c := catalogs{}
	for _, l := range languages {
		b, err := localeFS.ReadFile("locales/" + l + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("ui: locales/%s.json: %w", l, err)
		}
		c[l] = m
	}
	return c, nil
}

// pickLang chooses the request's language: the cookie set by the switch,
// else the best match of Accept-Language, else English.
func pickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && validLang(c.Value) {
		return c.Value
	}
	_, i := language.MatchStrings(langMatcher, r.Header.Get("Accept-Language"))
	return languages[i]
}

func validLang(l string) bool {
	for _, v := range languages {
		if v == l {
			return true
		}
	}
	return false
}

// Localizer renders messages, numbers, sizes and times in one language.
// Templates reach it as .L: {{.L.T "nav.projects"}}.
type Localizer struct {
	Lang string
	msgs map[string]string
	p    *message.Printer
	now  time.Time
}

func (c catalogs) localizer(lang string, now time.Time) *Localizer {
	tag := langTags[0]
	for i, l := range languages {
		if l == lang {
			tag = langTags[i]
		}
	}
	return &Localizer{Lang: lang, msgs: c[lang], p: message.NewPrinter(tag), now: now}
}

// T returns the message for key, with args substituted (fmt verbs in the
// catalog). A key missing from the catalog shows as itself (the catalog
// test keeps that from shipping).
func (l *Localizer) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return l.p.Sprintf(m, args...)
}

// Num formats an integer with the language's digit grouping.
func (l *Localizer) Num(n any) string { return l.p.Sprintf("%d", n) }

// Size formats a byte count in binary units (KiB, MiB, ...).
func (l *Localizer) Size(n int64) string {
	const unit = 1024
	if n < unit {
		return l.T("size.bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return l.p.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Date formats a time as a date and time in the language's style (UTC).
func (l *Localizer) Date(t time.Time) string {
	if t.IsZero() {
		return l.T("time.never")
	}
	return t.UTC().Format(l.T("time.layout"))
}

// ISO is a time in RFC 3339 for the datetime attribute of <time>.
func (l *Localizer) ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Ago says how long ago t was, roughly ("3 hours ago").
func (l *Localizer) Ago(t time.Time) string {
	if t.IsZero() {
		return l.T("time.never")
	}
	d := l.now.Sub(t)
	switch {
	case d < time.Minute:
		return l.T("time.just_now")
	case d < time.Hour:
		return l.T("time.minutes_ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return l.T("time.hours_ago", int(d/time.Hour))
	case d < 60*24*time.Hour:
		return l.T("time.days_ago", int(d/(24*time.Hour)))
	}
	return l.Date(t)
}

// Percent is used/total as a whole percentage (0 when total is 0).
func (l *Localizer) Percent(used, total int64) string {
	if total <= 0 {
		return l.p.Sprintf("%d%%", 0)
	}
	return l.p.Sprintf("%d%%", used*100/total)
}

// Other is the other language, for the switch.
func (l *Localizer) Other() string {
	if l.Lang == languages[0] {
		return languages[1]
	}
	return languages[0]
}
