package config

import "time"

// UI configures the web UI (docs/ui.md).
type UI struct {
	Enabled bool      `yaml:"enabled"` // serve the web UI at / and /ui/
	Session UISession `yaml:"session"`
}

// UISession configures the UI's log-in sessions (kept in the metadata
// database, so every instance knows them).
type UISession struct {
	// IdleTimeout ends a session not used for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxAge ends a session this long after log-in, used or not.
	MaxAge time.Duration `yaml:"max_age"`
}

func defaultUI() UI {
	return UI{Enabled: true, Session: UISession{IdleTimeout: time.Hour, MaxAge: 12 * time.Hour}}
}

func (u UI) validate(bad func(string, ...any)) {
	s := u.Session
	if s.IdleTimeout < time.Minute || s.IdleTimeout > 30*24*time.Hour {
		bad("ui.session.idle_timeout: %v is outside 1m..720h", s.IdleTimeout)
	}
	if s.MaxAge < time.Minute || s.MaxAge > 365*24*time.Hour {
		bad("ui.session.max_age: %v is outside 1m..8760h", s.MaxAge)
	}
	if s.MaxAge < s.IdleTimeout {
		bad("ui.session.max_age: %v is shorter than ui.session.idle_timeout (%v)", s.MaxAge, s.IdleTimeout)
	}
}
