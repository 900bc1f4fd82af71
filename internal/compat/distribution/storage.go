package distribution

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-registry/berth/internal/config"
)

// berthDir is the directory Berth keeps its own files in, inside
// Distribution's root directory (filesystem) or prefix (s3). Distribution's
// files (docker/registry/v2/...) are left as they are.
const berthDir = "berth"

// adoptNote is said of every storage mapping: what adoption does.
const adoptNote = "Distribution's images (docker/registry/v2/...) are adopted in place (storage.distribution): " +
	"`berth serve` indexes them into Berth's database at its first start (or run `berth import` beforehand) " +
	"and reads their blobs where they are; Berth never writes there, so Distribution can serve the directory again"

func mapStorage(d *Configuration, c *config.Config, r *Report) {
	typ, err := d.Storage.Type()
	if err != nil {
		r.refused("storage", "%v", err)
		return
	}
	p := d.Storage[typ]
	switch typ {
	case "":
		r.refused("storage", "no storage driver configured (Distribution refuses this too)")
	case "filesystem":
		r.checkKnown("storage.filesystem", p, "rootdirectory", "maxthreads")
		root, ok := paramString(p, "rootdirectory")
		if !ok || root == "" {
			root = "/var/lib/registry" // Distribution's default
		}
		c.Data = filepath.Join(root, berthDir)
		c.Storage.Distribution = config.Adoption{Enabled: true, Root: root}
		r.mapped("storage.filesystem.rootdirectory", "data", "Berth keeps its database and new blobs in %s (blobs under blobs/sha256/<2>/<digest>, uploads under uploads/). %s",
			c.Data, adoptNote)
		if _, ok := p["maxthreads"]; ok {
			r.ignored("storage.filesystem.maxthreads", "Go's runtime bounds Berth's file system threads")
		}
	case "s3":
		mapS3(p, c, r)
	default:
		r.refused("storage."+typ, "Berth's storage drivers are filesystem and s3")
	}
	mapStorageSections(d.Storage, c, r)
}

func mapS3(p Parameters, c *config.Config, r *Report) {
	const at = "storage.s3"
	r.checkKnown(at, p, "accesskey", "secretkey", "region", "regionendpoint", "forcepathstyle", "bucket", "encrypt",
		"keyid", "secure", "skipverify", "v4auth", "chunksize", "multipartcopychunksize", "multipartcopymaxconcurrency",
		"multipartcopythresholdsize", "rootdirectory", "storageclass", "useragent", "usedualstack", "objectacl",
		"sessiontoken", "accelerate", "loglevel", "maxrequestspersecond", "maxretries", "checksumdisabled", "checksumalgorithm")
	s := &c.Storage.S3
	c.Storage.Driver = "s3"
	str := func(key string, dst *string, to string) {
		if v, ok := paramString(p, key); ok && v != "" {
			*dst = v
			r.mapped(at+"."+key, "storage.s3."+to, "")
		}
	}
	boolean := func(key string) (bool, bool) {
		v, set, err := paramBool(p, key)
		if err != nil {
			r.refused(at+"."+key, "%v", err)
		}
		return v, set && err == nil
	}
	str("accesskey", &s.AccessKey, "access_key")
	str("secretkey", &s.SecretKey, "secret_key")
	str("sessiontoken", &s.SessionToken, "session_token")
	str("region", &s.Region, "region")
	str("bucket", &s.Bucket, "bucket")
	if s.Bucket == "" {
		r.refused(at+".bucket", "required")
	}
	secure := true
	if v, ok := boolean("secure"); ok {
		secure = v
	}
	if ep, ok := paramString(p, "regionendpoint"); ok && ep != "" {
		if !strings.Contains(ep, "://") {
			scheme := "https://"
			if !secure {
				scheme = "http://"
			}
			ep = scheme + ep
		}
		s.Endpoint = ep
		// Distribution 2.8 always addresses a custom endpoint by path.
		s.PathStyle = true
		r.mapped(at+".regionendpoint", "storage.s3.endpoint", "%s, path-style addressing unless forcepathstyle says otherwise", ep)
		if _, ok := p["secure"]; ok {
			r.mapped(at+".secure", "storage.s3.endpoint", "the endpoint's scheme")
		}
	} else if !secure {
		r.refused(at+".secure", "false: Berth always reaches AWS S3 over HTTPS")
	} else if _, ok := p["secure"]; ok {
		r.mapped(at+".secure", "(always)", "HTTPS")
	}
	if v, ok := boolean("forcepathstyle"); ok {
		s.PathStyle = v
		r.mapped(at+".forcepathstyle", "storage.s3.path_style", "")
	}
	if v, ok := boolean("skipverify"); ok {
		s.Insecure = v
		r.mapped(at+".skipverify", "storage.s3.insecure", "")
	}
	root, _ := paramString(p, "rootdirectory")
	root = strings.Trim(root, "/")
	if root != "" {
		s.Prefix = path.Join(root, berthDir)
	} else {
		s.Prefix = berthDir
	}
	c.Storage.Distribution = config.Adoption{Enabled: true, Root: root}
	r.mapped(at+".rootdirectory", "storage.s3.prefix", "Berth keeps its new blobs under %s/ in the bucket. %s", s.Prefix, adoptNote)
	if enc, ok := boolean("encrypt"); ok && enc {
		s.ServerSideEncryption = "AES256"
		if k, ok := paramString(p, "keyid"); ok && k != "" {
			s.ServerSideEncryption, s.KMSKeyID = "aws:kms", k
			r.mapped(at+".keyid", "storage.s3.kms_key_id", "")
		}
		r.mapped(at+".encrypt", "storage.s3.server_side_encryption", s.ServerSideEncryption)
	} else if _, ok := p["keyid"]; ok {
		r.ignored(at+".keyid", "encrypt is off, so Distribution does not use the key either")
	}
	if sc, ok := paramString(p, "storageclass"); ok {
		switch up := strings.ToUpper(sc); up {
		case "NONE", "":
			s.StorageClass = ""
		default:
			s.StorageClass = up
		}
		r.mapped(at+".storageclass", "storage.s3.storage_class", "")
	} else {
		s.StorageClass = "STANDARD" // Distribution's default
	}
	if n, set, err := paramInt(p, "chunksize"); err != nil {
		r.refused(at+".chunksize", "%v", err)
	} else if set {
		s.PartSize = config.ByteSize(n)
		r.mapped(at+".chunksize", "storage.s3.part_size", "")
	} else {
		s.PartSize = 10 << 20 // Distribution's default
	}
	if v, ok := boolean("v4auth"); ok && !v {
		r.refused(at+".v4auth", "false: Berth signs with AWS Signature Version 4 only")
	}
	if acl, ok := paramString(p, "objectacl"); ok && acl != "private" {
		r.refused(at+".objectacl", "%q: Berth stores objects private (the bucket's policy decides the rest)", acl)
	}
	for _, k := range []string{"useragent", "usedualstack", "accelerate", "loglevel", "multipartcopychunksize",
		"multipartcopymaxconcurrency", "multipartcopythresholdsize", "maxrequestspersecond", "maxretries",
		"checksumdisabled", "checksumalgorithm"} {
		if _, ok := p[k]; ok {
			r.ignored(at+"."+k, "Berth uses the AWS SDK's defaults for this")
		}
	}
}

func mapStorageSections(st Storage, c *config.Config, r *Report) {
	if del, ok := st["delete"]; ok {
		r.checkKnown("storage.delete", del, "enabled")
	}
	// Distribution refuses deletes unless storage.delete.enabled is true.
	enabled, _, err := paramBool(st["delete"], "enabled")
	if err != nil {
		r.refused("storage.delete.enabled", "%v", err)
	}
	c.Registry.DeleteEnabled = enabled
	r.mapped("storage.delete.enabled", "registry.delete_enabled", "%v (Distribution's default is false)", enabled)

	if red, ok := st["redirect"]; ok {
		r.checkKnown("storage.redirect", red, "disable")
		dis, set, err := paramBool(red, "disable")
		if err != nil {
			r.refused("storage.redirect.disable", "%v", err)
		} else if set {
			c.Storage.Redirect.Enabled = !dis
			r.mapped("storage.redirect.disable", "storage.redirect.enabled", "%v", !dis)
		}
	}
	if m, ok := st["maintenance"]; ok {
		r.checkKnown("storage.maintenance", m, "uploadpurging", "readonly")
		mapMaintenance(m, c, r)
	}
	if _, ok := st["cache"]; ok {
		r.ignored("storage.cache", "Berth has its own manifest cache and keeps blob metadata in its database")
	}
	if _, ok := st["tag"]; ok {
		r.ignored("storage.tag", "Berth lists tags from its database")
	}
}

func mapMaintenance(m Parameters, c *config.Config, r *Report) {
	const at = "storage.maintenance"
	if up, ok, err := section(m, "uploadpurging"); err != nil {
		r.refused(at+".uploadpurging", "%v", err)
	} else if ok {
		r.checkKnown(at+".uploadpurging", up, "enabled", "age", "interval", "dryrun")
		if age, set, err := paramDuration(up, "age"); err != nil {
			r.refused(at+".uploadpurging.age", "%v", err)
		} else if set {
			c.GC.UploadMaxAge = age
			r.mapped(at+".uploadpurging.age", "gc.upload_max_age", "")
		}
		if _, set, err := paramDuration(up, "interval"); err != nil {
			r.refused(at+".uploadpurging.interval", "%v", err)
		} else if set {
			r.ignored(at+".uploadpurging.interval", "Berth purges abandoned uploads in its online GC, every gc.interval (%v)", c.GC.Interval)
		}
		if en, set, err := paramBool(up, "enabled"); err != nil {
			r.refused(at+".uploadpurging.enabled", "%v", err)
		} else if set && !en {
			r.ignored(at+".uploadpurging.enabled", "false: Berth always purges uploads idle for gc.upload_max_age")
		}
		if _, ok := up["dryrun"]; ok {
			r.ignored(at+".uploadpurging.dryrun", "`berth gc --dry-run` lists what would go")
		}
	}
	if ro, ok, err := section(m, "readonly"); err != nil {
		r.refused(at+".readonly", "%v", err)
	} else if ok {
		r.checkKnown(at+".readonly", ro, "enabled")
		en, _, err := paramBool(ro, "enabled")
		switch {
		case err != nil:
			r.refused(at+".readonly.enabled", "%v", err)
		case en:
			r.refused(at+".readonly.enabled", "Berth has no read-only mode yet; it would accept pushes")
		default:
			r.mapped(at+".readonly.enabled", "(default)", "false: pushes are accepted")
		}
	}
}
