// Package ldap is the LDAP / Active Directory source of users: it binds
// as a service account, searches the user, binds as the user to check the
// password, and reads the user's groups (from group entries listing the
// user in a member attribute, or from the user's memberOf attribute).
// Groups are then members of projects, with a role, like users.
//
// A server that cannot be reached, or a service account that cannot bind,
// is reported as auth.ErrUnavailable: not the user's fault, so it is not
// counted as a failed login, and local users log in as usual.
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
)

// Client talks to the directory; it opens a connection per login.
type Client struct {
	cfg config.LDAP
	tls *tls.Config
	log *slog.Logger
}

var _ auth.LDAPAuthenticator = (*Client)(nil)

// New returns a client for the configuration (auth.ldap).
func New(cfg config.LDAP, log *slog.Logger) (*Client, error) {
	c := &Client{cfg: cfg, log: log}
	if strings.HasPrefix(cfg.URL, "ldaps://") || cfg.StartTLS {
		c.tls = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("auth.ldap.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("auth.ldap.ca_file: no certificates in %s", cfg.CAFile)
			}
			c.tls.RootCAs = pool
		}
	}
	return c, nil
}

func (c *Client) unavailable(what string, err error) error {
	return fmt.Errorf("%w: LDAP server %s: %s: %v", auth.ErrUnavailable, c.cfg.URL, what, err)
}

// connect dials the server and binds as the service account.
func (c *Client) connect(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: c.cfg.Timeout}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	if c.tls != nil {
		opts = append(opts, ldap.DialWithTLSConfig(c.tls))
	}
	conn, err := ldap.DialURL(c.cfg.URL, opts...)
	if err != nil {
		return nil, c.unavailable("cannot connect", err)
	}
	conn.SetTimeout(c.cfg.Timeout)
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			conn.Close()
			return nil, c.unavailable("StartTLS", err)
		}
	}
	if err := c.serviceBind(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func (c *Client) serviceBind(conn *ldap.Conn) error {
	var err error
	if c.cfg.BindDN == "" {
		err = conn.UnauthenticatedBind("")
	} else {
		err = conn.Bind(c.cfg.BindDN, c.cfg.BindPassword)
	}
	if err != nil {
		return c.unavailable("the service account (auth.ldap.bind_dn) cannot bind", err)
	}
	return nil
}

// findUser returns the DN and the memberOf values of a user.
func (c *Client) findUser(conn *ldap.Conn, user string) (string, []string, error) {
	attrs := []string{"dn"}
	if c.cfg.MemberOfAttribute != "" {
		attrs = append(attrs, c.cfg.MemberOfAttribute)
	}
	res, err := conn.Search(ldap.NewSearchRequest(c.cfg.UserBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(c.cfg.Timeout.Seconds()), false, fmt.Sprintf(c.cfg.UserFilter, ldap.EscapeFilter(user)), attrs, nil))
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return "", nil, auth.ErrUnknownUser
		}
		return "", nil, c.unavailable("user search", err)
	}
	switch len(res.Entries) {
	case 0:
		return "", nil, auth.ErrUnknownUser
	case 1:
	default:
		c.log.Warn("ldap: the user filter matches several entries; refusing the login", "user", user)
		return "", nil, auth.ErrUnknownUser
	}
	e := res.Entries[0]
	return e.DN, e.GetAttributeValues(c.cfg.MemberOfAttribute), nil
}

// groups returns the names of the user's groups.
func (c *Client) groups(conn *ldap.Conn, dn string, memberOf []string) ([]string, error) {
	var out []string
	if c.cfg.GroupBaseDN == "" {
		for _, g := range memberOf {
			if name := firstRDNValue(g); name != "" {
				out = append(out, name)
			}
		}
		return out, nil
	}
	filter := strings.ReplaceAll(c.cfg.GroupFilter, "%s", ldap.EscapeFilter(dn))
	res, err := conn.Search(ldap.NewSearchRequest(c.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		1000, int(c.cfg.Timeout.Seconds()), false, filter, []string{c.cfg.GroupNameAttribute}, nil))
	if err != nil {
		return nil, c.unavailable("group search", err)
	}
	for _, e := range res.Entries {
		if name := e.GetAttributeValue(c.cfg.GroupNameAttribute); name != "" {
			out = append(out, name)
		}
	}
	return out, nil
}

// firstRDNValue is "devs" for "cn=devs,ou=groups,dc=example,dc=org".
func firstRDNValue(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}

func (c *Client) isAdmin(groups []string) bool {
	for _, g := range groups {
		if c.cfg.AdminGroup != "" && strings.EqualFold(g, c.cfg.AdminGroup) {
			return true
		}
	}
	return false
}

// Authenticate implements auth.LDAPAuthenticator.
func (c *Client) Authenticate(ctx context.Context, user, pw string) ([]string, bool, error) {
	if pw == "" {
		// An empty password would be an unauthenticated bind, which
		// succeeds: never let it through.
		return nil, false, auth.ErrBadPassword
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	dn, memberOf, err := c.findUser(conn, user)
	if err != nil {
		return nil, false, err
	}
	if err := conn.Bind(dn, pw); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, false, auth.ErrBadPassword
		}
		return nil, false, c.unavailable("user bind", err)
	}
	// Back to the service account to read groups.
	if err := c.serviceBind(conn); err != nil {
		return nil, false, err
	}
	groups, err := c.groups(conn, dn, memberOf)
	if err != nil {
		return nil, false, err
	}
	return groups, c.isAdmin(groups), nil
}

// Lookup implements auth.LDAPAuthenticator.
func (c *Client) Lookup(ctx context.Context, user string) ([]string, bool, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	dn, memberOf, err := c.findUser(conn, user)
	if err != nil {
		return nil, false, err
	}
	groups, err := c.groups(conn, dn, memberOf)
	if err != nil {
		return nil, false, err
	}
	return groups, c.isAdmin(groups), nil
}
