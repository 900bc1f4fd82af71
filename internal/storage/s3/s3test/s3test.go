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
	"bytes"
	"context"
	"errors"
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
	cmd      *exec.Cmd
	dir      string
	endpoint string
	client   *s3.Client
	exited   chan struct{}
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
	bin, err := minioBinary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("s3test: %v", err)
		}
		t.Skipf("s3test: %v", err)
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
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}

// minioBinary finds minio in <repo>/.tools/bin, the repository being the
// nearest directory above the working directory with a go.mod, or on PATH.
func minioBinary() (string, error) {
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				bin := filepath.Join(dir, ".tools", "bin", "minio")
				if _, err := os.Stat(bin); err == nil {
					return bin, nil
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	bin, err := exec.LookPath("minio")
	if err != nil {
		return "", errors.New("no minio binary in .tools/bin or on PATH")
	}
	return bin, nil
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
	logFile, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
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
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	s := &server{cmd: cmd, dir: dir, endpoint: "http://" + addr, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		cmd.Process.Kill()
		<-s.exited
		out, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("minio did not start: %v\n%s", err, tail(out, 2000))
	}
	s.client = s3.New(s3.Options{
		Region: region, BaseEndpoint: aws.String(s.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	return s, nil
}

func (s *server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-s.exited:
			return errors.New("minio exited")
		default:
		}
		resp, err := direct.Get(s.endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// direct ignores any HTTP proxy from the environment.
var direct = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return bytes.TrimSpace(b)
}
