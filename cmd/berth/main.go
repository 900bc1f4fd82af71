// Command berth is the Berth container registry: `berth serve` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/buildinfo"
	"github.com/berth-registry/berth/internal/compat/distribution"
	"github.com/berth-registry/berth/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "registry" {
		// Installed as Distribution's binary: `registry serve CONFIG`.
		args = append([]string{"registry"}, args...)
	}
	err := run(ctx, args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "berth:", err)
		}
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError asks for an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

const usage = `Berth: a container image registry (OCI Distribution v1.1, Docker Registry V2).

Usage:
  berth serve [--config FILE] [--addr HOST:PORT] [--data DIR]   run the registry
  berth migrate [--config FILE]                                 apply metadata database migrations
  berth gc [--config FILE] [--data DIR] [--dry-run]             collect garbage now (docs/gc.md)
  berth scrub [--config FILE] [--data DIR] [--repair]           re-hash stored blobs, report (and repair) damage
  berth retention run PROJECT [--dry-run] [--config FILE]       run a project's retention rules now
  berth backup [--to DIR] [--keep N] [--config FILE]            back the running registry up now (docs/backup.md)
  berth backup list|verify [--from DIR] [--snapshot ID]         list snapshots; re-hash blobs and check references
  berth restore [--from DIR] [--snapshot ID] [--config FILE]    restore a snapshot into empty stores
  berth import [--dry-run] [--phase P] --from CONFIG_OR_DIR   adopt a Distribution (registry:2) storage in place
  berth config check [--distribution] FILE                      validate a configuration file (Distribution's: print the compatibility report)
  berth registry serve|garbage-collect ... CONFIG               Distribution's commands (also when installed as "registry")
  berth user add|list|passwd|delete ...                         manage users (berth user help)
  berth project add|list|member add ...                         manage projects and their members
  berth robot add NAME ...                                      create a robot account
  berth auth rotate-key [--revoke] [--config FILE] [--data DIR]   new token signing key (docs/auth.md)
  berth healthcheck [--url URL] [--timeout 3s] [--config FILE]  exit 0 if the server answers /healthz
  berth vulndb import --to HOST/REPO DIR|ZIP...                  build and push a vulnerability database (OSV files)
  berth version                                                 print the version, commit and Go version

Configuration: a YAML file (see docs/configuration.md) and BERTH_* environment
variables that follow the YAML path, e.g. BERTH_HTTP_ADDR=:5000. A Distribution
(registry:2) configuration file and REGISTRY_* variables work too
(docs/migrate-from-distribution.md).
`

// run is main without the process: arguments, environment and output are
// passed in so tests can call it.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env, stderr)
	case "migrate":
		return migrate(ctx, args[1:], env, stdout, stderr)
	case "user", "project", "robot":
		return authCommand(ctx, args, env, stdout, stderr)
	case "auth":
		return rotateKey(ctx, args[1:], env, stdout, stderr)
	case "gc":
		return runGC(ctx, args[1:], env, stdout, stderr)
	case "scrub":
		return runScrub(ctx, args[1:], env, stdout, stderr)
	case "retention":
		return retention(ctx, args[1:], env, stdout, stderr)
	case "backup":
		return backupCommand(ctx, args[1:], env, stdout, stderr)
	case "restore":
		return restoreCommand(ctx, args[1:], env, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args[1:], env, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "berth", buildinfo.Get())
		return nil
	case "config":
		return configCheck(args[1:], env, stdout)
	case "import":
		return importCommand(ctx, args[1:], env, stdout, stderr)
	case "registry":
		return registryAlias(ctx, args[1:], env, stdout, stderr)
	case "vulndb":
		return vulndbCommand(ctx, args[1:], env, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, args, env []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	var rep *distribution.Report
	loadConfig := configFlagsReport(fs, env, &o, &rep)
	fs.StringVar(&o.Addr, "addr", "", "listen address, HOST:PORT (default :5000)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	raiseFileLimit(log)
	if rep != nil {
		logReport(log, rep)
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.AdoptDistribution(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	if cfg.Debug.Addr != "" {
		if err := serveDebug(ctx, cfg.Debug.Addr, log); err != nil {
			return err
		}
	}
	if cfg.Metrics.Addr != "" {
		if err := serveMetrics(ctx, cfg.Metrics.Addr, a.MetricsHandler(), log); err != nil {
			return err
		}
	}
	warnExposed(cfg, ln.Addr(), log)
	return a.Serve(ctx, ln)
}

// warnExposed warns about settings that are fine on loopback but not on
// an address others can reach.
func warnExposed(cfg *config.Config, addr net.Addr, log *slog.Logger) {
	if loopback(addr) {
		return
	}
	if !cfg.Auth.Enabled() {
		log.Warn("ACCESS CONTROL IS OFF (auth.mode: none): anyone who can reach this address can push, pull and delete; see docs/auth.md", "addr", addr.String())
		return
	}
	if cfg.Auth.Token.Enabled && cfg.Auth.Token.Realm == "" {
		log.Warn("auth.token.realm is not set: the token endpoint named in challenges follows each request's Host header, so a client can be sent to log in elsewhere; set it to this registry's public URL + /token (docs/auth.md)", "addr", addr.String())
	}
}

func migrate(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	loadConfig := configFlags(fs, env, &o)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if err := app.Migrate(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s database: migrations applied\n", cfg.Database.Driver)
	return nil
}

// configFlags adds --config and --data to fs and returns the loader of the
// configuration they name: the file, then BERTH_* variables from env, then
// the flags in o (which the caller may extend, e.g. with --addr).
func configFlags(fs *flag.FlagSet, env []string, o *config.Overrides) func() (*config.Config, error) {
	return configFlagsReport(fs, env, o, nil)
}

// configFlagsReport is configFlags that also hands back, in rep, the
// compatibility report when the configuration was Distribution's.
func configFlagsReport(fs *flag.FlagSet, env []string, o *config.Overrides, rep **distribution.Report) func() (*config.Config, error) {
	path := fs.String("config", lookup(env, "BERTH_CONFIG"), "configuration file (YAML): Berth's, or Distribution's (version: 0.1)")
	fs.StringVar(&o.Data, "data", "", "data directory (default ./data)")
	return func() (*config.Config, error) {
		c, r, err := loadConfig(*path, env, *o)
		if rep != nil {
			*rep = r
		}
		return c, err
	}
}

func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func lookup(env []string, name string) string {
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
			return kv[len(name)+1:]
		}
	}
	return ""
}
