package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/policy"
)

const retentionUsage = `usage: berth retention run PROJECT [--dry-run] [--json] [--config FILE] [--data DIR]

Runs PROJECT's retention policy once against the configured stores and
reports what was deleted (with --dry-run: what would be, deleting nothing).
With SQLite, stop the server first or use the API instead
(POST /api/v1/projects/PROJECT/retention/run): a running server caches tags.
`

// retention runs `berth retention run`.
func retention(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprint(stderr, retentionUsage)
		return fmt.Errorf("usage: berth retention run PROJECT [--dry-run]")
	}
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	loadConfig := configFlags(fs, env, &o)
	dryRun := fs.Bool("dry-run", false, "report what would be deleted, delete nothing")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	// The project may come before or after the flags.
	var project string
	rest := args[1:]
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		project, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if project == "" && fs.NArg() > 0 {
		project = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("retention run: unexpected argument %q", fs.Arg(0))
	}
	if project == "" {
		fmt.Fprint(stderr, retentionUsage)
		return fmt.Errorf("retention run: PROJECT is required")
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	cfg.Log.Level = "warn"
	a, err := app.New(ctx, cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.RunRetention(ctx, project, *dryRun)
	if res == nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(res); jerr != nil {
			return jerr
		}
	} else {
		printRun(stdout, res)
	}
	return err
}

// printRun writes a run's result for people.
func printRun(w io.Writer, res *policy.RunResult) {
	verb, mode := "deleted", ""
	if res.DryRun {
		verb, mode = "would delete", " (dry run: nothing was deleted)"
	}
	for _, v := range res.Deleted {
		what := v.Repository + ":" + v.Tag
		if v.Tag == "" {
			what = v.Repository + "@" + v.Digest.String() + " (untagged)"
		}
		fmt.Fprintf(w, "%s %s  %s  pushed %s  %s\n", verb, what, shortDigest(v), v.PushedAt.Format("2006-01-02 15:04"), v.Reason)
	}
	if res.Truncated {
		fmt.Fprintf(w, "... (the list stops at %d entries)\n", len(res.Deleted))
	}
	fmt.Fprintf(w, "project %s: %d repositories, %d tags kept, %d tags and %d untagged manifests %s, %d skipped (changed meanwhile)%s\n",
		res.Project, res.Repositories, res.TagsKept, res.TagsDeleted, res.ManifestsDeleted, verb, res.Skipped, mode)
	if res.Error != "" {
		fmt.Fprintf(w, "the run failed: %s\n", res.Error)
	}
}

func shortDigest(v policy.Verdict) string {
	if v.Tag == "" {
		return ""
	}
	d := v.Digest.Encoded()
	return v.Digest.Algorithm().String() + ":" + d[:min(12, len(d))]
}
