package distribution

import (
	"bufio"
	"bytes"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

func mapAuth(d *Configuration, c *config.Config, r *Report) {
	typ := d.Auth.Type()
	p := d.Auth[typ]
	switch typ {
	case "":
		c.Auth.Mode = config.AuthNone
		r.mapped("auth", "auth.mode", "none: anyone who reaches the registry may push and pull, as with Distribution without auth")
	case "htpasswd":
		mapHtpasswd(p, c, r)
	case "token":
		mapToken(p, c, r)
	case "silly":
		r.refused("auth.silly", "the silly access controller lets in any request that sends an Authorization header: it is for development only, and Berth will not pretend to guard a registry with it; use htpasswd, or auth.mode none on loopback")
	default:
		r.refused("auth."+typ, "Berth's access control is htpasswd or token here (and builtin users and LDAP in its own configuration)")
	}
}

func mapHtpasswd(p Parameters, c *config.Config, r *Report) {
	r.checkKnown("auth.htpasswd", p, "realm", "path")
	file, _ := paramString(p, "path")
	if file == "" {
		r.refused("auth.htpasswd.path", "required")
		return
	}
	users, err := htpasswdUsers(file)
	if err != nil {
		r.refused("auth.htpasswd.path", "%v", err)
		return
	}
	c.Auth.Mode = config.AuthHtpasswd
	c.Auth.Htpasswd.Path = file
	// Distribution lets every authenticated user do everything; in Berth
	// that is a system administrator.
	c.Auth.Admins = users
	// Distribution's htpasswd controller answers with Basic challenges.
	c.Auth.Token.Enabled = false
	r.mapped("auth.htpasswd.path", "auth.htpasswd.path", "Berth re-reads the file when it changes. As in Distribution every user in it may push, pull and delete "+
		"everywhere: the users in the file now (%d) are system administrators (auth.admins); users added later are ordinary users until the next start", len(users))
	if realm, ok := paramString(p, "realm"); ok && realm != "" {
		r.ignored("auth.htpasswd.realm", "Berth's Basic challenge names the realm \"Berth\"; clients do not use the realm")
	}
}

// htpasswdUsers lists the user names of an htpasswd file.
func htpasswdUsers(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var users []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if u, _, ok := strings.Cut(line, ":"); ok && u != "" {
			users = append(users, u)
		}
	}
	return users, sc.Err()
}

func mapToken(p Parameters, c *config.Config, r *Report) {
	const at = "auth.token"
	r.checkKnown(at, p, "realm", "service", "issuer", "rootcertbundle", "jwks", "autoredirect", "autoredirectpath", "signingalgorithms")
	get := func(key string) string {
		v, _ := paramString(p, key)
		if v == "" && key != "jwks" {
			r.refused(at+"."+key, "required (Distribution requires it too)")
		}
		return v
	}
	realm, service, issuer := get("realm"), get("service"), get("issuer")
	if jwks, _ := paramString(p, "jwks"); jwks != "" {
		r.refused(at+".jwks", "Berth reads the token service's keys from a PEM file only (rootcertbundle)")
	}
	bundle := get("rootcertbundle")
	if realm == "" || service == "" || issuer == "" || bundle == "" {
		return
	}
	// Builtin users keep Berth's own login working beside the external
	// service (none exist until an administrator creates them).
	c.Auth.Mode = config.AuthBuiltin
	c.Auth.Token.Enabled = true
	c.Auth.Token.Realm = realm
	c.Auth.Token.Service = service
	c.Auth.Token.Trusted = []config.TrustedIssuer{{Issuer: issuer, Certificate: bundle}}
	if c.Auth.Token.Issuer == issuer {
		c.Auth.Token.Issuer = issuer + "-berth"
	}
	r.mapped(at+".realm", "auth.token.realm", "clients are sent to the external token service")
	r.mapped(at+".service", "auth.token.service", "")
	r.mapped(at+".issuer", "auth.token.trusted[0].issuer", "its tokens grant exactly their access claims")
	r.mapped(at+".rootcertbundle", "auth.token.trusted[0].certificate", "")
	for _, k := range []string{"autoredirect", "autoredirectpath", "signingalgorithms"} {
		if _, ok := p[k]; ok {
			r.ignored(at+"."+k, "Berth verifies ES256/RS256-family signatures with the certificate's key and never redirects to the realm")
		}
	}
}

// hubHosts are Docker Hub's registry host names.
var hubHosts = map[string]bool{"registry-1.docker.io": true, "index.docker.io": true, "docker.io": true, "registry.hub.docker.com": true}

var notNameChar = regexp.MustCompile(`[^a-z0-9._-]+`)

func mapProxy(d *Configuration, c *config.Config, r *Report) {
	px := d.Proxy
	if len(px.Exec) > 0 {
		r.refused("proxy.exec", "Berth does not run credential helpers; set proxy.username and proxy.password")
	}
	if px.RemoteURL == "" {
		if px.Username != "" || px.Password != "" || px.TTL != nil {
			r.ignored("proxy", "without remoteurl Distribution is no proxy either")
		}
		return
	}
	u, err := url.Parse(px.RemoteURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		r.refused("proxy.remoteurl", "%q is not an http(s) URL", px.RemoteURL)
		return
	}
	host := strings.ToLower(u.Hostname())
	up := config.Upstream{URL: u.Scheme + "://" + u.Host, Username: px.Username, Password: px.Password, Mirror: true}
	if hubHosts[host] {
		up.Name, up.Namespaces = "dockerhub", []string{"docker.io"}
	} else {
		up.Name = strings.Trim(notNameChar.ReplaceAllString(host, "-"), "-._")
		if up.Name == "" || len(up.Name) > 64 {
			up.Name = "upstream"
		}
		up.Namespaces = []string{u.Host}
	}
	ttl := 7 * 24 * time.Hour // Distribution's default
	if px.TTL != nil {
		ttl = *px.TTL
	}
	up.MaxAge = ttl
	c.Proxy.Upstreams = []config.Upstream{up}
	r.mapped("proxy.remoteurl", "proxy.upstreams[0].url", "%s as upstream %q in mirror mode: names not pushed locally come from it, cached under the project %q. "+
		"Unlike Distribution, Berth also accepts pushes (to names outside the project)", up.URL, up.Name, up.Name)
	if px.Username != "" {
		r.mapped("proxy.username", "proxy.upstreams[0].username", "")
	}
	if px.Password != "" {
		r.mapped("proxy.password", "proxy.upstreams[0].password", "")
	}
	r.mapped("proxy.ttl", "proxy.upstreams[0].max_age", "%v: cached images not pulled for this long are evicted (0: never)", ttl)
}
