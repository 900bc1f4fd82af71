package config

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Durations, in the file and in BERTH_ variables, are Go durations ("30s",
// "10m", "24h", "1h30m"). A plain 0 is a duration too: it is how people
// write "never" or "off", and how the documentation writes it. Any other
// number without a unit is refused with the key's name, because it is
// ambiguous (seconds? nanoseconds?); YAML itself would only say that an
// !!int does not fit a time.Duration. That includes the other spellings of
// zero (00, -0, +0, 0.0, 0x0, 0o0): they are not what the documentation
// shows, and a plain 0 is the one way to write "off" that reads the same
// to every person and every YAML library.

var durationType = reflect.TypeFor[time.Duration]()

// bareNumber reports whether s, written without quotes, is a number to
// YAML: an !!int or a !!float (30, 00, -0, 0x1e, 1_000, 0.5, 1e3, .inf).
// The same definition serves the file and the environment.
func bareNumber(s string) bool {
	tag := (&yaml.Node{Kind: yaml.ScalarNode, Value: s}).ShortTag()
	return tag == "!!int" || tag == "!!float"
}

// plainZero reports whether s is the one bare number a duration accepts:
// a plain 0.
func plainZero(s string) bool { return s == "0" }

// errNoUnit is the error for a bare number other than a plain 0.
func errNoUnit(s string) error {
	return fmt.Errorf("%s is a number without a unit; a duration needs one, e.g. 30s, 10m or 24h (0 alone means off)", s)
}

// parseDuration parses a duration given as text (an environment value).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if plainZero(s) {
		return 0, nil
	}
	if bareNumber(s) {
		return 0, errNoUnit(s) // before time.ParseDuration, which takes -0 and +0
	}
	return time.ParseDuration(s)
}

// durationEdit replaces a plain 0 at a position of the file with "0s".
type durationEdit struct{ line, column, length int }

// fixDurations returns data with every plain 0 given to a duration key of
// a value of type t written as 0s, each at its place so that the
// decoder's line numbers still match the file; any other bare number
// there is an error naming its line and key. A document that does not
// parse is returned as it is, for the decoder to report.
func fixDurations(data []byte, t reflect.Type) ([]byte, error) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return data, nil
	}
	var edits []durationEdit
	if err := walkDurations(doc.Content[0], t, "", &edits, 0); err != nil {
		return nil, err
	}
	if len(edits) == 0 {
		return data, nil
	}
	// From the end, so that an edit does not move the ones still to do.
	slices.SortFunc(edits, func(a, b durationEdit) int {
		if a.line != b.line {
			return b.line - a.line
		}
		return b.column - a.column
	})
	edits = slices.Compact(edits)                 // an anchored value reached twice
	lines := bytes.SplitAfter(data, []byte("\n")) // edited lines are replaced, never written into
	for _, e := range edits {
		if e.line < 1 || e.line > len(lines) {
			continue
		}
		ln := lines[e.line-1]
		off := 0
		for range e.column - 1 { // YAML counts columns in characters
			if off >= len(ln) {
				break
			}
			_, w := utf8.DecodeRune(ln[off:])
			off += w
		}
		if off+e.length > len(ln) {
			continue
		}
		if !plainZero(string(ln[off : off+e.length])) {
			continue // not where it was expected (a tag, an anchor): leave it to the decoder
		}
		lines[e.line-1] = slices.Concat(ln[:off], []byte("0s"), ln[off+e.length:])
	}
	return bytes.Join(lines, nil), nil
}

// walkDurations finds the duration values below node n, which is decoded
// into a value of type t at key path.
func walkDurations(n *yaml.Node, t reflect.Type, path string, edits *[]durationEdit, depth int) error {
	if depth > 64 {
		return nil // deeper than any configuration; the decoder will object
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		if n.Kind != yaml.ScalarNode {
			return nil
		}
		if tag := n.ShortTag(); tag != "!!int" && tag != "!!float" {
			return nil // a string goes to time.ParseDuration, anything else to the decoder
		}
		if !plainZero(n.Value) {
			return fmt.Errorf("line %d: %s: %w", n.Line, path, errNoUnit(n.Value))
		}
		*edits = append(*edits, durationEdit{n.Line, n.Column, len(n.Value)})
		return nil
	}
	var err error
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content) && err == nil; i += 2 {
			key := n.Content[i].Value
			if f, ok := fieldByTag(t, key); ok {
				err = walkDurations(n.Content[i+1], f.Type, join(path, key), edits, depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			if err = walkDurations(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), edits, depth+1); err != nil {
				break
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content) && err == nil; i += 2 {
			err = walkDurations(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), edits, depth+1)
		}
	}
	return err
}

// fieldByTag finds the field of struct type t whose YAML key is key.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == key && tag != "" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
