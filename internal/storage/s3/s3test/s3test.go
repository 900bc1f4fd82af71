// Package s3test runs a real MinIO server for tests of code that stores
// blobs in S3. One server serves the whole test binary; every Start gets a
// fresh bucket on it:
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
//
//	func TestX(t *testing.T) {
//		cfg := s3test.Start(t) // s3.Config for a new, empty bucket
//		d, err := s3.New(ctx, cfg)
//	}
//
// The minio binary is <repo>/.tools/bin/minio or found on PATH. Without
// it, Start skips the test, or fails it when CI=true.
package s3test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/internal/freeport"
	berths3 "github.com/berth-registry/berth/internal/storage/s3"
	"github.com/berth-registry/berth/internal/testproc"
)

// Credentials of the test server's root user.
const (
	AccessKey = "berth-test"
	SecretKey = "berth-test-secret"
	region    = "us-east-1"
)

var (
	once    sync.Once
	srv     *server
	srvErr  error
	buckets atomic.Int64
)

type server struct {
	proc     *testproc.Process
	dir      string
	endpoint string
	client   *s3.Client
}

// Main runs the tests, then stops the server if one was started. Use it
// as TestMain: os.Exit(s3test.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Start returns the Config of a new, empty bucket on the shared server,
// starting the server on first use. It clears the AWS_* environment for
// the test (AWS_CA_BUNDLE, AWS_PROFILE, ... would change how the SDK
// reaches the server), so it cannot be used in parallel tests.
func Start(t testing.TB) berths3.Config {
	t.Helper()
	bin, err := testproc.Find("minio", "")
	if err != nil {
		testproc.Missing(t, "s3test: %v", err)
	}
	once.Do(func() { srv, srvErr = startServer(bin) })
	if srvErr != nil {
		t.Fatalf("s3test: %v", srvErr)
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	bucket := fmt.Sprintf("berth-test-%d", buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", bucket, err)
	}
	return berths3.Config{
		Bucket: bucket, Region: region, Endpoint: srv.endpoint, PathStyle: true,
		AccessKey: AccessKey, SecretKey: SecretKey,
	}
}

// Stop stops the shared server (by its PID) and removes its data.
func Stop() {
	if srv == nil {
		return
	}
	srv.shutdown()
	srv = nil
}

// shutdown stops the server (SIGTERM, then SIGKILL after 10 s) and
// removes its data.
func (s *server) shutdown() {
	s.proc.Stop(syscall.SIGTERM, 10*time.Second)
	os.RemoveAll(s.dir)
}

func startServer(bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "berth-minio-")
	if err != nil {
		return nil, err
	}
	s, err := launch(bin, dir)
	if err != nil {
		os.RemoveAll(dir)
	}
	return s, err
}

func launch(bin, dir string) (*server, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	console, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"),
		"--address", addr, "--console-address", console, "--certs-dir", filepath.Join(dir, "certs"), "--quiet")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
	proc, err := testproc.Start(cmd, filepath.Join(dir, "minio.log"), syscall.SIGKILL)
	if err != nil {
		return nil, err
	}
	s := &server{proc: proc, dir: dir, endpoint: "http://" + addr}
	if err := proc.WaitReady(30*time.Second, 100*time.Millisecond, testproc.HTTPReady(s.endpoint+"/minio/health/ready", http.StatusOK)); err != nil {
		return nil, err
	}
	s.client = s3.New(s3.Options{
		Region: region, BaseEndpoint: aws.String(s.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	return s, nil
}
