package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/client"
)

func newConnectorCmd(a *app) *cobra.Command {
	cmd := groupCmd("connector", "Run connectors that move records between stations and other systems")
	cmd.Long = `Connectors are declared in YAML files:

  name: orders-to-files
  connector: file            # plugin name, or name@version / name@^1.2
  kind: sink                 # or source
  station: orders
  batch: {max_records: 10000, max_bytes: 8MiB, max_wait: 5s}
  config:
    dir: /var/export/orders
    token: ${TOKEN}          # resolved in the broker's environment

A sink reads its station as consumer group connector.<name>; a source
checkpoints its position once its records are durable in the station.`
	cmd.AddCommand(
		newConnectorApplyCmd(a), newConnectorValidateCmd(a), newConnectorListCmd(a), newConnectorStatusCmd(a),
		newConnectorActionCmd(a, "pause", "Stop a connector after its current batch, until resumed"),
		newConnectorActionCmd(a, "resume", "Restart a paused or failed connector"),
		newConnectorActionCmd(a, "restart", "Stop a connector's plugin and start it again (a paused one stays paused)"),
		newConnectorActionCmd(a, "delete", "Stop a connector and forget it, with its consumer group or checkpoint"),
	)
	return cmd
}

func readDefinition(file string, stdin io.Reader) ([]byte, string, error) {
	if file == "" {
		return nil, "", usagef("-f FILE is required (a connector definition, or - for stdin)")
	}
	if file == "-" {
		data, err := io.ReadAll(stdin)
		return data, "stdin", err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	return data, file, nil
}

// printProblems lists definition problems on w, one per line, and returns
// an error saying how many there were.
func printProblems(w io.Writer, problems []string) error {
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	if len(problems) == 1 {
		return errors.New("invalid connector definition")
	}
	return fmt.Errorf("invalid connector definition: %d problems", len(problems))
}

func newConnectorApplyCmd(a *app) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create a connector from a definition, or update it in place",
		Long: `Create the connector a YAML definition declares, or update the one of that
name in place: only that connector restarts, and only if its definition
changed. The definition's plugin config is validated by the plugin first.`,
		Example: `  junction connector apply -f orders-to-s3.yaml`,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, name, err := readDefinition(file, a.stdin)
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, created, changed, err := c.ApplyConnector(cmd.Context(), name, data)
			var ce *client.Error
			if errors.As(err, &ce) && len(ce.Problems) > 0 {
				var ps []string
				for _, p := range ce.Problems {
					ps = append(ps, p.String())
				}
				return printProblems(a.stderr, ps)
			}
			if err != nil {
				return err
			}
			what := "updated"
			switch {
			case created:
				what = "created"
			case !changed:
				what = "unchanged"
			}
			fmt.Fprintf(a.stderr, "connector %q %s (%s %s %s, plugin %s@%s)\n", st.Name, what, st.Kind, direction(st.Kind), st.Station, pluginName(st.Connector), st.PluginVersion)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "connector definition (YAML), or - for stdin")
	return cmd
}

func direction(kind string) string {
	if kind == "source" {
		return "into"
	}
	return "from"
}

func pluginName(ref string) string {
	name, _, _ := strings.Cut(ref, "@")
	return name
}

func newConnectorValidateCmd(a *app) *cobra.Command {
	var (
		file       string
		dataDir    string
		pluginDirs []string
		offline    bool
	)
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a connector definition, with its plugin, without applying it",
		Long: `Check a connector definition without applying it: the YAML (with line
numbers), the plugin it names, and every field of its config against the
plugin's spec. Exits 1 if anything is wrong.

By default the broker checks it exactly as apply would: ${VAR} references
resolve in the broker's connector environment (junction server
--connector-env, --connector-secrets), paths must lie in its --file-roots,
and you need the permissions apply needs. With --offline it is checked
here, with the plugins of --plugins/--data, and ${VAR} resolves in this
shell's environment, which may differ from the broker's.`,
		Example: `  junction connector validate -f orders-to-s3.yaml
  junction connector validate -f sink.yaml --offline --plugins ./bin/plugins`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, name, err := readDefinition(file, a.stdin)
			if err != nil {
				return err
			}
			var ps []string
			version := ""
			if offline {
				dirs := pluginDirs
				if len(dirs) == 0 {
					dirs = plugin.DefaultDirs(dataDir)
				}
				reg := plugin.NewRegistry(dirs, slog.New(slog.DiscardHandler))
				env := config.Env{Lookup: os.LookupEnv, Where: "this shell's environment (offline validation; the broker resolves variables in its own)"}
				problems, inst, err := plugin.ValidateEnv(cmd.Context(), reg, name, data, env, nil)
				if err != nil {
					return err
				}
				for _, p := range problems {
					ps = append(ps, p.Error())
				}
				version = inst.Name() + "@" + inst.Version()
			} else {
				c, err := a.connect(cmd.Context())
				if err != nil {
					return err
				}
				defer c.Close()
				problems, v, err := c.ValidateConnector(cmd.Context(), name, data)
				var ce *client.Error
				if errors.As(err, &ce) && len(ce.Problems) > 0 {
					problems, err = ce.Problems, nil
				}
				if err != nil {
					return err
				}
				for _, p := range problems {
					ps = append(ps, p.String())
				}
				version = v
				var head struct {
					Connector string `yaml:"connector"`
				}
				if yaml.Unmarshal(data, &head) == nil && head.Connector != "" {
					version = pluginName(head.Connector) + "@" + v
				}
			}
			if len(ps) > 0 {
				return printProblems(a.stderr, ps)
			}
			fmt.Fprintf(a.stdout, "%s: valid (plugin %s)\n", name, version)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "connector definition (YAML), or - for stdin")
	f.BoolVar(&offline, "offline", false, "check here instead of on the broker")
	f.StringVar(&dataDir, "data", "./data", "with --offline: broker data directory, whose plugins directory is searched")
	f.StringSliceVar(&pluginDirs, "plugins", nil, "with --offline: directory of connector plugins (repeatable; default DATA/plugins and the plugins directory next to this binary)")
	return cmd
}

func newConnectorListCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List connectors and their state",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, cmd, func(ctx context.Context, c *client.Client) ([]*client.ConnectorStatus, error) {
				return c.Connectors(ctx)
			},
				toConnectorsJSON, func(w io.Writer, cs []*client.ConnectorStatus) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					// Counts since creation: a pause or restart does not reset them.
					fmt.Fprintln(tw, "NAME\tKIND\tPLUGIN\tSTATION\tSTATE\tIN\tOUT\tREJECTED\tLAG\tRESTARTS")
					for _, s := range cs {
						fmt.Fprintf(tw, "%s\t%s\t%s@%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", s.Name, s.Kind, pluginName(s.Connector), s.PluginVersion, s.Station, s.State,
							s.Total.RecordsIn, s.Total.RecordsOut, s.Total.RecordsRejected, s.Lag, s.Restarts)
					}
					return tw.Flush()
				})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func newConnectorStatusCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "status NAME",
		Short:   "Show a connector's state, counters, lag, checkpoint and last error",
		Example: `  junction connector status orders-to-s3`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(ctx context.Context, c *client.Client) (*client.ConnectorStatus, error) {
				return c.Connector(ctx, args[0])
			}
			return show(a, cmd, fetch, func(s *client.ConnectorStatus) any { return toConnectorJSON(s) }, describeConnector)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func describeConnector(w io.Writer, s *client.ConnectorStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", k, v) }
	row("Name", s.Name)
	row("Kind", s.Kind)
	row("Plugin", fmt.Sprintf("%s (resolved %s)", s.Connector, s.PluginVersion))
	row("Station", s.Station)
	row("Dead-letter station", s.DLQ)
	row("State", s.State)
	if !s.StartedAt.IsZero() {
		row("Running since", s.StartedAt.Local().Format(time.RFC3339))
	}
	row("Restarts", s.Restarts)
	both := func(run, total uint64) string { return fmt.Sprintf("%d this run, %d since creation", run, total) }
	row("Records in", both(s.Run.RecordsIn, s.Total.RecordsIn))
	row("Records out", both(s.Run.RecordsOut, s.Total.RecordsOut))
	row("Rejected", both(s.Run.RecordsRejected, s.Total.RecordsRejected))
	row("Bytes in", both(s.Run.BytesIn, s.Total.BytesIn))
	row("Bytes out", both(s.Run.BytesOut, s.Total.BytesOut))
	row("Errors", both(s.Run.Errors, s.Total.Errors))
	if s.Kind == "sink" {
		row("Lag", s.Lag)
	} else {
		row("Checkpoint", orDefault(s.Checkpoint))
	}
	if s.LastError != "" {
		row("Last error", fmt.Sprintf("%s (%s)", s.LastError, s.LastErrorAt.Local().Format(time.RFC3339)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Config) > 0 {
		fmt.Fprintln(w, "\nConfig (secrets redacted):")
		return writeJSON(w, s.Config)
	}
	return nil
}

func newConnectorActionCmd(a *app, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " NAME",
		Short: short,
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, name := cmd.Context(), args[0]
			var st *client.ConnectorStatus
			switch action {
			case "pause":
				st, err = c.PauseConnector(ctx, name)
			case "resume":
				st, err = c.ResumeConnector(ctx, name)
			case "restart":
				st, err = c.RestartConnector(ctx, name)
			case "delete":
				err = c.DeleteConnector(ctx, name)
			}
			if err != nil {
				return err
			}
			if st != nil {
				fmt.Fprintf(a.stderr, "connector %q %s\n", name, st.State)
			} else {
				fmt.Fprintf(a.stderr, "connector %q deleted\n", name)
			}
			return nil
		},
	}
}

func newPluginCmd(a *app) *cobra.Command {
	cmd := groupCmd("plugin", "List the connector plugins a broker has")
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List installed connector plugins with name, version and kinds",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, cmd, func(ctx context.Context, c *client.Client) ([]client.Plugin, error) { return c.Plugins(ctx) },
				toPluginsJSON, func(w io.Writer, ps []client.Plugin) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tVERSION\tKINDS\tPATH")
					for _, p := range ps {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Version, strings.Join(p.Kinds, ","), filepath.Clean(p.Path))
					}
					return tw.Flush()
				})
		},
	}
	a.addOutputFlag(list)
	cmd.AddCommand(list)
	return cmd
}
