package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	v1types "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/internal/scan/vulndb"
)

const vulndbUsage = `usage: berth vulndb import --to HOST[:PORT]/REPOSITORY [--tag TAG] [--username U] [--insecure] DIR|ZIP...

Builds a vulnerability database artifact from OSV advisories (directories
of OSV JSON files, or zip files as https://osv-vulnerabilities.storage.googleapis.com/ECOSYSTEM/all.zip
publishes them) and pushes it to a registry, tagged TAG (default latest)
and with its build time (YYYYMMDDTHHMMSSZ). Berth instances load the newest
one from the repository scan.database names (docs/scanning.md). The
password comes from BERTH_VULNDB_PASSWORD; without --username the
docker credential helpers and config are used.
`

// vulndbCommand runs `berth vulndb ...`.
func vulndbCommand(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprint(stderr, vulndbUsage)
		return errors.New("usage: berth vulndb import --to REPOSITORY DIR|ZIP...")
	}
	fs := flag.NewFlagSet("vulndb import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "repository to push to, HOST[:PORT]/NAME")
	tag := fs.String("tag", "latest", "tag to move to the new version")
	user := fs.String("username", "", "user or robot name (password from BERTH_VULNDB_PASSWORD)")
	insecure := fs.Bool("insecure", false, "use plain HTTP")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *to == "" || fs.NArg() == 0 {
		fmt.Fprint(stderr, vulndbUsage)
		return errors.New("vulndb import: --to and at least one DIR or ZIP are required")
	}
	var opts []name.Option
	if *insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(*to, opts...)
	if err != nil {
		return fmt.Errorf("vulndb import: --to: %w", err)
	}
	builtAt := time.Now().UTC()
	art, err := vulndb.Build(fs.Args(), builtAt)
	if err != nil {
		return fmt.Errorf("vulndb import: %w", err)
	}
	ropts := []remote.Option{remote.WithContext(ctx)}
	if *user != "" {
		ropts = append(ropts, remote.WithAuth(&authn.Basic{Username: *user, Password: lookupEnv(env, "BERTH_VULNDB_PASSWORD")}))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	for _, b := range append([]vulndb.Blob{art.Config}, art.Layers...) {
		if err := remote.WriteLayer(repo, static.NewLayer(b.Data, v1types.MediaType(b.Descriptor.MediaType)), ropts...); err != nil {
			return fmt.Errorf("vulndb import: pushing %s: %w", b.Descriptor.Digest, err)
		}
	}
	m := rawManifest(art.Manifest)
	for _, t := range []string{builtAt.Format("20060102T150405Z"), *tag} {
		if err := remote.Put(repo.Tag(t), m, ropts...); err != nil {
			return fmt.Errorf("vulndb import: pushing the manifest: %w", err)
		}
	}
	fmt.Fprintf(stdout, "pushed %s:%s (%d advisories in %d ecosystems, built %s)\n", repo, *tag, art.Count, len(art.Layers),
		builtAt.Format(time.RFC3339))
	return nil
}

// rawManifest is a manifest pushed as it is.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)          { return m, nil }
func (m rawManifest) MediaType() (v1types.MediaType, error) { return v1types.OCIManifestSchema1, nil }

// lookupEnv finds key in an environment list.
func lookupEnv(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
