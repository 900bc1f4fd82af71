package gcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// Config selects a bucket and says how to reach it. Bucket is required.
type Config struct {
	// Bucket holds the objects; it must exist.
	Bucket string
	// Prefix is the root directory inside the bucket ("" for the top).
	Prefix string
	// CredentialsFile is a service account's JSON key. It authenticates the
	// requests and signs redirect URLs. Empty: application default
	// credentials (GOOGLE_APPLICATION_CREDENTIALS, the gcloud user, the
	// metadata server of GCE, GKE, Cloud Run), which cannot sign URLs here.
	CredentialsFile string
	// Endpoint is the JSON API's base URL, for emulators and private
	// endpoints ("http://127.0.0.1:4443"; "/storage/v1/" is appended to a
	// URL without a path). Empty: Google's.
	Endpoint string
	// Anonymous sends requests without credentials (emulators); it needs
	// an Endpoint. A CredentialsFile then only signs redirect URLs.
	Anonymous bool
	// ChunkSize is what a writer holds in memory and sends as one request
	// of its resumable upload. 0 means 16 MiB; a multiple of 256 KiB, at
	// most 1 GiB.
	ChunkSize int64
}

// Limits of this driver's configuration (GCS wants resumable chunks in
// multiples of 256 KiB).
const (
	chunkQuantum     = 256 << 10
	maxChunkSize     = 1 << 30
	defaultChunkSize = 16 << 20
)

// signer signs redirect URLs with a service account's key, for a host.
type signer struct {
	email    string
	key      []byte // PEM
	host     string // "" for storage.googleapis.com
	insecure bool   // http URLs (emulators)
}

// New returns a driver for the bucket, after checking with a one-object
// listing that it exists and the credentials may list it.
func New(ctx context.Context, c Config) (*Driver, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("gcs storage: %w", err)
	}
	d := &Driver{cfg: c, chunkSize: int(c.ChunkSize), maxComp: maxComponents}
	if d.chunkSize == 0 {
		d.chunkSize = defaultChunkSize
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		d.prefix = p + "/"
	}
	var opts []option.ClientOption
	if c.CredentialsFile != "" {
		s, err := readKey(c.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("gcs storage: credentials_file: %w", err)
		}
		d.signer = s
		if !c.Anonymous {
			opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, c.CredentialsFile))
		}
	}
	if c.Anonymous {
		opts = append(opts, option.WithoutAuthentication())
	}
	if c.Endpoint != "" {
		ep := c.endpoint()
		opts = append(opts, option.WithEndpoint(ep))
		if d.signer != nil {
			u, _ := url.Parse(ep) // validated
			d.signer.host, d.signer.insecure = u.Host, u.Scheme == "http"
		}
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcs storage: %w", err)
	}
	d.client, d.bkt = client, client.Bucket(c.Bucket)
	it := d.bkt.Objects(ctx, &storage.Query{Prefix: d.prefix})
	it.PageInfo().MaxSize = 1
	if _, err := it.Next(); err != nil && err != iterator.Done {
		client.Close()
		return nil, fmt.Errorf("gcs storage: bucket %q is not reachable (check bucket, endpoint and credentials): %w", c.Bucket, err)
	}
	return d, nil
}

// readKey reads a service account's JSON key for its email and private key.
func readKey(file string) (*signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var k struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("%s is not a JSON key: %v", file, err)
	}
	if k.Type != "service_account" || k.ClientEmail == "" || k.PrivateKey == "" {
		return nil, fmt.Errorf("%s is not a service account key (type %q; want service_account with client_email and private_key)", file, k.Type)
	}
	return &signer{email: k.ClientEmail, key: []byte(k.PrivateKey)}, nil
}

func (c Config) validate() error {
	if c.Bucket == "" {
		return errors.New("bucket is empty")
	}
	if c.ChunkSize < 0 || c.ChunkSize > maxChunkSize || c.ChunkSize%chunkQuantum != 0 {
		return fmt.Errorf("chunk size %d is not a multiple of 256 KiB up to 1 GiB", c.ChunkSize)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("endpoint %q is not an http(s) URL without a query", c.Endpoint)
		}
	}
	if c.Anonymous && c.Endpoint == "" {
		return errors.New("anonymous needs an endpoint (it is for emulators)")
	}
	return nil
}

// endpoint is the JSON API base URL: Endpoint, with /storage/v1/ when it
// has no path.
func (c Config) endpoint() string {
	u, _ := url.Parse(c.Endpoint)
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/storage/v1/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String()
}
