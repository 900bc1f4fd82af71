package backup

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// FuzzReadList: a snapshot's blob list, however damaged, is read without
// panicking; what it accepts are valid digests with non-negative sizes,
// and printing them back gives the same list.
func FuzzReadList(f *testing.F) {
	f.Add("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae 3\n")
	f.Add("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae -1\n")
	f.Add("sha512:abc 1\n\n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, in string) {
		var got []listEntry
		err := readList(strings.NewReader(in), func(e listEntry) error {
			got = append(got, e)
			return nil
		})
		var out bytes.Buffer
		for _, e := range got {
			if e.Size < 0 || e.Digest.Validate() != nil {
				t.Fatalf("accepted %+v", e)
			}
			fmt.Fprintf(&out, "%s %d\n", e.Digest, e.Size)
		}
		if err != nil {
			return
		}
		var again []listEntry
		if err := readList(&out, func(e listEntry) error { again = append(again, e); return nil }); err != nil || len(again) != len(got) {
			t.Fatalf("round trip: %v, %d of %d", err, len(again), len(got))
		}
	})
}
