package azure

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Config selects a container and says how to reach it. Container and either
// AccountName or Endpoint are required.
type Config struct {
	// AccountName is the storage account. With AccountKey it signs requests
	// (Shared Key) and redirect URLs (service SAS).
	AccountName string
	// AccountKey is the account's base64 access key. Empty: SASToken, or
	// else the default Azure credential chain (environment, workload
	// identity, managed identity, Azure CLI).
	AccountKey string
	// SASToken is a container or account SAS ("sv=...&sig=..."), with
	// read, add, create, write, delete and list permissions. Such a driver
	// cannot sign redirect URLs.
	SASToken string
	// Container holds the blobs; it must exist.
	Container string
	// Prefix is the root directory inside the container ("" for the top).
	Prefix string
	// Endpoint is the blob service URL. Empty:
	// https://<AccountName>.blob.core.windows.net. Azurite:
	// http://127.0.0.1:10000/<account>; sovereign clouds: their own suffix,
	// such as https://<account>.blob.core.chinacloudapi.cn.
	Endpoint string
	// PublicEndpoint replaces Endpoint in redirect (SAS) URLs, for when
	// clients reach the store at another address than the registry (a
	// proxy, a CDN in front of the account). The SAS does not sign the host.
	PublicEndpoint string
	// BlockSize is what a writer holds in memory and stages as one block.
	// 0 means 16 MiB; at least 1 MiB, at most 4000 MiB.
	BlockSize int64
}

// Limits of this driver's configuration (Azure allows blocks of up to
// 4000 MiB; the smallest is ours, to keep the block count low).
const (
	minBlockSize     = 1 << 20
	maxBlockSize     = 4000 << 20
	defaultBlockSize = 16 << 20
)

// New returns a driver for the container, after checking with a one-blob
// listing that it exists and the credentials may list it.
func New(ctx context.Context, c Config) (*Driver, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("azure storage: %w", err)
	}
	d := &Driver{cfg: c, blockSize: c.BlockSize, serviceURL: c.serviceURL()}
	if d.blockSize == 0 {
		d.blockSize = defaultBlockSize
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		d.prefix = p + "/"
	}
	containerURL := d.serviceURL + url.PathEscape(c.Container)
	var err error
	switch {
	case c.AccountKey != "":
		d.key, err = container.NewSharedKeyCredential(c.AccountName, c.AccountKey)
		if err != nil {
			return nil, fmt.Errorf("azure storage: account key: %w", err)
		}
		d.client, err = container.NewClientWithSharedKeyCredential(containerURL, d.key, nil)
	case c.SASToken != "":
		d.client, err = container.NewClientWithNoCredential(containerURL+"?"+strings.TrimPrefix(c.SASToken, "?"), nil)
	default:
		var cred azcore.TokenCredential
		cred, err = azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("azure storage: default credential: %w", err)
		}
		d.client, err = container.NewClient(containerURL, cred, nil)
		if err == nil {
			d.service, err = service.NewClient(d.serviceURL, cred, nil)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("azure storage: %w", err)
	}
	one := int32(1)
	pager := d.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: &one})
	if _, err := pager.NextPage(ctx); err != nil {
		return nil, fmt.Errorf("azure storage: container %q at %s is not reachable (check account, container, endpoint and credentials): %w",
			c.Container, d.serviceURL, err)
	}
	return d, nil
}

func (c Config) validate() error {
	if c.Container == "" {
		return errors.New("container is empty")
	}
	if c.AccountName == "" && c.Endpoint == "" {
		return errors.New("account name or endpoint is required")
	}
	if c.AccountKey != "" && c.SASToken != "" {
		return errors.New("account key and SAS token are exclusive")
	}
	if c.AccountKey != "" && c.AccountName == "" {
		return errors.New("an account key needs the account name")
	}
	if c.BlockSize != 0 && (c.BlockSize < minBlockSize || c.BlockSize > maxBlockSize) {
		return fmt.Errorf("block size %d not between 1 MiB and 4000 MiB", c.BlockSize)
	}
	for _, e := range []string{c.Endpoint, c.PublicEndpoint} {
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("endpoint %q is not an http(s) URL without a query", e)
		}
	}
	return nil
}

// serviceURL is the blob service URL, ending in "/".
func (c Config) serviceURL() string {
	if c.Endpoint == "" {
		return "https://" + c.AccountName + ".blob.core.windows.net/"
	}
	return strings.TrimSuffix(c.Endpoint, "/") + "/"
}
