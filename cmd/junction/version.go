package main

import (
	"fmt"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/internal/buildinfo"
)

// versionJSON is junction version -o json.
type versionJSON struct {
	Version         string `json:"version"`
	Commit          string `json:"commit,omitempty"`
	Modified        bool   `json:"modified,omitempty"`
	GoVersion       string `json:"go_version,omitempty"`
	Platform        string `json:"platform"`
	FirstPartyKey   string `json:"first_party_key,omitempty"`
	FirstPartyKeyID string `json:"first_party_key_id,omitempty"`
}

func newVersionCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print this binary's version, commit and first-party key",
		Long: `Print the Junction version, the commit it was built from, the Go release and
platform, and the fingerprint (key id) of the first-party catalog key built
in by 'make build', which 'hub' trusts for every connector name. A plain
'go build' has no built-in key.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			v := versionJSON{Version: buildinfo.Version, GoVersion: buildinfo.GoVersion(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			v.Commit, v.Modified = buildinfo.Revision()
			if k := buildinfo.FirstPartyKey; k != "" {
				v.FirstPartyKey = k
				if pk, err := catalog.ParsePublicKey(k); err == nil {
					v.FirstPartyKeyID = pk.KeyID()
				} else {
					v.FirstPartyKeyID = "invalid: " + err.Error()
				}
			}
			if a.output == "json" {
				return writeJSON(a.stdout, v)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
			fmt.Fprintf(tw, "Version:\t%s\n", v.Version)
			commit := v.Commit
			if commit == "" {
				commit = "unknown"
			} else if v.Modified {
				commit += " (with uncommitted changes)"
			}
			fmt.Fprintf(tw, "Commit:\t%s\n", commit)
			fmt.Fprintf(tw, "Go:\t%s %s\n", v.GoVersion, v.Platform)
			if v.FirstPartyKey != "" {
				fmt.Fprintf(tw, "First-party key:\t%s (%s)\n", v.FirstPartyKeyID, v.FirstPartyKey)
			} else {
				fmt.Fprintf(tw, "First-party key:\tnone built in (make build builds one in)\n")
			}
			return tw.Flush()
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func newCompletionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print the completion script for bash, zsh or fish. Load it in the current
shell, or install it where your shell looks for completions.`,
		Example: `  source <(junction completion bash)
  junction completion zsh > "${fpath[1]}/_junction"
  junction completion fish > ~/.config/fish/completions/junction.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      exactArgs("bash|zsh|fish"),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			}
			return usagef("completion: want bash, zsh or fish, got %q", args[0])
		},
	}
}
