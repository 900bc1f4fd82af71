package config

import (
	"strings"
	"testing"
	"time"
)

func TestUIConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     []string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if !c.UI.Enabled || c.UI.Session.IdleTimeout != time.Hour || c.UI.Session.MaxAge != 12*time.Hour {
				t.Errorf("defaults: %+v", c.UI)
			}
		}},
		{name: "yaml", yaml: "ui:\n  enabled: false\n  session:\n    idle_timeout: 10m\n    max_age: 2h\n", check: func(t *testing.T, c *Config) {
			if c.UI.Enabled || c.UI.Session.IdleTimeout != 10*time.Minute || c.UI.Session.MaxAge != 2*time.Hour {
				t.Errorf("yaml: %+v", c.UI)
			}
		}},
		{name: "env", env: []string{"BERTH_UI_ENABLED=false", "BERTH_UI_SESSION_IDLE_TIMEOUT=5m", "BERTH_UI_SESSION_MAX_AGE=1h"}, check: func(t *testing.T, c *Config) {
			if c.UI.Enabled || c.UI.Session.IdleTimeout != 5*time.Minute || c.UI.Session.MaxAge != time.Hour {
				t.Errorf("env: %+v", c.UI)
			}
		}},
		{name: "idle too short", env: []string{"BERTH_UI_SESSION_IDLE_TIMEOUT=1s"}, wantErr: "ui.session.idle_timeout"},
		{name: "max age below idle", env: []string{"BERTH_UI_SESSION_IDLE_TIMEOUT=2h", "BERTH_UI_SESSION_MAX_AGE=1h"}, wantErr: "shorter than"},
		{name: "unknown key", yaml: "ui:\n  colour: blue\n", wantErr: "colour"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			err := Decode(strings.NewReader(tc.yaml), c)
			if err == nil {
				err = ApplyEnv(c, tc.env)
			}
			if err == nil {
				err = c.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
