package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// stdin is where passwords are read from (tests replace it).
var stdin io.Reader = os.Stdin

// adminCmd is a user, project or robot subcommand: its flags, its
// positional arguments, and what it does with the manager.
type adminCmd struct {
	name  string
	usage string
	args  int
	flags func(fs *flag.FlagSet) func(ctx context.Context, m *auth.Manager, args []string, out io.Writer) error
}

const authUsage = `Access control on the local database (configuration as berth serve reads it):
  berth user add NAME [--admin] [--password-file FILE]   password from the file, else from standard input
  berth user list
  berth user passwd NAME [--password-file FILE]
  berth user delete NAME
  berth project add NAME [--public]
  berth project list
  berth project member add PROJECT NAME ROLE [--group]  ROLE: admin, maintainer, developer, guest
  berth robot add NAME (--project P | --projects P1,P2|*) --actions pull[,push,delete] [--expires 720h] [--description TEXT]
Each also takes --config FILE and --data DIR.
`

var adminCmds = map[string]adminCmd{
	"user add": {"user add", "NAME", 1, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		admin := fs.Bool("admin", false, "make the user a system administrator")
		pwFile := fs.String("password-file", "", "read the password from this file (default: standard input)")
		return func(ctx context.Context, m *auth.Manager, a []string, out io.Writer) error {
			pw, err := readPassword(*pwFile)
			if err != nil {
				return err
			}
			if err := m.CreateUser(ctx, a[0], pw, *admin); err != nil {
				return err
			}
			fmt.Fprintf(out, "user %s created\n", a[0])
			return nil
		}
	}},
	"user list": {"user list", "", 0, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		return func(ctx context.Context, m *auth.Manager, _ []string, out io.Writer) error {
			users, err := m.Users(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADMIN\tCREATED")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%v\t%s\n", u.Name, u.Admin, u.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}
	}},
	"user passwd": {"user passwd", "NAME", 1, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		pwFile := fs.String("password-file", "", "read the password from this file (default: standard input)")
		return func(ctx context.Context, m *auth.Manager, a []string, out io.Writer) error {
			pw, err := readPassword(*pwFile)
			if err != nil {
				return err
			}
			if err := m.UpdateUser(ctx, a[0], pw, nil); err != nil {
				return err
			}
			fmt.Fprintf(out, "password of %s changed\n", a[0])
			return nil
		}
	}},
	"user delete": {"user delete", "NAME", 1, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		return func(ctx context.Context, m *auth.Manager, a []string, out io.Writer) error {
			if err := m.DeleteUser(ctx, a[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "user %s deleted\n", a[0])
			return nil
		}
	}},
	"project add": {"project add", "NAME", 1, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		public := fs.Bool("public", false, "anyone may pull from the project")
		return func(ctx context.Context, m *auth.Manager, a []string, out io.Writer) error {
			if err := m.CreateProject(ctx, a[0], *public, ""); err != nil {
				return err
			}
			fmt.Fprintf(out, "project %s created\n", a[0])
			return nil
		}
	}},
	"project list": {"project list", "", 0, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		return func(ctx context.Context, m *auth.Manager, _ []string, out io.Writer) error {
			ps, err := m.Projects(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPUBLIC\tCREATED BY\tCREATED")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", p.Name, p.Public, p.CreatedBy, p.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}
	}},
	"project member add": {"project member add", "PROJECT NAME ROLE", 3, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		group := fs.Bool("group", false, "NAME is an LDAP group, not a user")
		return func(ctx context.Context, m *auth.Manager, a []string, out io.Writer) error {
			kind := meta.MemberUser
			if *group {
				kind = meta.MemberGroup
			}
			if err := m.PutMember(ctx, a[0], kind, a[1], a[2]); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s %s is %s of %s\n", kind, a[1], a[2], a[0])
			return nil
		}
	}},
	"robot add": {"robot add", "NAME", 1, func(fs *flag.FlagSet) func(context.Context, *auth.Manager, []string, io.Writer) error {
		project := fs.String("project", "", "the robot's project (robot$PROJECT+NAME)")
		projects := fs.String("projects", "", "for a system robot (robot$NAME): projects it may access, comma-separated, or *")
		actions := fs.String("actions", "pull", "comma-separated: pull, push, delete")
		expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: never expires)")
		desc := fs.String("description", "", "what the robot is for")
		return func(ctx context.Context, m *auth.Manager, a []string, out io.Writer) error {
			acts := splitList(*actions)
			var perms []meta.RobotPermission
			switch {
			case *project != "" && *projects != "":
				return errors.New("robot add: --project or --projects, not both")
			case *project != "":
				perms = []meta.RobotPermission{{Project: *project, Actions: acts}}
			case *projects != "":
				for _, p := range splitList(*projects) {
					perms = append(perms, meta.RobotPermission{Project: p, Actions: acts})
				}
			default:
				return errors.New("robot add: --project (a project robot) or --projects (a system robot) is required")
			}
			var exp time.Time
			if *expires > 0 {
				exp = time.Now().Add(*expires)
			}
			name, secret, err := m.CreateRobot(ctx, *project, a[0], *desc, perms, exp)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "robot %s created; its secret (shown only now):\n%s\n", name, secret)
			return nil
		}
	}},
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// readPassword reads the first line of a file, or of standard input.
func readPassword(file string) (string, error) {
	r := stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given (standard input or --password-file)")
	}
	return pw, nil
}

// authCommand runs `berth user|project|robot ...`.
func authCommand(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	// The longest known command that args start with.
	var cmd adminCmd
	var rest []string
	for n := 3; n >= 2; n-- {
		if len(args) >= n {
			if c, ok := adminCmds[strings.Join(args[:n], " ")]; ok {
				cmd, rest = c, args[n:]
				break
			}
		}
	}
	if len(args) == 2 && args[1] == "help" {
		fmt.Fprint(stdout, authUsage)
		return nil
	}
	if cmd.name == "" {
		fmt.Fprint(stderr, authUsage)
		return fmt.Errorf("unknown command %q", strings.Join(args, " "))
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	loadConfig := configFlags(fs, env, &o)
	do := cmd.flags(fs)
	// Flags may come before or after the positional arguments.
	var pos []string
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != cmd.args {
		return fmt.Errorf("usage: berth %s %s", cmd.name, cmd.usage)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	m, closeStore, err := app.OpenAdmin(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	return do(ctx, m, pos, stdout)
}

// rotateKey runs `berth auth rotate-key`: a new token signing key in the
// local database; tokens signed by the old one stay valid until they
// expire, or with --revoke stop working (within a minute on running
// instances).
func rotateKey(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	const usage = "usage: berth auth rotate-key [--revoke] [--config FILE] [--data DIR]"
	if len(args) == 0 || args[0] != "rotate-key" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("auth rotate-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o config.Overrides
	loadConfig := configFlags(fs, env, &o)
	revoke := fs.Bool("revoke", false, "drop the old keys: every token they signed stops working, clients log in again")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New(usage)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	kid, err := app.RotateSigningKey(ctx, cfg, newLogger(cfg.Log, stderr), *revoke)
	if err != nil {
		return err
	}
	if *revoke {
		fmt.Fprintf(stdout, "token signing key rotated: new key id %s; old keys revoked (running instances stop accepting their tokens within a minute)\n", kid)
		return nil
	}
	fmt.Fprintf(stdout, "token signing key rotated: new key id %s (running instances sign with it within a minute)\n", kid)
	return nil
}
