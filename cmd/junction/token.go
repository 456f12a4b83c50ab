package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func newTokenCmd(a *app) *cobra.Command {
	cmd := groupCmd("token", "Manage API tokens")
	cmd.Long = `Manage API tokens for applications and connectors. A token acts as its
user, optionally narrowed to fewer grants; it is shown once, when created,
and stored by the broker only as a hash.`
	cmd.AddCommand(newTokenCreateCmd(a), newTokenListCmd(a), newTokenRevokeCmd(a))
	return cmd
}

func newTokenCreateCmd(a *app) *cobra.Command {
	var (
		user, desc string
		ttl        durationFlag
		grants     []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print it",
		Long:  "Create a token for yourself (or, with manage-users, for --user) and print it on stdout. It is not shown again.\n\n" + grantsHelp,
		Example: `  junction token create --description ci --ttl 90d
  junction token create --user ingest --grant produce:orders.*`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			tok, info, err := c.CreateToken(cmd.Context(), user, desc, ttl.v, grants)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, tok)
			exp := "never expires"
			if !info.ExpiresAt.IsZero() {
				exp = "expires " + info.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(a.stderr, "token %s for %s, %s; store it now, it is not shown again\n", info.ID, info.User, exp)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "user the token acts as (default: you)")
	f.StringVar(&desc, "description", "", "what the token is for")
	f.Var(&ttl, "ttl", "lifetime, such as 24h or 90d (default: no expiry)")
	f.StringArrayVar(&grants, "grant", nil, "narrow the token to this grant (repeatable)")
	return cmd
}

func newTokenListCmd(a *app) *cobra.Command {
	var (
		user string
		all  bool
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List tokens (never their secrets)",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all {
				user = "*"
			}
			return show(a, cmd, func(ctx context.Context, c *client.Client) ([]client.Token, error) { return c.Tokens(ctx, user) },
				asIs, func(w io.Writer, ts []client.Token) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tUSER\tDESCRIPTION\tCREATED\tEXPIRES\tGRANTS")
					for _, t := range ts {
						exp := "never"
						if !t.ExpiresAt.IsZero() {
							exp = t.ExpiresAt.Format(time.RFC3339)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, dash(t.Description), t.CreatedAt.Format(time.RFC3339), exp, dash(strings.Join(t.Grants, ",")))
					}
					return tw.Flush()
				})
		},
	}
	a.addOutputFlag(cmd)
	cmd.Flags().StringVar(&user, "user", "", "list this user's tokens (default: yours)")
	cmd.Flags().BoolVar(&all, "all", false, "list every user's tokens")
	return cmd
}

func newTokenRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; calls and streams using it stop at once",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "token %s revoked\n", args[0])
			return nil
		},
	}
}
