// Package gctest is a minimal registry client for garbage collection
// tests: monolithic blob pushes, mounts, manifest pushes, tag deletes,
// pulls with every digest checked.
package gctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/opencontainers/go-digest"
)

type Client struct {
	Base string
	HTTP *http.Client
}

type Image struct {
	Repo, Tag string
	Manifest  []byte
	Digest    digest.Digest
	Blobs     map[digest.Digest][]byte // config and layers
}

// Do sends a request and reads the whole answer.
func (c *Client) Do(method, path string, hdr http.Header, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// PushBlob uploads content to repo (mounting it from `from` when set).
func (c *Client) PushBlob(repo string, content []byte, from string) error {
	d := digest.FromBytes(content)
	if from != "" {
		resp, _, err := c.Do("POST", "/v2/"+repo+"/blobs/uploads/?mount="+d.String()+"&from="+from, nil, nil)
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
		resp, body, err := c.Do("PUT", u.RequestURI(), http.Header{"Content-Type": {"application/octet-stream"}}, content)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("finish upload %s: %d %s", d, resp.StatusCode, body)
		}
		return nil
	}
	resp, body, err := c.Do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(),
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

// NewImage builds an image of the given layers and a unique config.
func NewImage(repo, tag string, layers ...[]byte) *Image {
	img := &Image{Repo: repo, Tag: tag, Blobs: map[digest.Digest][]byte{}}
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
	img.Blobs[digest.FromBytes(config)] = config
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", digest.FromBytes(l), len(l)})
		img.Blobs[digest.FromBytes(l)] = l
	}
	img.Manifest, _ = json.Marshal(m)
	img.Digest = digest.FromBytes(img.Manifest)
	return img
}

// Push pushes the image's blobs (mounting from `from` when set) and its manifest.
func (c *Client) Push(img *Image, from string) error {
	for _, b := range img.Blobs {
		if err := c.PushBlob(img.Repo, b, from); err != nil {
			return err
		}
	}
	resp, body, err := c.Do("PUT", "/v2/"+img.Repo+"/manifests/"+img.Tag, http.Header{"Content-Type": {manifestType}}, img.Manifest)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("push manifest %s:%s: %d %s", img.Repo, img.Tag, resp.StatusCode, body)
	}
	return nil
}

// Pull pulls the image by tag and checks every digest.
func (c *Client) Pull(img *Image) error {
	resp, body, err := c.Do("GET", "/v2/"+img.Repo+"/manifests/"+img.Tag, http.Header{"Accept": {manifestType}}, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || digest.FromBytes(body) != img.Digest {
		return fmt.Errorf("pull %s:%s manifest: %d %.200s", img.Repo, img.Tag, resp.StatusCode, body)
	}
	for d := range img.Blobs {
		resp, body, err := c.Do("GET", "/v2/"+img.Repo+"/blobs/"+d.String(), nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || digest.FromBytes(body) != d {
			return fmt.Errorf("pull %s:%s blob %s: %d %.200s", img.Repo, img.Tag, d, resp.StatusCode, body)
		}
	}
	return nil
}

// DeleteTag deletes a tag.
func (c *Client) DeleteTag(repo, tag string) error {
	resp, body, err := c.Do("DELETE", "/v2/"+repo+"/manifests/"+tag, nil, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("delete %s:%s: %d %s", repo, tag, resp.StatusCode, body)
	}
	return nil
}
