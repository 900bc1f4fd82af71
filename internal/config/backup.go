package config

import "time"

// Backup configures backups (docs/backup.md).
type Backup struct {
	// Destination is where backups go, a storage like storage: (driver
	// filesystem with filesystem.root, or s3). Driver "" (the default): no
	// destination configured; `berth backup --to DIR` still works.
	Destination BackupDestination `yaml:"destination"`
	// Interval between scheduled backups (on one instance); 0 (the
	// default): on demand only.
	Interval time.Duration `yaml:"interval"`
	// Keep: the newest snapshots kept after each backup (older ones and
	// the blobs only they record are deleted); 0 keeps all.
	Keep int `yaml:"keep"`
	// Parallelism is how many blobs are copied at once.
	Parallelism int `yaml:"parallelism"`
}

// BackupDestination is a storage driver for backups.
type BackupDestination struct {
	Driver     string     `yaml:"driver"` // "", filesystem or s3
	Filesystem Filesystem `yaml:"filesystem"`
	S3         S3         `yaml:"s3"`
}

// Storage is the destination as a storage configuration.
func (d BackupDestination) Storage() Storage {
	return Storage{Driver: d.Driver, Filesystem: d.Filesystem, S3: d.S3}
}

func defaultBackup() Backup { return Backup{Keep: 7, Parallelism: 4} }

func (b *Backup) validate(bad func(string, ...any)) {
	switch b.Destination.Driver {
	case "":
		if b.Interval > 0 {
			bad("backup.interval: scheduled backups need backup.destination")
		}
	case "filesystem":
		if b.Destination.Filesystem.Root == "" {
			bad("backup.destination.filesystem.root: required with driver filesystem")
		}
	case "s3":
		if b.Destination.S3.Bucket == "" {
			bad("backup.destination.s3.bucket: required with driver s3")
		}
	default:
		bad("backup.destination.driver: %q is not supported (filesystem, s3)", b.Destination.Driver)
	}
	if b.Interval < 0 {
		bad("backup.interval: must not be negative")
	}
	if b.Keep < 0 {
		bad("backup.keep: must not be negative (0 keeps every snapshot)")
	}
	if b.Parallelism < 1 || b.Parallelism > 256 {
		bad("backup.parallelism: %d is outside 1..256", b.Parallelism)
	}
}
