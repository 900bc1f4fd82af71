package scantest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Advisory is a one-package OSV advisory with one ECOSYSTEM range.
type Advisory struct {
	ID, Summary  string
	Aliases      []string
	Ecosystem    string
	Name         string
	Introduced   string // "" : "0"
	Fixed        string
	LastAffected string
	CVSS         string // a CVSS v3 vector
	Severity     string // database_specific.severity
}

// JSON encodes the advisory as OSV.
func (a Advisory) JSON() []byte {
	intro := a.Introduced
	if intro == "" {
		intro = "0"
	}
	events := []map[string]string{{"introduced": intro}}
	if a.Fixed != "" {
		events = append(events, map[string]string{"fixed": a.Fixed})
	}
	if a.LastAffected != "" {
		events = append(events, map[string]string{"last_affected": a.LastAffected})
	}
	doc := map[string]any{
		"schema_version": "1.6.0", "id": a.ID, "modified": "2026-01-01T00:00:00Z", "summary": a.Summary,
		"affected": []any{map[string]any{
			"package": map[string]string{"ecosystem": a.Ecosystem, "name": a.Name},
			"ranges":  []any{map[string]any{"type": "ECOSYSTEM", "events": events}},
		}},
	}
	if a.Aliases != nil {
		doc["aliases"] = a.Aliases
	}
	if a.CVSS != "" {
		doc["severity"] = []any{map[string]string{"type": "CVSS_V3", "score": a.CVSS}}
	}
	if a.Severity != "" {
		doc["database_specific"] = map[string]string{"severity": a.Severity}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// WriteOSV writes advisories into dir as osv.dev lays them out: one
// directory per ecosystem (without its suffix), one ID.json file each.
func WriteOSV(t testing.TB, dir string, advisories ...Advisory) {
	t.Helper()
	for _, a := range advisories {
		eco := a.Ecosystem
		for i, c := range eco {
			if c == ':' {
				eco = eco[:i]
				break
			}
		}
		d := filepath.Join(dir, eco)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, a.ID+".json"), a.JSON(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
