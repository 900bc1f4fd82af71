package s3

import (
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/internal/storage"
)

// Hooks for the external tests.

// SetCopyLimits lowers the size above which Move copies in parts, and the
// size of those parts, so tests can exercise the multipart copy.
func SetCopyLimits(d *Driver, maxCopy, copyPart int64) { d.maxCopy, d.copyPart = maxCopy, copyPart }

// BufferCap is the capacity of a writer's part buffer.
func BufferCap(w storage.FileWriter) int { return cap(w.(*writer).buf) }

// Client is the driver's SDK client.
func Client(d *Driver) *s3.Client { return d.client }

// Bucket is the driver's bucket.
func Bucket(d *Driver) string { return d.bucket }
