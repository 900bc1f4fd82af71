package s3test

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	berths3 "github.com/berth-registry/berth/internal/storage/s3"
	"github.com/berth-registry/berth/internal/testproc"
)

// Standalone is a MinIO server started outside of a test binary (for the
// benchmark harness); Close stops it and removes its data.
type Standalone struct{ s *server }

// StartStandalone starts a private MinIO server on a free loopback port.
func StartStandalone() (*Standalone, error) {
	bin, err := testproc.Find("minio", "")
	if err != nil {
		return nil, err
	}
	s, err := startServer(bin)
	if err != nil {
		return nil, err
	}
	return &Standalone{s: s}, nil
}

// CreateBucket creates an empty bucket and returns the Config to reach it.
func (m *Standalone) CreateBucket(ctx context.Context, bucket string) (berths3.Config, error) {
	if _, err := m.s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		return berths3.Config{}, err
	}
	return berths3.Config{
		Bucket: bucket, Region: region, Endpoint: m.s.endpoint, PathStyle: true,
		AccessKey: AccessKey, SecretKey: SecretKey,
	}, nil
}

// Close stops the server by its PID.
func (m *Standalone) Close() { m.s.shutdown() }
