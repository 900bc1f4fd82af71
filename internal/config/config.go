// Package config is Berth's typed configuration: one YAML file decoded
// strictly (an unknown key is an error), then BERTH_* environment variables
// that follow the YAML path (BERTH_HTTP_ADDR -> http.addr), then command
// line flags, then defaults, then validation. Bad configuration is a clear
// error at start, never a panic.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// Version is the configuration format version this build reads.
const Version = 1

// Config is the whole configuration.
type Config struct {
	// Version of the configuration format; 1.
	Version int `yaml:"version"`
	// Data is the directory for everything Berth stores by default.
	Data        string      `yaml:"data"`
	HTTP        HTTP        `yaml:"http"`
	Log         Log         `yaml:"log"`
	Storage     Storage     `yaml:"storage"`
	Database    Database    `yaml:"database"`
	Registry    Registry    `yaml:"registry"`
	Proxy       Proxy       `yaml:"proxy"`
	Auth        Auth        `yaml:"auth"`
	Audit       Audit       `yaml:"audit"`
	Anomaly     Anomaly     `yaml:"anomaly"`
	Replication Replication `yaml:"replication"`
	Scan        Scan        `yaml:"scan"`
	GC          GC          `yaml:"gc"`
	Scrub       Scrub       `yaml:"scrub"`
	Backup      Backup      `yaml:"backup"`
	Jobs        Jobs        `yaml:"jobs"`
	Policy      Policy      `yaml:"policy"`
	UI          UI          `yaml:"ui"`
	Debug       Debug       `yaml:"debug"`
	Metrics     Metrics     `yaml:"metrics"`
	Events      Events      `yaml:"events"`
	// RateLimit bounds requests and manifest pulls per client and project.
	RateLimit RateLimit `yaml:"rate_limit"`
}

// Debug configures the diagnostics listener.
type Debug struct {
	// Addr, when set, serves Go's pprof profiles under /debug/pprof/ on this
	// separate address (keep it on loopback).
	Addr string `yaml:"addr"`
}

// HTTP configures the listener.
type HTTP struct {
	Addr              string        `yaml:"addr"`
	TLS               TLS           `yaml:"tls"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	// BodyIdleTimeout fails a request body that delivers nothing for this
	// long (0: never). It is not a total timeout: a large layer on a slow
	// link may take hours, as long as its bytes keep coming.
	BodyIdleTimeout time.Duration `yaml:"body_idle_timeout"`
	// TrustedProxies are addresses or CIDRs of reverse proxies whose
	// X-Forwarded-Proto and X-Forwarded-Host headers are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TLS turns on HTTPS when both files are set.
type TLS struct {
	Certificate string `yaml:"certificate"`
	Key         string `yaml:"key"`
}

// Enabled reports whether HTTPS is configured.
func (t TLS) Enabled() bool { return t.Certificate != "" || t.Key != "" }

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (text on a terminal, else json), json or text
	Access bool   `yaml:"access"` // one line per request
}

// Storage selects the blob store.
type Storage struct {
	Driver     string     `yaml:"driver"` // filesystem, s3, azure or gcs
	Filesystem Filesystem `yaml:"filesystem"`
	S3         S3         `yaml:"s3"`
	Azure      Azure      `yaml:"azure"`
	GCS        GCS        `yaml:"gcs"`
	Redirect   Redirect   `yaml:"redirect"`
	// Distribution adopts a CNCF Distribution (registry:2) storage in place
	// (docs/migrate-from-distribution.md).
	Distribution Adoption `yaml:"distribution"`
}

// Adoption names a Distribution storage layout (docker/registry/v2/...)
// that Berth indexes into its database and reads blobs from in place.
type Adoption struct {
	Enabled bool `yaml:"enabled"`
	// Root is Distribution's root directory (filesystem driver) or its
	// prefix in the same bucket (s3 driver, "" for the bucket's top).
	Root string `yaml:"root"`
}

// S3 configures the S3 (and S3-compatible) driver.
type S3 struct {
	Bucket               string   `yaml:"bucket"`
	Prefix               string   `yaml:"prefix"`
	Region               string   `yaml:"region"`
	Endpoint             string   `yaml:"endpoint"`
	PublicEndpoint       string   `yaml:"public_endpoint"`
	PathStyle            bool     `yaml:"path_style"`
	AccessKey            string   `yaml:"access_key"`
	SecretKey            string   `yaml:"secret_key"`
	SessionToken         string   `yaml:"session_token"`
	ServerSideEncryption string   `yaml:"server_side_encryption"`
	KMSKeyID             string   `yaml:"kms_key_id"`
	StorageClass         string   `yaml:"storage_class"`
	PartSize             ByteSize `yaml:"part_size"`
	CAFile               string   `yaml:"ca_file"`
	Insecure             bool     `yaml:"insecure"`
}

// Azure configures the Azure Blob Storage driver. With neither account_key
// nor sas_token, the default Azure credential chain is used (environment,
// workload identity, managed identity, Azure CLI).
type Azure struct {
	AccountName string `yaml:"account_name"`
	AccountKey  string `yaml:"account_key"`
	SASToken    string `yaml:"sas_token"`
	Container   string `yaml:"container"`
	Prefix      string `yaml:"prefix"`
	Endpoint    string `yaml:"endpoint"`
	// PublicEndpoint replaces Endpoint in redirect (SAS) URLs.
	PublicEndpoint string   `yaml:"public_endpoint"`
	BlockSize      ByteSize `yaml:"block_size"`
}

// GCS configures the Google Cloud Storage driver. Without credentials_file,
// application default credentials are used (and redirects are off: there is
// no key to sign URLs with).
type GCS struct {
	Bucket          string `yaml:"bucket"`
	Prefix          string `yaml:"prefix"`
	CredentialsFile string `yaml:"credentials_file"`
	Endpoint        string `yaml:"endpoint"`
	// Anonymous sends no credentials (emulators; needs endpoint).
	Anonymous bool     `yaml:"anonymous"`
	ChunkSize ByteSize `yaml:"chunk_size"`
}

// Redirect sends blob downloads straight to the object store (drivers that
// can: s3, azure, gcs) with a presigned URL, instead of through Berth.
type Redirect struct {
	Enabled bool          `yaml:"enabled"`
	Expiry  time.Duration `yaml:"expiry"`
}

// Filesystem configures the filesystem driver.
type Filesystem struct {
	Root string `yaml:"root"` // default <data>/blobs
}

// Database selects the metadata store.
type Database struct {
	Driver   string   `yaml:"driver"` // sqlite or postgres
	SQLite   SQLite   `yaml:"sqlite"`
	Postgres Postgres `yaml:"postgres"`
}

// Postgres configures the PostgreSQL metadata store (for several instances).
type Postgres struct {
	// DSN is a libpq connection string or URL,
	// e.g. postgres://berth:secret@db:5432/berth?sslmode=require.
	DSN string `yaml:"dsn"`
	// MaxConns caps the connection pool (0: the DSN's pool_max_conns, else max(4, CPUs)).
	MaxConns int32 `yaml:"max_conns"`
}

// SQLite configures the embedded database.
type SQLite struct {
	Path string `yaml:"path"` // default <data>/berth.db
}

// Registry tunes the OCI API.
type Registry struct {
	MaxManifestSize ByteSize `yaml:"max_manifest_size"`
	DeleteEnabled   bool     `yaml:"delete_enabled"`
	// ManifestCacheSize bounds the in-memory cache of manifests (0: off).
	ManifestCacheSize ByteSize `yaml:"manifest_cache_size"`
	// UploadLease is how long an upload session stays reserved for the
	// instance writing it (renewed while it writes), so a session whose
	// writer died is writable again after this long.
	UploadLease time.Duration `yaml:"upload_lease"`
	// UploadSessionsPerRepository and UploadSessionsPerClient cap the open
	// upload sessions (per instance) of one repository and of one client
	// (user, or address when anonymous); past them, 429 TOOMANYREQUESTS.
	// 0: no cap.
	UploadSessionsPerRepository int `yaml:"upload_sessions_per_repository"`
	UploadSessionsPerClient     int `yaml:"upload_sessions_per_client"`
	// UploadEmptyTTL: a session no request wrote to for this long is
	// discarded (sessions with bytes last gc.upload_max_age, and so at
	// most does this).
	UploadEmptyTTL time.Duration `yaml:"upload_empty_ttl"`
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{
		Version: Version,
		Data:    "./data",
		HTTP: HTTP{
			Addr:              ":5000",
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ShutdownTimeout:   30 * time.Second,
			BodyIdleTimeout:   time.Minute,
		},
		Log:      Log{Level: "info", Format: "auto", Access: true},
		Storage:  Storage{Driver: "filesystem", Redirect: Redirect{Enabled: true, Expiry: 20 * time.Minute}},
		Database: Database{Driver: "sqlite"},
		Registry: Registry{MaxManifestSize: 4 << 20, DeleteEnabled: true, ManifestCacheSize: 16 << 20, UploadLease: time.Minute,
			UploadSessionsPerRepository: 1000, UploadSessionsPerClient: 100, UploadEmptyTTL: 15 * time.Minute},
		Auth:        defaultAuth(),
		Audit:       defaultAudit(),
		Anomaly:     defaultAnomaly(),
		Replication: defaultReplication(),
		Scan:        defaultScan(),
		GC:          defaultGC(),
		Backup:      defaultBackup(),
		Events:      defaultEvents(),
		Jobs:        defaultJobs(),
		Policy:      defaultPolicy(),
		UI:          defaultUI(),
		RateLimit:   defaultRateLimit(),
	}
}

// Overrides are command-line values that win over the file and environment.
type Overrides struct {
	Addr string
	Data string
}

// Load builds the configuration: defaults, then the YAML file (if path is
// not empty), then BERTH_* variables from env, then overrides; it fills in
// derived defaults and validates.
func Load(path string, env []string, o Overrides) (*Config, error) {
	c := Default()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		if err := Decode(f, c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	return Finish(c, env, o)
}

// Finish completes a configuration that was read from a file (Berth's own,
// or another registry's mapped onto it): BERTH_* variables from env, then
// overrides, then derived defaults, then validation.
func Finish(c *Config, env []string, o Overrides) (*Config, error) {
	if err := ApplyEnv(c, env); err != nil {
		return nil, err
	}
	if o.Addr != "" {
		c.HTTP.Addr = o.Addr
	}
	if o.Data != "" {
		c.Data = o.Data
	}
	c.derive()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Decode reads YAML into c strictly: unknown keys and trailing documents
// are errors. Durations take a unit, or are a bare 0 (duration.go).
func Decode(r io.Reader, c *Config) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if data, err = fixDurations(data, reflect.TypeOf(c).Elem()); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("more than one YAML document")
	}
	return nil
}

// derive fills in defaults that depend on other settings.
func (c *Config) derive() {
	if c.Storage.Filesystem.Root == "" {
		c.Storage.Filesystem.Root = filepath.Join(c.Data, "blobs")
	}
	if c.Database.SQLite.Path == "" {
		c.Database.SQLite.Path = filepath.Join(c.Data, "berth.db")
	}
	c.Proxy.derive(c.Data)
}

// Validate checks the configuration as a whole.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Version != Version {
		bad("version: %d is not supported (this build reads version %d)", c.Version, Version)
	}
	if c.HTTP.Addr == "" {
		bad("http.addr: must not be empty")
	}
	if (c.HTTP.TLS.Certificate == "") != (c.HTTP.TLS.Key == "") {
		bad("http.tls: certificate and key must be set together")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout}, {"http.shutdown_timeout", c.HTTP.ShutdownTimeout}, {"http.body_idle_timeout", c.HTTP.BodyIdleTimeout}} {
		if d.v < 0 {
			bad("%s: must not be negative", d.name)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		bad("log.format: %q is not one of auto, json, text", c.Log.Format)
	}
	switch c.Storage.Driver {
	case "filesystem":
	case "s3":
		if c.Storage.S3.Bucket == "" {
			bad("storage.s3.bucket: required with storage.driver s3")
		}
		if p := c.Storage.S3.PartSize; p != 0 && (p < 5<<20 || p > 5<<30) {
			bad("storage.s3.part_size: %d is outside 5MiB..5GiB", p)
		}
	case "azure":
		a := c.Storage.Azure
		if a.Container == "" {
			bad("storage.azure.container: required with storage.driver azure")
		}
		if a.AccountName == "" && a.Endpoint == "" {
			bad("storage.azure.account_name: required with storage.driver azure (or storage.azure.endpoint)")
		}
		if a.AccountKey != "" && a.SASToken != "" {
			bad("storage.azure.sas_token: set either account_key or sas_token, not both")
		}
		if p := a.BlockSize; p != 0 && (p < 1<<20 || p > 4000<<20) {
			bad("storage.azure.block_size: %d is outside 1MiB..4000MiB", p)
		}
	case "gcs":
		g := c.Storage.GCS
		if g.Bucket == "" {
			bad("storage.gcs.bucket: required with storage.driver gcs")
		}
		if p := g.ChunkSize; p < 0 || p > 1<<30 || p%(256<<10) != 0 {
			bad("storage.gcs.chunk_size: %d is not a multiple of 256KiB up to 1GiB", p)
		}
		if g.Endpoint != "" {
			if u, err := url.Parse(g.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("storage.gcs.endpoint: %q is not an http(s) URL", g.Endpoint)
			}
		}
		if g.Anonymous && g.Endpoint == "" {
			bad("storage.gcs.anonymous: only with storage.gcs.endpoint (an emulator)")
		}
	default:
		bad("storage.driver: %q is not supported (filesystem, s3, azure, gcs)", c.Storage.Driver)
	}
	if c.Storage.Redirect.Enabled && c.Storage.Redirect.Expiry < time.Minute {
		bad("storage.redirect.expiry: at least 1m")
	}
	if a := c.Storage.Distribution; a.Enabled && c.Storage.Driver != "s3" && a.Root == "" {
		bad("storage.distribution.root: required with the filesystem driver (Distribution's rootdirectory)")
	}
	switch c.Database.Driver {
	case "sqlite":
	case "postgres":
		if c.Database.Postgres.DSN == "" {
			bad("database.postgres.dsn: required with database.driver postgres")
		}
		if c.Database.Postgres.MaxConns < 0 {
			bad("database.postgres.max_conns: must not be negative")
		}
	default:
		bad("database.driver: %q is not supported (sqlite, postgres)", c.Database.Driver)
	}
	if c.Registry.MaxManifestSize < 1024 || c.Registry.MaxManifestSize > 64<<20 {
		bad("registry.max_manifest_size: %d is outside 1KiB..64MiB", c.Registry.MaxManifestSize)
	}
	if c.Registry.UploadLease < time.Second || c.Registry.UploadLease > time.Hour {
		bad("registry.upload_lease: %v is outside 1s..1h", c.Registry.UploadLease)
	}
	if c.Registry.UploadSessionsPerRepository < 0 || c.Registry.UploadSessionsPerClient < 0 {
		bad("registry.upload_sessions_per_repository, upload_sessions_per_client: must not be negative (0: no cap)")
	}
	if c.Registry.UploadEmptyTTL < time.Second {
		bad("registry.upload_empty_ttl: %v is less than 1s", c.Registry.UploadEmptyTTL)
	}
	c.Proxy.validate(bad)
	if _, err := c.HTTP.TrustedProxyPrefixes(); err != nil {
		bad("%v", err)
	}
	c.Auth.validate(bad)
	c.Audit.validate(bad)
	c.Anomaly.validate(bad)
	c.Replication.validate(bad)
	c.Scan.validate(bad)
	if err := c.validateGC(); err != nil {
		errs = append(errs, err)
	}
	c.Backup.validate(bad)
	c.Policy.validate(bad)
	c.Metrics.validate(bad)
	c.UI.validate(bad)
	c.Events.validate(bad)
	c.RateLimit.validate(bad)
	return errors.Join(errs...)
}
