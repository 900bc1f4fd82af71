package gc_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// A minimal registry client for the tests: monolithic blob pushes,
// mounts, manifest pushes, pulls with digest checks.

type client struct {
	base string
	http *http.Client
}

type image struct {
	repo, tag string
	manifest  []byte
	digest    digest.Digest
	blobs     map[digest.Digest][]byte // config and layers
}

func (c *client) do(method, path string, hdr http.Header, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// pushBlob uploads content to repo (mounting it from `from` when set).
func (c *client) pushBlob(repo string, content []byte, from string) error {
	d := digest.FromBytes(content)
	if from != "" {
		resp, _, err := c.do("POST", "/v2/"+repo+"/blobs/uploads/?mount="+d.String()+"&from="+from, nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusCreated {
			return nil
		}
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("mount %s: %d", d, resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		u, err := url.Parse(loc)
		if err != nil {
			return err
		}
		q := u.Query()
		q.Set("digest", d.String())
		u.RawQuery = q.Encode()
		resp, body, err := c.do("PUT", u.RequestURI(), http.Header{"Content-Type": {"application/octet-stream"}}, content)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("finish upload %s: %d %s", d, resp.StatusCode, body)
		}
		return nil
	}
	resp, body, err := c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(),
		http.Header{"Content-Type": {"application/octet-stream"}}, content)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("push blob %s: %d %s", d, resp.StatusCode, body)
	}
	return nil
}

const manifestType = "application/vnd.oci.image.manifest.v1+json"

// newImage builds an image of the given layers and a unique config.
func newImage(repo, tag string, layers ...[]byte) *image {
	img := &image{repo: repo, tag: tag, blobs: map[digest.Digest][]byte{}}
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","comment":%q}`, repo+":"+tag))
	type desc struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int           `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, manifestType, desc{"application/vnd.oci.image.config.v1+json", digest.FromBytes(config), len(config)}, []desc{}}
	img.blobs[digest.FromBytes(config)] = config
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", digest.FromBytes(l), len(l)})
		img.blobs[digest.FromBytes(l)] = l
	}
	img.manifest, _ = json.Marshal(m)
	img.digest = digest.FromBytes(img.manifest)
	return img
}

// push pushes the image's blobs (mounting from `from` when set) and its manifest.
func (c *client) push(img *image, from string) error {
	for _, b := range img.blobs {
		if err := c.pushBlob(img.repo, b, from); err != nil {
			return err
		}
	}
	resp, body, err := c.do("PUT", "/v2/"+img.repo+"/manifests/"+img.tag, http.Header{"Content-Type": {manifestType}}, img.manifest)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("push manifest %s:%s: %d %s", img.repo, img.tag, resp.StatusCode, body)
	}
	return nil
}

// pull pulls the image by tag and checks every digest.
func (c *client) pull(img *image) error {
	resp, body, err := c.do("GET", "/v2/"+img.repo+"/manifests/"+img.tag, http.Header{"Accept": {manifestType}}, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || digest.FromBytes(body) != img.digest {
		return fmt.Errorf("pull %s:%s manifest: %d %.200s", img.repo, img.tag, resp.StatusCode, body)
	}
	for d := range img.blobs {
		resp, body, err := c.do("GET", "/v2/"+img.repo+"/blobs/"+d.String(), nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || digest.FromBytes(body) != d {
			return fmt.Errorf("pull %s:%s blob %s: %d %.200s", img.repo, img.tag, d, resp.StatusCode, body)
		}
	}
	return nil
}

func (c *client) deleteTag(repo, tag string) error {
	resp, body, err := c.do("DELETE", "/v2/"+repo+"/manifests/"+tag, nil, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("delete %s:%s: %d %s", repo, tag, resp.StatusCode, body)
	}
	return nil
}

func mustDo(t *testing.T, c *client, method, path string, body string) (int, string) {
	t.Helper()
	resp, b, err := c.do(method, path, http.Header{"Content-Type": {"application/json"}}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
