package scaleout

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
)

// access is one request in nginx's access log (format "upstream" in
// nginxConf: method, URI, status, the response's Location or "-", and the
// instance addresses nginx tried, ", "-separated).
type access struct {
	method, uri, location string
	status                int
	served                []string // names of the instances that served it (two when nginx retried)
}

// logMark is the current end of nginx's access log, for accessLog to read
// only the requests that follow.
func (c *cluster) logMark(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(c.nginxLogs)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// accessLog returns the requests nginx logged after the mark (nginx writes
// each line when the response is done, unbuffered).
func (c *cluster) accessLog(t *testing.T, mark int64) []access {
	t.Helper()
	b, err := os.ReadFile(c.nginxLogs)
	if err != nil {
		t.Fatal(err)
	}
	var recs []access
	for _, line := range strings.Split(strings.TrimSpace(string(b[min(mark, int64(len(b))):])), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		a := access{method: f[0], uri: f[1], location: f[3]}
		a.status, _ = strconv.Atoi(f[2])
		for _, addr := range strings.Split(strings.Join(f[4:], ""), ",") {
			for _, in := range c.inst {
				if strings.TrimSpace(addr) == in.addr {
					a.served = append(a.served, in.name)
				}
			}
		}
		recs = append(recs, a)
	}
	return recs
}

// servedBy counts the requests in nginx's access log by the instance that
// served them (a request retried on the other instance counts for both).
func (c *cluster) servedBy(t *testing.T) map[string]int { return countServed(c.accessLog(t, 0)) }

func countServed(recs []access) map[string]int {
	n := map[string]int{}
	for _, a := range recs {
		for _, name := range a.served {
			n[name]++
		}
	}
	return n
}

// checkSplit checks that the requests since mark (one client's push) were
// served by both instances, and returns how many upload sessions were
// started on one instance and continued (PATCH) or finished (PUT) on the
// other. nginx's least_conn alternates between idle instances, so a
// client's requests are split across them with no help from the test;
// whether a session's POST and PUT land on different instances depends
// on how many of its requests the client runs at once.
func (c *cluster) checkSplit(t *testing.T, mark int64, what string) (split int) {
	t.Helper()
	recs := c.accessLog(t, mark)
	n := countServed(recs)
	started := map[string]string{} // upload session path -> instance that started it
	sessions := 0
	splitSeen := map[string]bool{}
	for _, a := range recs {
		if len(a.served) == 0 {
			continue
		}
		at := a.served[len(a.served)-1]
		switch {
		case a.method == "POST" && a.status == 202 && strings.Contains(a.uri, "/blobs/uploads/"):
			if p := pathOf(a.location); p != "" {
				started[p] = at
				sessions++
			}
		case a.method == "PATCH" || a.method == "PUT":
			p := pathOf(a.uri)
			if first, ok := started[p]; ok && first != at && !splitSeen[p] {
				splitSeen[p] = true
				split++
			}
		}
	}
	t.Logf("%s: %d requests, berth1 %d, berth2 %d; %d of %d upload sessions moved to the other instance",
		what, len(recs), n["berth1"], n["berth2"], split, sessions)
	if n["berth1"] == 0 || n["berth2"] == 0 {
		t.Errorf("%s: all its requests went to one instance (berth1 %d, berth2 %d)", what, n["berth1"], n["berth2"])
	}
	return split
}

// pathOf is the path of a URL or of a path with a query.
func pathOf(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "-" {
		return ""
	}
	return u.Path
}
