package oci

import (
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types Berth accepts.
const (
	MediaTypeImageManifest  = v1.MediaTypeImageManifest
	MediaTypeImageIndex     = v1.MediaTypeImageIndex
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	// Docker schema 1 is refused: it is deprecated and unsigned schema 1
	// cannot be verified.
	MediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeEmptyJSON           = v1.MediaTypeEmptyJSON
)

// IsIndexType reports whether mt is a manifest type that lists other manifests.
func IsIndexType(mt string) bool {
	return mt == MediaTypeImageIndex || mt == MediaTypeDockerList
}

// IsManifestType reports whether mt is a manifest type Berth stores.
func IsManifestType(mt string) bool {
	switch mt {
	case MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerList:
		return true
	}
	return false
}

// IsSchema1 reports whether mt is a Docker schema 1 manifest type.
func IsSchema1(mt string) bool {
	return mt == MediaTypeDockerSchema1 || mt == MediaTypeDockerSchema1Signed || mt == "application/json"
}
