package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/scrub"
)

// openForJob loads the configuration as `berth serve` does and builds the
// app (stores and all) without serving, for a one-off job.
func openForJob(ctx context.Context, name string, args, env []string, stderr io.Writer, flags func(*flag.FlagSet)) (*app.App, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	loadConfig := configFlags(fs, env, &o)
	flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	cfg.Log.Level = "warn"
	return app.New(ctx, cfg, newLogger(cfg.Log, stderr))
}

// runGC is `berth gc [--dry-run]`: one garbage collection run against the
// configured stores, here and now, printing what went (or would go).
func runGC(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	var dry bool
	a, err := openForJob(ctx, "gc", args, env, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&dry, "dry-run", false, "only list what would be deleted")
	})
	if err != nil {
		return err
	}
	defer a.Close()
	req, _ := json.Marshal(gc.Request{DryRun: dry})
	out, err := a.Jobs().RunNow(ctx, gc.JobName, string(req))
	var rep gc.Report
	if out != "" {
		json.Unmarshal([]byte(out), &rep)
		printGC(stdout, &rep)
	}
	return err
}

func printGC(w io.Writer, r *gc.Report) {
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
	}
	for _, it := range r.Items {
		fmt.Fprintf(w, "%s %s\n", verb, it)
	}
	if r.Truncated {
		fmt.Fprintln(w, "... (list truncated)")
	}
	fmt.Fprintf(w, "gc: %s %d manifests, %d blob links, %d blobs (%d bytes), %d orphaned files (%d bytes), %d upload sessions and %d upload files (%d bytes) in %s\n",
		verb, r.Manifests, r.Links, r.Blobs, r.BlobBytes, r.OrphanFiles, r.OrphanBytes, r.Uploads, r.UploadFiles, r.UploadBytes,
		time.Duration(r.Duration*float64(time.Second)).Round(time.Millisecond))
	if r.DryRun {
		fmt.Fprintln(w, "gc: a dry run lists one pass: blobs that only the listed manifests use show up once those are gone")
	}
	if r.Failures > 0 {
		fmt.Fprintf(w, "gc: %d storage deletes failed; the next run retries them\n", r.Failures)
	}
}

// runScrub is `berth scrub [--repair]`: re-hash every stored blob, report
// (and with --repair, repair) what does not match. It fails when something
// was wrong, so it can alert from cron.
func runScrub(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	var repair bool
	a, err := openForJob(ctx, "scrub", args, env, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&repair, "repair", false, "quarantine corrupt files and drop lost or corrupt blobs from the metadata")
	})
	if err != nil {
		return err
	}
	defer a.Close()
	req, _ := json.Marshal(scrub.Request{Repair: repair})
	out, err := a.Jobs().RunNow(ctx, scrub.JobName, string(req))
	if err != nil {
		return err
	}
	var rep scrub.Report
	json.Unmarshal([]byte(out), &rep)
	for _, f := range rep.Findings {
		fmt.Fprintf(stdout, "%s (%d bytes): %s\n", f.Digest, f.Size, f.Problem)
		for _, m := range f.Manifests {
			fmt.Fprintf(stdout, "  referenced by %s\n", m)
		}
	}
	fmt.Fprintf(stdout, "scrub: %d blobs (%d bytes) checked: %d missing, %d corrupt, %d repaired\n",
		rep.Checked, rep.Bytes, rep.Missing, rep.Corrupt, rep.Repaired)
	if !rep.OK() {
		return errors.New("scrub found problems")
	}
	return nil
}
