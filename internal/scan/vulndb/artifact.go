package vulndb

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// The OCI artifact of a vulnerability database: an image manifest of
// ArtifactType with the empty config and one LayerMediaType layer per
// ecosystem (a gzip tar of that ecosystem's OSV JSON files), annotated
// with the build time and counts.
const (
	ArtifactType       = "application/vnd.berth.vulndb.osv.v1"
	LayerMediaType     = "application/vnd.berth.vulndb.osv.layer.v1.tar+gzip"
	AnnotationCreated  = v1.AnnotationCreated         // build time, RFC 3339
	AnnotationTitle    = v1.AnnotationTitle           // a layer's ecosystem
	AnnotationCount    = "io.berth.vulndb.advisories" // advisories in the artifact or layer
	emptyConfigContent = "{}"
)

// ErrNoAdvisories: the import found no OSV file.
var ErrNoAdvisories = errors.New("vulndb: no OSV advisories found")

// Blob is a layer or config of a built artifact.
type Blob struct {
	Descriptor v1.Descriptor
	Data       []byte
}

// Artifact is a built database, ready to push.
type Artifact struct {
	Manifest []byte
	Config   Blob
	Layers   []Blob
	Count    int
}

// builder gathers OSV files per ecosystem into gzip tars.
type builder struct {
	layers map[string]*layerBuf
}

type layerBuf struct {
	buf   bytes.Buffer
	zw    *gzip.Writer
	tw    *tar.Writer
	count int
	names map[string]bool
}

// add files one advisory under its first affected ecosystem.
func (b *builder) add(name string, data []byte) error {
	a, err := Decode(data)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	eco := "unknown"
	if len(a.Affected) > 0 {
		eco, _ = baseEcosystem(a.Affected[0].Ecosystem)
	}
	l := b.layers[eco]
	if l == nil {
		l = &layerBuf{names: map[string]bool{}}
		l.zw = gzip.NewWriter(&l.buf)
		l.tw = tar.NewWriter(l.zw)
		b.layers[eco] = l
	}
	file := a.ID + ".json"
	if l.names[file] {
		return nil // the same advisory from two sources
	}
	l.names[file] = true
	l.count++
	if err := l.tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = l.tw.Write(data)
	return err
}

// Build packs the OSV files found in paths (directories, searched
// recursively for *.json, or zip files as osv.dev publishes them) into an
// artifact built at builtAt.
func Build(paths []string, builtAt time.Time) (*Artifact, error) {
	b := &builder{layers: map[string]*layerBuf{}}
	for _, p := range paths {
		if err := b.addPath(p); err != nil {
			return nil, err
		}
	}
	if len(b.layers) == 0 {
		return nil, ErrNoAdvisories
	}
	ecos := make([]string, 0, len(b.layers))
	for e := range b.layers {
		ecos = append(ecos, e)
	}
	sort.Strings(ecos)
	art := &Artifact{Config: Blob{Data: []byte(emptyConfigContent)}}
	art.Config.Descriptor = v1.Descriptor{MediaType: v1.MediaTypeEmptyJSON, Digest: digest.FromBytes(art.Config.Data), Size: 2}
	for _, e := range ecos {
		l := b.layers[e]
		if err := l.tw.Close(); err != nil {
			return nil, err
		}
		if err := l.zw.Close(); err != nil {
			return nil, err
		}
		data := l.buf.Bytes()
		art.Layers = append(art.Layers, Blob{Data: data, Descriptor: v1.Descriptor{MediaType: LayerMediaType,
			Digest: digest.FromBytes(data), Size: int64(len(data)),
			Annotations: map[string]string{AnnotationTitle: e, AnnotationCount: strconv.Itoa(l.count)}}})
		art.Count += l.count
	}
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, ArtifactType: ArtifactType, Config: art.Config.Descriptor,
		Annotations: map[string]string{AnnotationCreated: builtAt.UTC().Format(time.RFC3339), AnnotationCount: strconv.Itoa(art.Count)}}
	m.SchemaVersion = 2
	for _, l := range art.Layers {
		m.Layers = append(m.Layers, l.Descriptor)
	}
	var err error
	art.Manifest, err = json.Marshal(m)
	return art, err
}

func (b *builder) addPath(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		if strings.HasSuffix(p, ".zip") {
			return b.addZip(p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return b.add(p, data)
	}
	return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case strings.HasSuffix(path, ".zip"):
			return b.addZip(path)
		case strings.HasSuffix(path, ".json"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return b.add(path, data)
		}
		return nil
	})
}

func (b *builder) addZip(p string) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", p, f.Name, err)
		}
		if err := b.add(p+":"+f.Name, data); err != nil {
			return err
		}
	}
	return nil
}

// Opener opens a blob of the artifact.
type Opener func(ctx context.Context, dgst digest.Digest) (io.ReadCloser, error)

// Load reads an artifact (its manifest, whose digest is the version) into
// an index. Advisories that do not decode are skipped and counted.
func Load(ctx context.Context, manifest []byte, open Opener) (*Index, int, error) {
	var m v1.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, 0, fmt.Errorf("vulndb: manifest: %w", err)
	}
	if m.ArtifactType != ArtifactType {
		return nil, 0, fmt.Errorf("vulndb: artifact type %q, want %q", m.ArtifactType, ArtifactType)
	}
	builtAt, _ := time.Parse(time.RFC3339, m.Annotations[AnnotationCreated])
	var advs []Advisory
	skipped := 0
	for _, l := range m.Layers {
		if l.MediaType != LayerMediaType {
			continue
		}
		rc, err := open(ctx, l.Digest)
		if err != nil {
			return nil, 0, fmt.Errorf("vulndb: layer %s: %w", l.Digest, err)
		}
		n, err := readLayer(rc, func(data []byte) {
			a, err := Decode(data)
			if err != nil {
				skipped++
				return
			}
			advs = append(advs, a)
		})
		rc.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("vulndb: layer %s after %d files: %w", l.Digest, n, err)
		}
	}
	return NewIndex(digest.FromBytes(manifest).String(), builtAt, advs), skipped, nil
}

func readLayer(r io.Reader, fn func([]byte)) (int, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if h.Typeflag != tar.TypeReg || h.Size > 64<<20 {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return n, err
		}
		fn(data)
		n++
	}
}
