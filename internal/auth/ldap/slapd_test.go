package ldap

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/berth-registry/berth/internal/syncbuf"
)

const (
	baseDN   = "dc=example,dc=org"
	rootDN   = "cn=admin,dc=example,dc=org"
	rootPW   = "slapd-root-secret"
	slapdBin = "/usr/sbin/slapd"
)

// startSlapd runs a throwaway OpenLDAP server (mdb backend) on a free
// loopback port and returns its URL; it is stopped when the test ends.
// Without slapd the test is skipped, or fails with CI=true.
func startSlapd(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(slapdBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("slapd not found (apt-get install slapd ldap-utils; scripts/install-tools.sh): %v", err)
		}
		t.Skipf("slapd not found: %v", err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
database mdb
maxsize 16777216
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[5]s
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by * read
`, dir, baseDN, rootDN, rootPW, data)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url := fmt.Sprintf("ldap://127.0.0.1:%d/", port)
	out := &syncbuf.Buffer{} // slapd's output
	cmd := exec.Command(slapdBin, "-f", confPath, "-h", url, "-d", "0")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := ldap.DialURL(url)
		if err == nil {
			err = conn.Bind(rootDN, rootPW)
			if err == nil {
				seed(t, conn)
				conn.Close()
				return url
			}
			conn.Close()
		}
		select {
		case <-done:
			t.Fatalf("slapd exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd not ready: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// seed adds the directory of the tests: alice (group devs), bob (group
// registry-admins), carol (no group), and a read-only service account.
func seed(t *testing.T, conn *ldap.Conn) {
	t.Helper()
	add := func(dn string, attrs map[string][]string) {
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := conn.Add(r); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(baseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	add("ou=people,"+baseDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	add("ou=groups,"+baseDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	add("cn=reader,"+baseDN, map[string][]string{"objectClass": {"person"}, "cn": {"reader"}, "sn": {"reader"}, "userPassword": {"reader-secret"}})
	for _, u := range []string{"alice", "bob", "carol"} {
		add("uid="+u+",ou=people,"+baseDN, map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {u}, "cn": {u}, "sn": {u}, "userPassword": {u + "-ldap-pw"}})
	}
	add("cn=devs,ou=groups,"+baseDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"devs"},
		"member": {"uid=alice,ou=people," + baseDN}})
	add("cn=registry-admins,ou=groups,"+baseDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"registry-admins"},
		"member": {"uid=bob,ou=people," + baseDN}})
}
