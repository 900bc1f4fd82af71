package scaleout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testNetworkRule: behind nginx (a trusted proxy that appends the client
// to X-Forwarded-For), a project's push rule sees the real client: a
// client bound to 127.0.0.2 is refused with 403 DENIED naming the rule,
// one on 127.0.0.1 pushes, on both instances; the rule set through one
// instance holds on the other within its 5 s reload.
func testNetworkRule(t *testing.T, c *cluster) {
	from := func(local string) *http.Client {
		tr := c.client.Transport.(*http.Transport).Clone()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}
		return &http.Client{Transport: tr}
	}
	put := func(body string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", c.url+"/api/v1/projects/team/network-rule", strings.NewReader(body))
		req.SetBasicAuth("admin", adminPassword)
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT network-rule: %s", resp.Status)
		}
	}
	push := func(cl *http.Client, i int) (int, string) {
		blob := []byte("network rule blob " + strings.Repeat("x", i))
		sum := sha256.Sum256(blob)
		req, _ := http.NewRequest("POST", c.url+"/v2/team/netrule/blobs/uploads/?digest=sha256:"+hex.EncodeToString(sum[:]), bytes.NewReader(blob))
		req.SetBasicAuth("dev", devPassword)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	put(`{"push":["127.0.0.1"]}`)
	time.Sleep(5500 * time.Millisecond) // the other instance reloads its rules
	one, two := from("127.0.0.1"), from("127.0.0.2")
	// Several requests each: nginx spreads them over both instances.
	for i := range 4 {
		if st, body := push(one, i); st != http.StatusCreated {
			t.Fatalf("push %d from 127.0.0.1: %d %s", i, st, body)
		}
		st, body := push(two, i)
		if st != http.StatusForbidden || !strings.Contains(body, "push from 127.0.0.2 is not allowed by the network rule of project team") {
			t.Fatalf("push %d from 127.0.0.2: %d %s", i, st, body)
		}
	}
	put(`{}`)
}
