package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/backup"
	"github.com/berth-registry/berth/internal/config"
)

// errVerifyFailed: `berth backup verify` found problems (exit status 1).
var errVerifyFailed = errors.New("backup verify: the snapshot has problems")

// backupCommand is `berth backup [--to DIR] [--keep N]`, `berth backup
// list [--from DIR]` and `berth backup verify [--from DIR] [--snapshot ID]
// [--sample F]` (docs/backup.md).
func backupCommand(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return backupList(ctx, args[1:], env, stdout, stderr)
		case "verify":
			return backupVerify(ctx, args[1:], env, stdout, stderr)
		}
	}
	var to string
	var keep int
	a, err := openForJob(ctx, "backup", args, env, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "directory to back up into (default: backup.destination)")
		fs.IntVar(&keep, "keep", -1, "keep this many newest snapshots, pruning older ones (default: backup.keep; 0 keeps all)")
	})
	if err != nil {
		return err
	}
	defer a.Close()
	p := newProgress(stderr)
	out, err := a.Jobs().RunNow(backup.WithProgress(ctx, p.show), backup.JobName, backup.CommandRequest(to, keep))
	p.done()
	var rep backup.Report
	if out != "" && json.Unmarshal([]byte(out), &rep) == nil && err == nil {
		fmt.Fprintf(stdout, "backup: snapshot %s: %d blobs (%s), %d copied (%s), %d already there; pruned %d snapshots and %d blobs; %s\n",
			rep.Snapshot, rep.Blobs, sizeOf(rep.Bytes), rep.Copied, sizeOf(rep.CopiedBytes), rep.Skipped,
			rep.PrunedSnaps, rep.PrunedBlobs, seconds(rep.Duration))
	}
	return err
}

// restoreCommand is `berth restore --from DIR [--snapshot ID]`: into the
// configured (empty) stores.
func restoreCommand(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	loadConfig := configFlags(fs, env, &o)
	from := fs.String("from", "", "backup directory (default: backup.destination)")
	id := fs.String("snapshot", "", "snapshot to restore (default: the newest)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	src, err := app.OpenBackupDestination(ctx, cfg, *from)
	if err != nil {
		return err
	}
	t, err := app.RestoreTarget(ctx, cfg)
	if err != nil {
		return err
	}
	p := newProgress(stderr)
	rep, err := backup.Restore(ctx, src, *id, t, backup.Options{Parallelism: cfg.Backup.Parallelism, Progress: p.show})
	p.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restore: snapshot %s: %d blobs, %d copied (%s), %d already there; database restored; %s\n",
		rep.Snapshot, rep.Blobs, rep.Copied, sizeOf(rep.CopiedBytes), rep.Skipped, seconds(rep.Duration))
	return nil
}

func backupFlags(name string, args, env []string, stderr io.Writer, more func(*flag.FlagSet)) (*config.Config, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	loadConfig := configFlags(fs, env, &o)
	from := fs.String("from", "", "backup directory (default: backup.destination)")
	if more != nil {
		more(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() > 0 {
		return nil, "", fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	if *from != "" && fs.Lookup("config").Value.String() == "" {
		// A directory needs no configuration: not even a Distribution
		// one found at its default path.
		cfg, err := config.Load("", env, o)
		return cfg, *from, err
	}
	cfg, err := loadConfig()
	return cfg, *from, err
}

func backupList(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	cfg, from, err := backupFlags("backup list", args, env, stderr, nil)
	if err != nil {
		return err
	}
	dest, err := app.OpenBackupDestination(ctx, cfg, from)
	if err != nil {
		return err
	}
	snaps, err := backup.List(ctx, dest)
	if err != nil {
		return err
	}
	for _, s := range snaps {
		fmt.Fprintf(stdout, "%s  %s  %-7s  %d blobs  %s\n", s.ID, s.Time.Format(time.RFC3339), s.Format, s.Blobs, sizeOf(s.Bytes))
	}
	if len(snaps) == 0 {
		fmt.Fprintln(stdout, "no complete snapshot")
	}
	return nil
}

func backupVerify(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	var id string
	var sample float64
	cfg, from, err := backupFlags("backup verify", args, env, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&id, "snapshot", "", "snapshot to verify (default: the newest)")
		fs.Float64Var(&sample, "sample", 1, "fraction of the blobs to re-hash (0 < F <= 1)")
	})
	if err != nil {
		return err
	}
	if sample <= 0 || sample > 1 {
		return fmt.Errorf("backup verify: --sample %v is outside (0, 1]", sample)
	}
	dest, err := app.OpenBackupDestination(ctx, cfg, from)
	if err != nil {
		return err
	}
	p := newProgress(stderr)
	rep, err := backup.Verify(ctx, dest, id, sample, backup.Options{Parallelism: cfg.Backup.Parallelism, Progress: p.show})
	p.done()
	if err != nil {
		return err
	}
	for _, pr := range rep.Problems {
		fmt.Fprintln(stdout, "problem:", pr)
	}
	fmt.Fprintf(stdout, "verify: snapshot %s: %d of %d blobs re-hashed, %d problems\n", rep.Snapshot, rep.Checked, rep.Blobs, len(rep.Problems))
	if len(rep.Problems) > 0 {
		return errVerifyFailed
	}
	return nil
}

// progress shows a backup's progress: a line rewritten in place on a
// terminal, else a log line every few seconds.
type progress struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	last time.Time
	line bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(interface{ Fd() uintptr })
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) show(pr backup.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if pr.Phase == "blobs" || pr.Phase == "verify" {
		if time.Since(p.last) < every && pr.Done != pr.Total {
			return
		}
	}
	p.last = time.Now()
	msg := pr.Phase
	if pr.Total > 0 {
		msg = fmt.Sprintf("%s %d/%d (%s)", pr.Phase, pr.Done, pr.Total, sizeOf(pr.Bytes))
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
		p.line = true
		return
	}
	fmt.Fprintln(p.w, msg)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line {
		fmt.Fprintln(p.w)
		p.line = false
	}
}

func sizeOf(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
