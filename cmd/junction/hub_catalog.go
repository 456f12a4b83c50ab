package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/plugin"
)

// catalogCmd is 'hub catalog': the catalogs of the config file.
func (h *hub) catalogCmd() *cobra.Command {
	cmd := groupCmd("catalog", "Manage the catalogs the hub searches")
	var key string
	add := &cobra.Command{
		Use:   "add NAME URL|DIR",
		Short: "Add a catalog, searched after those already configured",
		Long: `Add a catalog to the config file: an http(s) URL, or a directory (stored as
an absolute path). --key pins the key that must sign its index (a public
key file or the key itself); without it any trusted key may sign it.`,
		Example: `  junction hub catalog add community https://catalog.example.com/
  junction hub catalog add local ./catalog --key acme.key.pub`,
		Args: exactArgs("NAME", "URL|DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, loc := args[0], args[1]
			if !catalog.ValidName(name) {
				return usagef("catalog name %q: want lower case letters, digits and dashes", name)
			}
			src := catalog.Source{Name: name, Location: loc}
			if !src.IsRemote() {
				if strings.Contains(loc, "://") {
					return usagef("%q: want an http(s) URL or a directory", loc)
				}
				abs, err := filepath.Abs(loc)
				if err != nil {
					return err
				}
				loc = abs
			}
			sc := catalog.SourceConfig{Name: name, URL: loc}
			if key != "" {
				k, err := catalog.ReadPublicKeyFile(key)
				if err != nil {
					k2, perr := catalog.ParsePublicKey(key)
					if perr != nil {
						return fmt.Errorf("--key: %w", err)
					}
					k = k2
				}
				sc.Key = k.String()
			}
			cfg, path, err := h.config()
			if err != nil {
				return err
			}
			for _, c := range cfg.Catalogs {
				if c.Name == name {
					return fmt.Errorf("catalog %q is already configured (%s); remove it first", name, c.URL)
				}
			}
			cfg.Catalogs = append(cfg.Catalogs, sc)
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(h.a.stderr, "added catalog %s (%s) to %s\n", name, loc, path)
			return nil
		},
	}
	add.Flags().StringVar(&key, "key", "", "public key (file or base64) that must sign the catalog's index")
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the configured catalogs, in search order",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := h.a.checkOutput(); err != nil {
				return err
			}
			cfg, _, err := h.config()
			if err != nil {
				return err
			}
			type row struct {
				Name string `json:"name"`
				URL  string `json:"url"`
				Key  string `json:"key,omitempty"`
			}
			rows := []row{}
			for _, c := range cfg.Catalogs {
				rows = append(rows, row{c.Name, c.URL, c.Key})
			}
			if h.a.output == "json" {
				return writeJSON(h.a.stdout, rows)
			}
			tw := tabwriter.NewWriter(h.a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tURL\tINDEX KEY")
			for _, r := range rows {
				k := "any trusted"
				if pk, err := catalog.ParsePublicKey(r.Key); err == nil {
					k = pk.KeyID()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.URL, k)
			}
			return tw.Flush()
		},
	}
	h.a.addOutputFlag(list)
	remove := &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a configured catalog",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, err := h.config()
			if err != nil {
				return err
			}
			n := len(cfg.Catalogs)
			cfg.Catalogs = slices.DeleteFunc(cfg.Catalogs, func(c catalog.SourceConfig) bool { return c.Name == args[0] })
			if len(cfg.Catalogs) == n {
				return fmt.Errorf("%w: no catalog %q in %s", catalog.ErrNotFound, args[0], path)
			}
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(h.a.stderr, "removed catalog %s from %s\n", args[0], path)
			return nil
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

// sameLocation reports whether two catalog locations are the same URL or
// directory.
func sameLocation(a, b string) bool {
	clean := func(s string) string {
		src := catalog.Source{Location: s}
		if src.IsRemote() {
			return strings.TrimSuffix(s, "/")
		}
		if abs, err := filepath.Abs(s); err == nil {
			return abs
		}
		return filepath.Clean(s)
	}
	return clean(a) == clean(b)
}

// originSources lists the catalogs the installed plugins came from that
// are not among have.
func (h *hub) originSources(have []catalog.Source) []catalog.Source {
	var out []catalog.Source
	ents, _ := os.ReadDir(h.plugins())
	for _, e := range ents {
		if !e.IsDir() || !catalog.ValidName(e.Name()) {
			continue
		}
		vers, _ := catalog.InstalledVersions(h.plugins(), e.Name())
		for _, v := range vers {
			o, ok, err := catalog.ReadOrigin(h.plugins(), e.Name(), v)
			if err != nil {
				fmt.Fprintf(h.a.stderr, "warning: %v\n", err)
			}
			if !ok {
				continue
			}
			s, err := o.Source()
			if err != nil {
				fmt.Fprintf(h.a.stderr, "warning: %v\n", err)
				continue
			}
			known := slices.ContainsFunc(append(have, out...), func(k catalog.Source) bool { return sameLocation(k.Location, s.Location) })
			if !known {
				out = append(out, s)
			}
		}
	}
	return out
}

// fromOrigin returns in with the catalog name@ver was installed from
// searched first, so an update comes from where the plugin came from.
func (h *hub) fromOrigin(in *catalog.Installer, name, ver string) (*catalog.Installer, string) {
	o, ok, err := catalog.ReadOrigin(h.plugins(), name, ver)
	if err != nil || !ok {
		return in, ""
	}
	i := slices.IndexFunc(in.Catalogs, func(c *catalog.Catalog) bool { return sameLocation(c.Source.Location, o.Location) })
	if i < 0 {
		return in, o.Catalog
	}
	cp := *in
	cp.Catalogs = append([]*catalog.Catalog{in.Catalogs[i]}, slices.Delete(slices.Clone(in.Catalogs), i, i+1)...)
	return &cp, in.Catalogs[i].Source.Name
}

// loosePlugins lists the plugins named name (at version ver, when set) in
// the plugin directory outside the hub's NAME/VERSION/NAME layout: binaries
// placed there by hand or by make build.
func (h *hub) loosePlugins(cmd *cobra.Command, name, ver string) []plugin.Installed {
	reg := plugin.NewRegistry([]string{h.plugins()}, slog.New(slog.DiscardHandler))
	var out []plugin.Installed
	for _, p := range reg.List(cmd.Context()) {
		if p.Name() != name || (ver != "" && p.Version() != ver) {
			continue
		}
		rel, err := filepath.Rel(h.plugins(), p.Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		if rel == filepath.Join(name, p.Version(), name) {
			continue // the hub's layout
		}
		out = append(out, p)
	}
	return out
}

// defaultKeyFile is where a publisher's private key lives unless --key or
// --out says otherwise: ~/.junction/keys/publisher.key.
func (h *hub) defaultKeyFile() (string, error) {
	home := h.a.getenv("HOME")
	if home == "" {
		return "", errors.New("$HOME is not set; pass the key file")
	}
	return filepath.Join(home, ".junction", "keys", "publisher.key"), nil
}

// warnKeyInWorkTree warns when the private key at path is inside a git
// work tree and not ignored by it, where a commit could publish it.
func (h *hub) warnKeyInWorkTree(path string) {
	if tree := gitWorkTree(path); tree != "" && !gitIgnored(tree, path) {
		fmt.Fprintf(h.a.stderr, "warning: the private key %s is inside the git work tree %s and not git-ignored: a commit could publish it; keep keys in ~/.junction/keys\n", path, tree)
	}
}

// gitWorkTree returns the work tree holding path, or "".
func gitWorkTree(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// gitIgnored reports whether git ignores path in tree. Without git it
// cannot tell, and says no.
func gitIgnored(tree, path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	cmd := exec.Command("git", "-C", tree, "check-ignore", "-q", "--", abs)
	return cmd.Run() == nil
}
