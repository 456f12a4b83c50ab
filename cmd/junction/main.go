// Command junction is the Junction CLI: it runs the broker, manages and
// uses stations and consumer groups, and runs connectors.
//
// Data (listings, consumed messages) goes to stdout; status and errors go
// to stderr, errors as "junction: <message>". Exit status is 0 on success,
// 1 on failure and 2 on a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes the CLI with args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCmd(stdin, stdout, stderr, getenv)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "junction: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return 2
	}
	return 1
}

// usageError marks bad flags or arguments (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// app holds what every command shares; there is no global state.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	server         string
	output         string
	sec            secFlags
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:   "junction",
		Short: "Junction message broker",
		Long: `Junction is a station-based message broker with a connector hub.

Run a broker with 'junction server', then create stations, produce to them
and consume from them in consumer groups. Connectors move records between
stations and other systems ('junction connector'); 'junction hub' installs
them from signed catalogs.`,
		Example: `  junction server --data ./data
  junction station create orders --partitions 1
  seq 1 100000 | junction produce orders
  junction consume orders --group billing --count 10`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	def := getenv("JUNCTION_SERVER")
	if def == "" {
		def = client.DefaultAddr
	}
	root.PersistentFlags().StringVar(&a.server, "server", def, "broker address, host:port or URL; a cluster's nodes comma-separated, the first reachable used (env JUNCTION_SERVER)")
	a.addSecurityFlags(root, def)
	root.AddCommand(
		newServerCmd(a),
		newStationCmd(a),
		newProduceCmd(a),
		newConsumeCmd(a),
		newPeekCmd(a),
		newGroupCmd(a),
		newSchemaCmd(a),
		newDLQCmd(a),
		newConnectorCmd(a),
		newPluginCmd(a),
		newHubCmd(a),
		newVersionCmd(a),
		newUserCmd(a),
		newTokenCmd(a),
		newLoginCmd(a),
		newClusterCmd(a),
	)
	root.AddCommand(newCompletionCmd(root))
	return root
}

// addOutputFlag adds -o/--output to a list or describe command.
func (a *app) addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&a.output, "output", "o", "text", "output format: text or json")
}

func (a *app) checkOutput() error {
	switch a.output {
	case "text", "json", "":
		return nil
	}
	return usagef("--output: must be text or json, got %q", a.output)
}

// show fetches what a list or describe command shows and prints it, as
// JSON (through asJSON) with -o json, else as text.
func show[T any](a *app, cmd *cobra.Command, fetch func(context.Context, *client.Client) (T, error), asJSON func(T) any, text func(io.Writer, T) error) error {
	if err := a.checkOutput(); err != nil {
		return err
	}
	c, err := a.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := fetch(cmd.Context(), c)
	if err != nil {
		return err
	}
	if a.output == "json" {
		return writeJSON(a.stdout, asJSON(v))
	}
	return text(a.stdout, v)
}

// connect dials the broker named by --server.
func (a *app) connect(ctx context.Context) (*client.Client, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	server, opts, err := a.clientOptions()
	if err != nil {
		return nil, err
	}
	c, err := client.ConnectCluster(cctx, strings.Split(server, ","), opts...)
	if err != nil {
		if errors.Is(err, client.ErrUnavailable) {
			return nil, fmt.Errorf("%w (is the broker running? set --server or JUNCTION_SERVER)", err)
		}
		return nil, err
	}
	return c, nil
}

// exactArgs is cobra.ExactArgs returning a usage error naming the args.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// groupCmd returns a parent command that only holds subcommands.
func groupCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("%s needs a subcommand", cmd.CommandPath())
		},
	}
}

// asIs shows a value as JSON unchanged: for types that carry their own
// snake_case JSON names.
func asIs[T any](v T) any { return v }
