package s3

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Config selects a bucket and says how to reach it. Only Bucket is required
// on AWS; S3-compatible stores also need Endpoint and usually PathStyle.
type Config struct {
	// Bucket holds the objects; it must exist.
	Bucket string
	// Prefix is the root directory inside the bucket ("" for the top).
	Prefix string
	// Region of the bucket. Empty: the AWS environment (AWS_REGION, profile),
	// else "us-east-1", which S3-compatible stores generally accept.
	Region string
	// Endpoint is the store's base URL, such as "https://minio.example:9000".
	// Empty: AWS S3.
	Endpoint string
	// PublicEndpoint replaces Endpoint in redirect (presigned) URLs, for
	// when clients reach the store at another address than the registry.
	PublicEndpoint string
	// PathStyle addresses the bucket as <endpoint>/<bucket> rather than
	// <bucket>.<endpoint> (MinIO and most self-hosted stores want it).
	PathStyle bool
	// AccessKey and SecretKey (with SessionToken for temporary keys) are
	// static credentials. Empty: the standard AWS credential chain
	// (environment, shared files, web identity, ECS/EC2 roles).
	AccessKey, SecretKey, SessionToken string
	// ServerSideEncryption is "", "AES256" (SSE-S3) or "aws:kms" (SSE-KMS,
	// with KMSKeyID or else the account's default key).
	ServerSideEncryption string
	KMSKeyID             string
	// StorageClass for stored files ("" for the bucket default, "STANDARD",
	// "INTELLIGENT_TIERING", ...). Session side objects always use the default.
	StorageClass string
	// PartSize is the multipart part size: what a writer holds in memory and
	// uploads at once. 0 means 16 MiB; at least 5 MiB, at most 5 GiB.
	PartSize int64
	// CAFile is a PEM bundle of the CAs to trust for Endpoint (else the
	// system roots, or AWS_CA_BUNDLE). Insecure skips TLS verification.
	CAFile   string
	Insecure bool
}

// New returns a driver for the bucket, after checking with HeadBucket that
// it exists and the credentials may use it.
func New(ctx context.Context, c Config) (*Driver, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("s3 storage: %w", err)
	}
	client, err := newClient(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: %w", err)
	}
	presign := client
	if c.PublicEndpoint != "" {
		presign = s3.New(client.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String(c.PublicEndpoint) })
	}
	d := &Driver{
		client: client, presign: s3.NewPresignClient(presign), bucket: c.Bucket, cfg: c,
		partSize: c.PartSize, maxCopy: 5 << 30, copyPart: 512 << 20,
	}
	if d.partSize == 0 {
		d.partSize = defaultPartSize
	}
	d.copyPart = max(d.copyPart, d.partSize)
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		d.prefix = p + "/"
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &c.Bucket}); err != nil {
		where := c.Endpoint
		if where == "" {
			where = "AWS"
		}
		return nil, fmt.Errorf("s3 storage: bucket %q at %s is not reachable (check bucket, region, endpoint, path style and credentials): %w",
			c.Bucket, where, err)
	}
	return d, nil
}

func (c Config) validate() error {
	if c.Bucket == "" {
		return errors.New("bucket is empty")
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errors.New("access key and secret key must be set together")
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxPartSize) {
		return fmt.Errorf("part size %d not between 5 MiB and 5 GiB", c.PartSize)
	}
	switch c.ServerSideEncryption {
	case "", "AES256":
		if c.KMSKeyID != "" {
			return errors.New("a KMS key needs server-side encryption aws:kms")
		}
	case "aws:kms":
	default:
		return fmt.Errorf("server-side encryption %q is not \"\", AES256 or aws:kms", c.ServerSideEncryption)
	}
	for _, e := range []string{c.Endpoint, c.PublicEndpoint} {
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint %q is not an http(s) URL", e)
		}
	}
	return nil
}

// newClient builds the SDK client: the standard AWS configuration sources,
// overridden by what c sets.
func newClient(ctx context.Context, c Config) (*s3.Client, error) {
	httpClient := awshttp.NewBuildableClient()
	if c.Insecure {
		httpClient = httpClient.WithTransportOptions(func(t *http.Transport) {
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{}
			}
			t.TLSClientConfig.InsecureSkipVerify = true
		})
	}
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(httpClient)}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.SessionToken)))
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// The SDK's default checksums on every request (CRC32 headers and
		// trailers) break many S3-compatible stores: send them only where
		// an operation requires one. Blob digests are verified above us.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}
