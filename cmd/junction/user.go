package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/junctionhq/junction/sdk/client"
)

const grantsHelp = `Grants: produce:STATIONS, consume:STATIONS[:GROUPS], manage:STATIONS
(per station name pattern, such as orders.* or *), and the cluster-wide
manage-stations, manage-connectors and manage-users. Roles bundle them:
admin (everything), operator (everything but manage-users), producer
(produce:*), consumer (consume:*:*).`

func newUserCmd(a *app) *cobra.Command {
	cmd := groupCmd("user", "Manage users and their permissions")
	cmd.Long = `Manage the broker's users and what they may do.

A broker with no users is open to callers on its own machine (loopback)
only. The first 'junction user create' (which must be an admin) turns
authentication on: from then on every call needs a token ('junction login').

` + grantsHelp
	cmd.AddCommand(newUserCreateCmd(a), newUserListCmd(a), newUserDeleteCmd(a), newUserGrantCmd(a), newUserRevokeCmd(a), newUserPasswdCmd(a), newWhoAmICmd(a))
	return cmd
}

// readPassword reads a password from stdin's first line (fromStdin), or
// asks for it twice on the terminal (confirm) or once.
func readPassword(a *app, prompt string, fromStdin, confirm bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("no terminal to ask for the password on; pass it on stdin with --password-stdin")
	}
	ask := func(p string) (string, error) {
		fmt.Fprint(a.stderr, p)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		return string(b), err
	}
	pw, err := ask(prompt)
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := ask("Again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords do not match")
		}
	}
	return pw, nil
}

func newUserCreateCmd(a *app) *cobra.Command {
	var (
		role          string
		grants        []string
		passwordStdin bool
		noPassword    bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user",
		Long: `Create a user with a role and grants. The password is asked for on the
terminal (or read from stdin with --password-stdin); --no-password makes a
user that only uses API tokens or a client certificate.

The first user turns authentication on and must be an admin.

` + grantsHelp,
		Example: `  junction user create alice --role admin
  junction user create billing --grant consume:orders.*:billing --no-password
  echo "$PW" | junction user create ingest --grant produce:orders.* --password-stdin`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := ""
			if !noPassword {
				var err error
				if pw, err = readPassword(a, "Password for "+args[0]+": ", passwordStdin, true); err != nil {
					return err
				}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			u, first, err := c.CreateUser(cmd.Context(), client.User{Name: args[0], Role: role, Grants: grants}, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "user %s created\n", u.Name)
			if first {
				fmt.Fprintf(a.stderr, "Authentication is now on: every call needs a token. Run 'junction login --user %s'.\n", u.Name)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "role: admin, operator, producer or consumer")
	f.StringArrayVar(&grants, "grant", nil, "grant (repeatable), such as produce:orders.*")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin's first line")
	f.BoolVar(&noPassword, "no-password", false, "create the user without a password (tokens or client certificate only)")
	return cmd
}

func newUserListCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, cmd, func(ctx context.Context, c *client.Client) ([]client.User, error) { return c.Users(ctx) },
				asIs, func(w io.Writer, us []client.User) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tROLE\tGRANTS\tCREATED")
					for _, u := range us {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, dash(u.Role), dash(strings.Join(u.Grants, ",")), u.CreatedAt.Format(time.RFC3339))
					}
					return tw.Flush()
				})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newUserDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user and revoke its tokens",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "user %s deleted\n", args[0])
			return nil
		},
	}
}

// changeGrants applies change to a user's grants (and role, when set).
func changeGrants(a *app, cmd *cobra.Command, name string, role *string, change func([]string) []string) error {
	c, err := a.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	us, err := c.Users(cmd.Context())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(us, func(u client.User) bool { return u.Name == name })
	if i < 0 {
		return fmt.Errorf("no user %q", name)
	}
	newRole := us[i].Role
	if role != nil {
		newRole = *role
	}
	u, err := c.SetGrants(cmd.Context(), name, newRole, change(us[i].Grants))
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "user %s: role %s, grants %s\n", u.Name, dash(u.Role), dash(strings.Join(u.Grants, ",")))
	return nil
}

func newUserGrantCmd(a *app) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "grant NAME [GRANT...]",
		Short: "Give a user grants (or a role)",
		Long:  "Add grants to a user, and with --role set its role. The user's open streams close, so the new grants apply at once.\n\n" + grantsHelp,
		Example: `  junction user grant bob produce:orders.* consume:orders.*:billing
  junction user grant carol --role operator`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r *string
			if cmd.Flags().Changed("role") {
				r = &role
			} else if len(args) == 1 {
				return usagef("name grants or --role")
			}
			return changeGrants(a, cmd, args[0], r, func(gs []string) []string {
				for _, g := range args[1:] {
					if !slices.Contains(gs, g) {
						gs = append(gs, g)
					}
				}
				return gs
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "set the role (empty for none)")
	return cmd
}

func newUserRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME GRANT...",
		Short: "Take grants from a user",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return changeGrants(a, cmd, args[0], nil, func(gs []string) []string {
				return slices.DeleteFunc(gs, func(g string) bool { return slices.Contains(args[1:], g) })
			})
		},
	}
}

func newUserPasswdCmd(a *app) *cobra.Command {
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Change a user's password",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(a, "New password for "+args[0]+": ", passwordStdin, true)
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.SetPassword(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "password of %s changed\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin's first line")
	return cmd
}

func newWhoAmICmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the broker takes you for, and your grants",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, cmd, func(ctx context.Context, c *client.Client) (client.Identity, error) { return c.WhoAmI(ctx) },
				asIs, func(w io.Writer, id client.Identity) error {
					if id.Open {
						_, err := fmt.Fprintln(w, "anonymous: this broker has no users and lets loopback callers do anything")
						return err
					}
					fmt.Fprintf(w, "user:   %s\nrole:   %s\ngrants: %s\n", id.User, dash(id.Role), dash(strings.Join(id.Grants, ", ")))
					if id.TokenID != "" {
						fmt.Fprintf(w, "token:  %s\n", id.TokenID)
					}
					return nil
				})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}
