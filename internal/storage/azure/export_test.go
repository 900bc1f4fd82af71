package azure

import (
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/berth-registry/berth/internal/storage"
)

// Hooks for the external tests.

// BufferCap is the capacity of a writer's block buffer.
func BufferCap(w storage.FileWriter) int { return cap(w.(*writer).buf) }

// Client is the driver's container client.
func Client(d *Driver) *container.Client { return d.client }

// SetBlockSize lowers the block size below the configurable minimum, so
// tests exercise many blocks with little data.
func SetBlockSize(d *Driver, n int64) { d.blockSize = n }

// ContainerSAS is a SAS token for the driver's whole container, signed with
// its account key.
func ContainerSAS(d *Driver, expires time.Duration) (string, error) {
	u, err := d.client.GetSASURL(sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true},
		time.Now().Add(expires), nil)
	if err != nil {
		return "", err
	}
	_, q, _ := strings.Cut(u, "?")
	return q, nil
}
