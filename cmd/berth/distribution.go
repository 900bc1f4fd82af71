package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/berth-registry/berth/internal/buildinfo"
	"github.com/berth-registry/berth/internal/compat/distribution"
	"github.com/berth-registry/berth/internal/config"
)

// distributionPaths are the files Distribution reads when given none;
// tests point them elsewhere.
var distributionPaths = distribution.DefaultPaths

// loadConfig reads Berth's configuration file or Distribution's (told
// apart by the version field). Without a file it looks where Distribution
// would: REGISTRY_CONFIGURATION_PATH, then its default paths (only when no
// data directory is given either: `berth serve --data DIR` is Berth's own
// set-up, whatever else is installed on the machine). With no file there
// but REGISTRY_* variables set, it starts from the registry:2 image's
// default configuration. The report is non-nil when the configuration was
// Distribution's.
func loadConfig(path string, env []string, o config.Overrides) (*config.Config, *distribution.Report, error) {
	found := false // at one of Distribution's default paths, not asked for
	if path == "" {
		defaults := distributionPaths
		if o.Data != "" || lookup(env, "BERTH_DATA") != "" {
			defaults = nil
		}
		path = distribution.Find(env, defaults)
		found = path != "" && path != lookup(env, "REGISTRY_CONFIGURATION_PATH")
	}
	if path == "" {
		if !distribution.HasEnv(env) {
			c, err := config.Load("", env, o)
			return c, nil, err
		}
		return loadDistribution("", env, o)
	}
	data, err := os.ReadFile(path)
	if err != nil || !distribution.IsDistribution(data) {
		c, err := config.Load(path, env, o)
		return c, nil, err
	}
	c, rep, err := loadDistribution(path, env, o)
	if err != nil && found {
		err = fmt.Errorf("%w\n(%s is where registry:2 keeps its configuration, so Berth read it; "+
			"`berth serve --data DIR` or `--config FILE` starts Berth on its own configuration instead)", err, path)
	}
	return c, rep, err
}

func loadDistribution(path string, env []string, o config.Overrides) (*config.Config, *distribution.Report, error) {
	c, rep, err := distribution.Load(path, env)
	if err != nil {
		return nil, rep, err
	}
	c, err = config.Finish(c, env, o)
	return c, rep, err
}

// logReport writes the compatibility report at start-up: one line with the
// whole report.
func logReport(log *slog.Logger, rep *distribution.Report) {
	log.Info("serving a Distribution configuration", "file", rep.File,
		"mapped", rep.Count(distribution.Mapped), "ignored", rep.Count(distribution.Ignored), "report", rep.String())
}

// configCheck is `berth config check [--distribution] FILE`.
func configCheck(args, env []string, stdout io.Writer) error {
	const usage = "usage: berth config check [--distribution] FILE"
	if len(args) == 0 || args[0] != "check" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dist := fs.Bool("distribution", false, "the file is Distribution's (registry:2): print the compatibility report")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		return errors.New(usage)
	}
	file := fs.Arg(0)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if !distribution.IsDistribution(data) {
		if *dist {
			return fmt.Errorf("%s: not a Distribution configuration (its version is not 0.1)", file)
		}
		if _, err := config.Load(file, nil, config.Overrides{}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n", file)
		return nil
	}
	_, rep, err := loadDistribution(file, env, config.Overrides{})
	if rep != nil {
		rep.Write(stdout)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok: Berth can serve this configuration\n", file)
	return nil
}

const registryUsage = `Distribution's commands, for scripts and units written for registry:2:
  registry serve CONFIG                                        berth serve --config CONFIG
  registry garbage-collect [--dry-run] [--delete-untagged] CONFIG   one run of Berth's online GC
REGISTRY_CONFIGURATION_PATH, when set, names the configuration instead.`

// registryAlias runs Distribution's command lines (`registry serve
// CONFIG`), for a binary installed as "registry" or `berth registry ...`.
func registryAlias(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, registryUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		path, err := registryConfigPath("serve", args[1:], env)
		if err != nil {
			return err
		}
		return serve(ctx, []string{"--config", path}, env, stderr)
	case "garbage-collect":
		fs := flag.NewFlagSet("garbage-collect", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var dry, untagged bool
		fs.BoolVar(&dry, "dry-run", false, "only list what would be deleted")
		fs.BoolVar(&dry, "d", false, "short for --dry-run")
		fs.BoolVar(&untagged, "delete-untagged", false, "accepted: Berth's GC always collects untagged manifests after the grace period")
		fs.BoolVar(&untagged, "m", false, "short for --delete-untagged")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		path, err := registryConfigPath("garbage-collect", fs.Args(), env)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "registry garbage-collect: Berth's garbage collection is online: it runs while the registry serves "+
			"(every gc.interval, 24h by default), with no need to stop the registry or make it read-only. Running one collection now.")
		if !untagged {
			fmt.Fprintln(stdout, "registry garbage-collect: note: Berth collects untagged manifests that nothing references once they are "+
				"older than gc.grace_period, as --delete-untagged does (docs/gc.md)")
		}
		gcArgs := []string{"--config", path}
		if dry {
			gcArgs = append(gcArgs, "--dry-run")
		}
		return runGC(ctx, gcArgs, env, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, registryUsage)
		return nil
	case "--version", "-v", "version":
		fmt.Fprintln(stdout, "berth", buildinfo.Get(), "(serving Distribution's configuration)")
		return nil
	}
	fmt.Fprintln(stderr, registryUsage)
	return fmt.Errorf("registry: unknown command %q", args[0])
}

// registryConfigPath is Distribution's rule: REGISTRY_CONFIGURATION_PATH,
// else the one argument.
func registryConfigPath(cmd string, args, env []string) (string, error) {
	if p := lookup(env, distribution.ConfigPathVar); p != "" {
		return p, nil
	}
	if len(args) != 1 {
		return "", fmt.Errorf("registry %s: configuration path unspecified (registry %s CONFIG)", cmd, cmd)
	}
	return args[0], nil
}
