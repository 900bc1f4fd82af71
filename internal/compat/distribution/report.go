package distribution

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Status says what became of a Distribution key.
type Status string

// Statuses of a key.
const (
	// Mapped: Berth does what the key asked, under the key it names.
	Mapped Status = "mapped"
	// Ignored: Berth runs without it; the note says why that is safe.
	Ignored Status = "ignored"
	// Refused: Berth cannot honour it and will not start with it.
	Refused Status = "refused"
)

// Entry is one key of the compatibility report.
type Entry struct {
	Key    string
	Status Status
	// To is the Berth key it became (mapped keys).
	To   string
	Note string
}

// Report is what became of every key set in a Distribution configuration.
type Report struct {
	// File is the configuration file read ("" for registry:2's built-in
	// default).
	File    string
	Entries []Entry
	Env     EnvResult
}

func (r *Report) add(key string, s Status, to, note string, args ...any) {
	if len(args) > 0 {
		note = fmt.Sprintf(note, args...)
	}
	r.Entries = append(r.Entries, Entry{Key: key, Status: s, To: to, Note: note})
}

func (r *Report) mapped(key, to, note string, args ...any) { r.add(key, Mapped, to, note, args...) }
func (r *Report) ignored(key, note string, args ...any)    { r.add(key, Ignored, "", note, args...) }
func (r *Report) refused(key, note string, args ...any)    { r.add(key, Refused, "", note, args...) }

// Count returns how many entries have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, e := range r.Entries {
		if e.Status == s {
			n++
		}
	}
	return n
}

// Lookup returns the entry of a key.
func (r *Report) Lookup(key string) (Entry, bool) {
	for _, e := range r.Entries {
		if e.Key == key {
			return e, true
		}
	}
	return Entry{}, false
}

// Err joins the refused keys into one error (nil if none).
func (r *Report) Err() error {
	var errs []error
	for _, e := range r.Entries {
		if e.Status == Refused {
			errs = append(errs, fmt.Errorf("%s: refused: %s", e.Key, e.Note))
		}
	}
	return errors.Join(errs...)
}

// Summary is one line: how many keys were mapped, ignored and refused.
func (r *Report) Summary() string {
	src := r.File
	if src == "" {
		src = "registry:2's default configuration"
	}
	s := fmt.Sprintf("Distribution configuration %s: %d mapped, %d ignored, %d refused",
		src, r.Count(Mapped), r.Count(Ignored), r.Count(Refused))
	if len(r.Env.Applied) > 0 {
		s += fmt.Sprintf("; environment: %s", strings.Join(r.Env.Applied, ", "))
	}
	return s
}

// Write prints the report, one key a line.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintln(w, r.Summary())
	for _, e := range r.Entries {
		line := fmt.Sprintf("  %-8s %s", e.Status, e.Key)
		if e.To != "" {
			line += " -> " + e.To
		}
		if e.Note != "" {
			line += ": " + e.Note
		}
		fmt.Fprintln(w, line)
	}
	for _, n := range r.Env.Unknown {
		fmt.Fprintf(w, "  %-8s %s: names no Distribution key (Distribution ignores it too)\n", Ignored, n)
	}
}

// String is the report as Write prints it.
func (r *Report) String() string {
	var b strings.Builder
	r.Write(&b)
	return b.String()
}
