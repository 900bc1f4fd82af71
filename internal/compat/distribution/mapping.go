package distribution

import (
	"strings"

	"github.com/berth-registry/berth/internal/config"
)

// Map turns a Distribution configuration into Berth's, starting from
// Berth's defaults, and reports what became of every key that is set. The
// error joins the refused keys; the configuration is not validated yet
// (config.Finish does that, after BERTH_* variables and flags).
func Map(d *Configuration, file string) (*config.Config, *Report, error) {
	c := config.Default()
	r := &Report{File: file}
	mapLog(d, c, r)
	mapHTTP(d, c, r)
	mapStorage(d, c, r)
	mapAuth(d, c, r)
	mapProxy(d, c, r)
	mapRest(d, r)
	return c, r, r.Err()
}

func mapLog(d *Configuration, c *config.Config, r *Report) {
	level, key := d.Log.Level, "log.level"
	if level == "" && d.Loglevel != "" {
		level, key = d.Loglevel, "loglevel"
	}
	if level != "" {
		switch l := strings.ToLower(level); l {
		case "error", "warn", "info", "debug":
			c.Log.Level = l
			r.mapped(key, "log.level", "")
		default:
			r.refused(key, "%q is not one of error, warn, info, debug", level)
		}
	} else {
		c.Log.Level = "info"
	}
	// Distribution logs text unless told otherwise.
	c.Log.Format = "text"
	switch f := d.Log.Formatter; f {
	case "":
	case "text", "json":
		c.Log.Format = f
		r.mapped("log.formatter", "log.format", "")
	case "logstash":
		c.Log.Format = "json"
		r.mapped("log.formatter", "log.format", "logstash becomes Berth's JSON lines (slog field names)")
	default:
		r.refused("log.formatter", "%q is not text, json or logstash", f)
	}
	c.Log.Access = !d.Log.AccessLog.Disabled
	if d.Log.AccessLog.Disabled {
		r.mapped("log.accesslog.disabled", "log.access", "")
	}
	if len(d.Log.Fields) > 0 {
		r.ignored("log.fields", "Berth's log lines carry fixed attributes (request_id, repo, digest, ...); add static fields in the log shipper")
	}
	if len(d.Log.Hooks) > 0 {
		r.ignored("log.hooks", "mail hooks are not supported; alert on the logs or on /metrics instead")
	}
	if d.Log.ReportCaller {
		r.ignored("log.reportcaller", "Berth does not log source locations")
	}
}

func mapHTTP(d *Configuration, c *config.Config, r *Report) {
	h := d.HTTP
	if h.Addr != "" {
		c.HTTP.Addr = h.Addr
		r.mapped("http.addr", "http.addr", "")
	}
	switch h.Net {
	case "", "tcp":
	default:
		r.refused("http.net", "%q: Berth listens on TCP only", h.Net)
	}
	if h.Host != "" {
		r.ignored("http.host", "Berth builds URLs from each request's Host (behind a proxy: X-Forwarded-* from http.trusted_proxies), so it needs no external URL")
	}
	if p := strings.Trim(h.Prefix, "/"); p != "" {
		r.refused("http.prefix", "Berth serves the API at /v2/ only, with no path prefix; strip %q in the reverse proxy in front", h.Prefix)
	}
	if h.Secret != "" {
		r.ignored("http.secret", "Berth keeps upload state in its database, so instances share no secret")
	}
	if h.RelativeURLs {
		r.ignored("http.relativeurls", "Berth's Location headers follow the request; clients accept either form")
	}
	if h.DrainTimeout != 0 {
		c.HTTP.ShutdownTimeout = h.DrainTimeout
		r.mapped("http.draintimeout", "http.shutdown_timeout", "")
	}
	mapTLS(h.TLS, c, r)
	if len(h.Headers) > 0 {
		r.ignored("http.headers", "Berth sets its own response headers (%s not added); add custom headers in a reverse proxy", strings.Join(sortedKeys(h.Headers), ", "))
	}
	if h.Debug.Addr != "" {
		c.Debug.Addr = h.Debug.Addr
		r.mapped("http.debug.addr", "debug.addr", "Go's pprof profiles at /debug/pprof/ (no expvar)")
	}
	if h.Debug.Prometheus.Enabled {
		r.mapped("http.debug.prometheus.enabled", "(always on)", "Berth always serves Prometheus metrics, at /metrics on the main listener rather than on the debug address; the metric names differ (berth_*)")
	}
	if p := h.Debug.Prometheus.Path; p != "" && p != "/metrics" {
		r.ignored("http.debug.prometheus.path", "Berth's metrics are at /metrics, not %s", p)
	}
	if h.HTTP2.Disabled {
		r.ignored("http.http2.disabled", "Berth speaks HTTP/2 over TLS when the client offers it")
	}
	if h.H2C.Enabled {
		r.ignored("http.h2c.enabled", "Berth serves HTTP/1.1 without TLS")
	}
}

func mapTLS(t TLS, c *config.Config, r *Report) {
	if t.Certificate != "" {
		c.HTTP.TLS.Certificate = t.Certificate
		r.mapped("http.tls.certificate", "http.tls.certificate", "")
	}
	if t.Key != "" {
		c.HTTP.TLS.Key = t.Key
		r.mapped("http.tls.key", "http.tls.key", "")
	}
	if len(t.ClientCAs) > 0 {
		r.refused("http.tls.clientcas", "Berth has no client certificate authentication; without it clients would get in without a certificate. Verify client certificates in a TLS-terminating proxy, or use auth")
	}
	if t.ClientAuth != "" {
		r.refused("http.tls.clientauth", "Berth has no client certificate authentication")
	}
	switch t.MinimumTLS {
	case "":
	case "tls1.0", "tls1.1", "tls1.2":
		r.ignored("http.tls.minimumtls", "Berth accepts TLS 1.2 and later only")
	default:
		r.refused("http.tls.minimumtls", "%q: Berth's minimum is TLS 1.2 and cannot be raised", t.MinimumTLS)
	}
	if len(t.CipherSuites) > 0 {
		r.ignored("http.tls.ciphersuites", "Berth uses Go's default TLS 1.2+ cipher suites")
	}
	le := t.LetsEncrypt
	if le.CacheFile != "" || le.Email != "" || len(le.Hosts) > 0 || le.DirectoryURL != "" {
		if t.Certificate != "" {
			r.ignored("http.tls.letsencrypt", "a certificate is set, so Distribution does not use Let's Encrypt either")
		} else {
			r.refused("http.tls.letsencrypt", "Berth does not obtain certificates; give it certificate and key files (or use a TLS-terminating proxy)")
		}
	}
}

func mapRest(d *Configuration, r *Report) {
	n := d.Notifications
	if len(n.Endpoints) > 0 {
		names := make([]string, 0, len(n.Endpoints))
		for _, e := range n.Endpoints {
			names = append(names, e.Name)
		}
		r.ignored("notifications.endpoints", "Berth does not send webhooks yet: %s will receive no events", strings.Join(names, ", "))
	}
	if len(n.EventConfig) > 0 {
		r.ignored("notifications.events", "no webhooks yet")
	}
	hc := d.Health
	if hc.StorageDriver.Enabled || hc.StorageDriver.Interval != 0 || hc.StorageDriver.Threshold != 0 {
		r.ignored("health.storagedriver", "Berth's /readyz checks the storage and the database on every call; /healthz answers while the process runs")
	}
	if len(hc.FileCheckers)+len(hc.HTTPCheckers)+len(hc.TCPCheckers) > 0 {
		r.ignored("health.file/http/tcp", "Berth has no custom health checks; probe those dependencies separately")
	}
	v := d.Validation
	if v.Enabled || v.Disabled {
		r.ignored("validation.enabled/disabled", "Berth always validates manifests the same way")
	}
	if len(v.Manifests.URLs.Allow)+len(v.Manifests.URLs.Deny) > 0 {
		r.ignored("validation.manifests.urls", "Berth accepts any URL in foreign layers (as the OCI spec allows) and never fetches them; the allow and deny lists are not enforced")
	}
	switch p := strings.ToLower(v.Manifests.Indexes.Platforms); p {
	case "":
	case "all":
		r.mapped("validation.indexes.platforms", "(always)", "Berth requires every manifest an index names to be in the repository")
	case "none", "list":
		r.ignored("validation.indexes.platforms", "%q: Berth requires every manifest an index names to be in the repository (as platforms: all)", p)
	default:
		r.refused("validation.indexes.platforms", "%q is not all, none or list", p)
	}
	if len(v.Manifests.Indexes.PlatformList) > 0 {
		r.ignored("validation.indexes.platformlist", "Berth checks every platform of an index")
	}
	if d.Catalog.MaxEntries != 0 {
		r.ignored("catalog.maxentries", "Berth pages _catalog itself (n and last)")
	}
	loose := []struct {
		key  string
		s    Section
		note string
	}{
		{"middleware", d.Middleware, "Berth has no middleware plugins (redirects to object storage: storage.redirect)"},
		{"reporting", d.Reporting, "no Bugsnag or New Relic reporting; errors are logged"},
		{"redis", d.Redis, "Berth caches in its own process and database; it needs no Redis"},
		{"compatibility", d.Compatibility, "Berth does not serve schema 1 manifests"},
		{"policy", d.Policy, "repository classes are not enforced; see Berth's project policies (docs/policies.md)"},
	}
	for _, l := range loose {
		if len(l.s) > 0 {
			r.ignored(l.key, l.note)
		}
	}
}
