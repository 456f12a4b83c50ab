package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/internal/buildinfo"
	"github.com/junctionhq/junction/internal/version"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/sdk/client"
)

// hub holds the flags the hub commands share.
type hub struct {
	a          *app
	configPath string
	catalogs   []string
	offline    bool
	dataDir    string
	pluginDir  string
	// withOrigins adds the catalogs installed plugins came from to the
	// configured ones (list and upgrade).
	withOrigins bool
}

func newHubCmd(a *app) *cobra.Command {
	h := &hub{a: a}
	cmd := groupCmd("hub", "Find, install and publish connector plugins from signed catalogs")
	cmd.Long = `The hub installs connector plugins from catalogs: signed indexes served over
http(s) or read from a directory. Every artifact is checked against its size,
sha256 and its publisher's ed25519 signature, and the publisher must be
trusted for the connector's name, before it is run or installed. Plugins
install into DATA/plugins/NAME/VERSION/NAME, where the broker finds them.

Catalogs come from --catalog (repeatable) or the config file
(--config, $JUNCTION_CONFIG, default ~/.junction/config.yaml):

  catalogs:
    - name: community
      url: https://catalog.example.com/
      key: BASE64KEY        # optional: the only key that may sign its index
  trusted_keys:             # managed by 'junction hub trust'
    - publisher: acme
      key: BASE64KEY
      connectors: [acme, acme-*]

In a source checkout the catalog 'make build' publishes (../dist/catalog
next to the junction binary) is searched after the configured ones, and
its key is built into the binary.`
	cmd.PersistentFlags().StringVar(&h.configPath, "config", "", "hub config file (env JUNCTION_CONFIG; default ~/.junction/config.yaml)")
	cmd.AddCommand(h.searchCmd(), h.infoCmd(), h.installCmd(), h.listCmd(), h.upgradeCmd(), h.removeCmd(),
		h.keygenCmd(), h.publishCmd(), h.trustCmd(), h.catalogCmd())
	return cmd
}

func (h *hub) addSourceFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&h.catalogs, "catalog", nil, "catalog URL or directory (repeatable; replaces the configured catalogs)")
	f.BoolVar(&h.offline, "offline", false, "use the cached index of remote catalogs (verified again) and download nothing")
	f.StringVar(&h.dataDir, "data", "./data", "data directory: plugins install into DATA/plugins, indexes cache in DATA/cache/catalogs")
}

func (h *hub) addPluginFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&h.pluginDir, "plugins", "", "plugin directory (default DATA/plugins)")
}

func (h *hub) plugins() string {
	if h.pluginDir != "" {
		return h.pluginDir
	}
	return filepath.Join(h.dataDir, "plugins")
}

func (h *hub) config() (*catalog.Config, string, error) {
	path := h.configPath
	if path == "" {
		path = h.a.getenv("JUNCTION_CONFIG")
	}
	if path == "" {
		home := h.a.getenv("HOME")
		if home == "" {
			return nil, "", errors.New("config: $HOME is not set; pass --config or set JUNCTION_CONFIG")
		}
		path = filepath.Join(home, ".junction", "config.yaml")
	}
	cfg, err := catalog.LoadConfig(path)
	return cfg, path, err
}

func (h *hub) trust(cfg *catalog.Config) (*catalog.TrustStore, error) {
	return catalog.NewTrustStore(buildinfo.FirstPartyKey, cfg.TrustedKeys)
}

// sources lists the catalogs to search: --catalog, else the configured
// ones followed by the source checkout's dist/catalog.
func (h *hub) sources(cfg *catalog.Config) ([]catalog.Source, error) {
	var out []catalog.Source
	if len(h.catalogs) > 0 {
		for _, c := range h.catalogs {
			out = append(out, catalog.Source{Name: c, Location: c})
		}
		return out, nil
	}
	for _, c := range cfg.Catalogs {
		s := catalog.Source{Name: c.Name, Location: c.URL}
		if s.Name == "" {
			s.Name = c.URL
		}
		if c.Key != "" {
			k, err := catalog.ParsePublicKey(c.Key)
			if err != nil {
				return nil, fmt.Errorf("catalog %s: %w", s.Name, err)
			}
			s.Key = k
		}
		out = append(out, s)
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Join(filepath.Dir(exe), "..", "dist", "catalog")
		if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
			s := catalog.Source{Name: "first-party (" + filepath.Clean(dir) + ")", Location: filepath.Clean(dir)}
			if buildinfo.FirstPartyKey != "" {
				if k, err := catalog.ParsePublicKey(buildinfo.FirstPartyKey); err == nil {
					s.Key = k
				}
			}
			out = append(out, s)
		}
	}
	if h.withOrigins {
		out = append(out, h.originSources(out)...)
	}
	return out, nil
}

// load reads and verifies every catalog. A catalog that does not load is
// skipped with a warning, unless none loads. Skipping cannot substitute
// another publisher's build: trusted keys are pinned to names.
func (h *hub) load(ctx context.Context) (*catalog.Installer, error) {
	return h.loadWith(ctx, func(err error) { fmt.Fprintf(h.a.stderr, "warning: skipping %v\n", err) })
}

// loadWith is load passing each skipped catalog's error to skip.
func (h *hub) loadWith(ctx context.Context, skip func(error)) (*catalog.Installer, error) {
	cfg, _, err := h.config()
	if err != nil {
		return nil, err
	}
	ts, err := h.trust(cfg)
	if err != nil {
		return nil, err
	}
	srcs, err := h.sources(cfg)
	if err != nil {
		return nil, err
	}
	l := &catalog.Loader{Trust: ts, CacheDir: filepath.Join(h.dataDir, "cache", "catalogs"), Offline: h.offline}
	in := &catalog.Installer{Trust: ts, Dir: h.plugins(), Offline: h.offline,
		Warn: func(msg string) { fmt.Fprintln(h.a.stderr, msg) }, Progress: h.progress}
	var failed []error
	for _, s := range srcs {
		c, err := l.Load(ctx, s)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		in.Catalogs = append(in.Catalogs, c)
	}
	if len(in.Catalogs) == 0 && len(failed) > 0 {
		return nil, errors.Join(failed...)
	}
	for _, err := range failed {
		skip(err)
	}
	return in, nil
}

// progress draws a download bar on stderr when it is a terminal.
func (h *hub) progress(ref string, size int64) io.Writer {
	f, ok := h.a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return io.Discard
	}
	return progressbar.NewOptions64(size, progressbar.OptionSetWriter(f), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("downloading "+ref), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(65*time.Millisecond))
}

// splitRef splits NAME[@CONSTRAINT].
func splitRef(ref string) (string, string, error) {
	name, cons, _ := strings.Cut(ref, "@")
	if !catalog.ValidName(name) {
		return "", "", usagef("%q: want NAME or NAME@VERSION, with a name of lower case letters, digits and dashes", ref)
	}
	if strings.Contains(ref, "@") && cons == "" {
		return "", "", usagef("%q: empty version after @", ref)
	}
	return name, cons, nil
}

func (h *hub) searchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "search [TERM]",
		Short: "List catalog connectors whose name or description contains TERM",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one argument: TERM", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := h.a.checkOutput(); err != nil {
				return err
			}
			in, err := h.load(cmd.Context())
			if err != nil {
				return err
			}
			term := ""
			if len(args) == 1 {
				term = strings.ToLower(args[0])
			}
			type row = hubSearchRow
			rows := []row{}
			seen := map[string]bool{}
			for _, c := range in.Catalogs {
				for _, e := range c.Index.Connectors {
					if seen[e.Name] || (term != "" && !strings.Contains(e.Name, term) && !strings.Contains(strings.ToLower(e.Description), term)) {
						continue
					}
					seen[e.Name] = true
					latest := ""
					if cand, err := in.Resolve(e.Name, ""); err == nil {
						latest = cand.Release.Version
					}
					rows = append(rows, row{Name: e.Name, Latest: latest, Description: e.Description, Catalog: c.Source.Name, Publisher: e.Publisher, Kinds: kindStrings(e)})
				}
			}
			slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.Name, b.Name) })
			if h.a.output == "json" {
				return writeJSON(h.a.stdout, rows)
			}
			tw := tabwriter.NewWriter(h.a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tLATEST\tKINDS\tCATALOG\tDESCRIPTION")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, orDash(r.Latest), strings.Join(r.Kinds, ","), r.Catalog, r.Description)
			}
			return tw.Flush()
		},
	}
	h.addSourceFlags(cmd)
	h.a.addOutputFlag(cmd)
	return cmd
}

func kindStrings(e catalog.Connector) []string {
	out := []string{}
	for _, k := range e.Kinds {
		out = append(out, string(k))
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (h *hub) infoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "info NAME[@VERSION]",
		Short: "Show a catalog connector's versions, platforms and config fields",
		Long: `Show a connector from the catalogs: its versions (with yanked ones and why),
platforms, and the config fields of the newest matching version (or the one
named), with type, default, required, secret and doc. Nothing is downloaded.`,
		Example: `  junction hub info file
  junction hub info s3@^1.2`,
		Args: exactArgs("NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := h.a.checkOutput(); err != nil {
				return err
			}
			name, cons, err := splitRef(args[0])
			if err != nil {
				return err
			}
			in, err := h.load(cmd.Context())
			if err != nil {
				return err
			}
			cat, e, err := in.Find(name)
			if err != nil {
				return err
			}
			rel := &e.Versions[0]
			if cand, err := in.Resolve(name, cons); err == nil {
				rel = cand.Release
			} else if cons != "" {
				c, perr := version.ParseConstraint(cons)
				if perr != nil {
					return usagef("%s: %v", args[0], perr)
				}
				var vs []string
				for _, r := range e.Versions {
					vs = append(vs, r.Version)
				}
				i := c.Newest(vs)
				if i < 0 {
					return err
				}
				rel = &e.Versions[i]
			}
			if h.a.output == "json" {
				return writeJSON(h.a.stdout, hubInfoJSON{cat.Source.Name, e})
			}
			w := h.a.stdout
			fmt.Fprintf(w, "%s — %s\n\n", e.Name, e.Description)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			trust := "not trusted (junction hub trust add PUBLISHER KEYFILE)"
			if _, pub, err := in.Trust.Signer(e.Publisher, e.Name); err == nil {
				trust = "trusted, publisher " + pub
			} else if errors.Is(err, catalog.ErrUntrusted) && strings.Contains(err.Error(), "trusted only for") {
				trust = "trusted, but not for this name"
			}
			fmt.Fprintf(tw, "Catalog:\t%s\n", cat.Source.Name)
			fmt.Fprintf(tw, "Publisher key:\t%s (%s)\n", e.Publisher, trust)
			fmt.Fprintf(tw, "Kinds:\t%s\n", strings.Join(kindStrings(*e), ", "))
			fmt.Fprintf(tw, "License:\t%s\n", orDash(e.License))
			fmt.Fprintf(tw, "Homepage:\t%s\n", orDash(e.Homepage))
			tw.Flush()
			fmt.Fprintln(w, "\nVersions:")
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  VERSION\tRELEASED\tMIN JUNCTION\tPROTOCOL\tPLATFORMS\tSTATUS")
			for i := range e.Versions {
				r := &e.Versions[i]
				var ps []string
				for p := range r.Platforms {
					ps = append(ps, p)
				}
				slices.Sort(ps)
				status := "ok"
				if r.Yanked {
					status = "yanked"
					if r.YankReason != "" {
						status += ": " + r.YankReason
					}
				} else if err := in.Compatible(r); err != nil {
					status = "incompatible"
				} else if _, ok := r.Platforms[catalog.Platform()]; !ok {
					status = "no build for " + catalog.Platform()
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", r.Version, r.Released.Format("2006-01-02"), r.MinJunction, r.ProtocolVersion, strings.Join(ps, " "), status)
			}
			tw.Flush()
			fmt.Fprintf(w, "\nConfig of %s@%s:\n", e.Name, rel.Version)
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  FIELD\tTYPE\tDEFAULT\tREQUIRED\tSECRET\tDOC")
			for _, f := range rel.Spec.Fields {
				doc := f.Doc
				if len(f.Allowed) > 0 {
					doc += " (one of: " + strings.Join(f.Allowed, ", ") + ")"
				}
				if len(f.Kinds) > 0 {
					var ks []string
					for _, k := range f.Kinds {
						ks = append(ks, string(k))
					}
					doc += " [" + strings.Join(ks, ", ") + " only]"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Type, orDash(f.Default), yesNo(f.Required), yesNo(f.Secret), doc)
			}
			return tw.Flush()
		},
	}
	h.addSourceFlags(cmd)
	h.a.addOutputFlag(cmd)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (h *hub) installCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "install NAME[@VERSION]...",
		Short: "Download, verify and install connector plugins",
		Long: `Install the newest non-yanked version matching each NAME[@CONSTRAINT]
(1.2.3, ^1.2, ~1.2, >=1,<2) that has a build for this platform and runs
with this Junction. A yanked version installs only when pinned exactly,
with a warning. The artifact's size, sha256 and signature, and the signer's
trust for the name, are checked before it runs; then its --spec must match
the index. It is installed atomically into PLUGINS/NAME/VERSION/NAME;
anything that does not verify is refused and nothing is installed.`,
		Example: `  junction hub install file
  junction hub install s3@^1.2 --data /var/lib/junction`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s takes at least one argument: NAME[@VERSION]", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			type want struct{ name, cons string }
			var wants []want
			for _, a := range args {
				n, c, err := splitRef(a)
				if err != nil {
					return err
				}
				wants = append(wants, want{n, c})
			}
			in, err := h.load(cmd.Context())
			if err != nil {
				return err
			}
			for _, w := range wants {
				cand, err := in.Resolve(w.name, w.cons)
				if err != nil {
					return err
				}
				if err := h.install(cmd.Context(), in, cand); err != nil {
					return err
				}
			}
			return nil
		},
	}
	h.addSourceFlags(cmd)
	h.addPluginFlag(cmd)
	return cmd
}

func (h *hub) install(ctx context.Context, in *catalog.Installer, cand catalog.Candidate) error {
	path, already, err := in.Install(ctx, cand)
	if err != nil {
		return fmt.Errorf("install %s: %w", cand.Ref(), err)
	}
	if already {
		fmt.Fprintf(h.a.stderr, "%s is already installed (%s)\n", cand.Ref(), path)
		return nil
	}
	fmt.Fprintf(h.a.stderr, "installed %s (%s) from %s into %s\n", cand.Ref(), strings.Join(kindStrings(*cand.Connector), ", "), cand.Catalog.Source.Name, path)
	return nil
}

func (h *hub) listCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List installed plugins, and which have an update in the catalogs",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := h.a.checkOutput(); err != nil {
				return err
			}
			h.withOrigins = true
			reg := plugin.NewRegistry([]string{h.plugins()}, slog.New(slog.DiscardHandler))
			inst := reg.List(cmd.Context())
			in, err := h.load(cmd.Context())
			if err != nil {
				fmt.Fprintf(h.a.stderr, "warning: no update information: %v\n", err)
			}
			type row = hubListRow
			rows := []row{}
			newest := map[string]bool{}
			for _, p := range inst {
				r := row{Name: p.Name(), Version: p.Version(), Path: p.Path, Kinds: []string{}}
				for _, k := range p.Spec.Kinds {
					r.Kinds = append(r.Kinds, string(k))
				}
				if in != nil {
					from, cat := h.fromOrigin(in, p.Name(), p.Version())
					r.Catalog = cat
					if !newest[p.Name()] {
						newest[p.Name()] = true
						if cand, err := from.Resolve(p.Name(), ""); err == nil && newer(cand.Release.Version, p.Version()) {
							r.Update = cand.Release.Version
						}
					}
				}
				rows = append(rows, r)
			}
			if h.a.output == "json" {
				return writeJSON(h.a.stdout, rows)
			}
			tw := tabwriter.NewWriter(h.a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tKINDS\tUPDATE\tCATALOG\tPATH")
			for _, r := range rows {
				upd := "-"
				if r.Update != "" {
					upd = "update available: " + r.Update
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Version, strings.Join(r.Kinds, ","), upd, orDash(r.Catalog), r.Path)
			}
			return tw.Flush()
		},
	}
	h.addSourceFlags(cmd)
	h.addPluginFlag(cmd)
	h.a.addOutputFlag(cmd)
	return cmd
}

func newer(a, b string) bool {
	va, err1 := version.Parse(a)
	vb, err2 := version.Parse(b)
	return err1 == nil && err2 == nil && va.Compare(vb) > 0
}

func (h *hub) upgradeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade [NAME]",
		Short: "Install the newest catalog version of installed plugins",
		Long: `Install the newest non-yanked, compatible catalog version of NAME, or of
every plugin installed in the plugin directory. Older versions stay
installed, so connectors pinned to them keep working; remove them with
'junction hub remove NAME@VERSION'.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one argument: NAME", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			if len(args) == 1 {
				n, c, err := splitRef(args[0])
				if err != nil {
					return err
				}
				if c != "" {
					return usagef("upgrade takes a NAME; to install a version use junction hub install %s", args[0])
				}
				names = []string{n}
			} else {
				ents, err := os.ReadDir(h.plugins())
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				for _, e := range ents {
					if e.IsDir() && catalog.ValidName(e.Name()) {
						names = append(names, e.Name())
					}
				}
			}
			h.withOrigins = true
			in, err := h.load(cmd.Context())
			if err != nil {
				return err
			}
			var failed []string
			for _, n := range names {
				have, err := catalog.InstalledVersions(h.plugins(), n)
				if err != nil {
					return err
				}
				if len(have) == 0 {
					if len(args) == 1 {
						return fmt.Errorf("%w: %s is not installed in %s (install it with junction hub install %s)", catalog.ErrNotFound, n, h.plugins(), n)
					}
					continue
				}
				from, _ := h.fromOrigin(in, n, have[0])
				cand, err := from.Resolve(n, "")
				if err != nil {
					fmt.Fprintf(h.a.stderr, "%s: %v\n", n, err)
					failed = append(failed, n)
					continue
				}
				if !newer(cand.Release.Version, have[0]) {
					fmt.Fprintf(h.a.stderr, "%s is up to date (%s)\n", n, have[0])
					continue
				}
				if err := h.install(cmd.Context(), in, cand); err != nil {
					fmt.Fprintf(h.a.stderr, "%v\n", err)
					failed = append(failed, n)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("upgrade failed for %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
	h.addSourceFlags(cmd)
	h.addPluginFlag(cmd)
	return cmd
}

func (h *hub) removeCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove NAME[@VERSION]",
		Short: "Remove an installed plugin, or one version of it",
		Long: `Remove NAME (every installed version) or NAME@VERSION from the plugin
directory. First the broker at --server is asked which connectors use the
plugin, and the removal is refused while any does. If no broker is
reachable there, nothing can be checked: the removal is refused unless
--force, which also overrides connectors still using it.`,
		Args: exactArgs("NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ver, err := splitRef(args[0])
			if err != nil {
				return err
			}
			var have []string
			if fi, err := os.Stat(filepath.Join(h.plugins(), name)); err == nil && fi.IsDir() {
				if have, err = catalog.InstalledVersions(h.plugins(), name); err != nil {
					return err
				}
			}
			if ver != "" && !slices.Contains(have, ver) {
				have = nil
			}
			loose := h.loosePlugins(cmd, name, ver)
			if len(have) == 0 && len(loose) == 0 {
				return fmt.Errorf("%w: %s is not installed in %s", catalog.ErrNotFound, args[0], h.plugins())
			}
			users, err := h.connectorsUsing(cmd.Context(), name, ver)
			switch {
			case err != nil && !force:
				return fmt.Errorf("cannot check whether a connector uses %s: %v; pass --force to remove it anyway", args[0], err)
			case err != nil:
				fmt.Fprintf(h.a.stderr, "warning: not checked whether a connector uses %s: %v\n", args[0], err)
			case len(users) > 0 && !force:
				return fmt.Errorf("%s is used by connector(s) %s; delete them first, or pass --force", args[0], strings.Join(users, ", "))
			case len(users) > 0:
				fmt.Fprintf(h.a.stderr, "warning: removing %s, used by connector(s) %s\n", args[0], strings.Join(users, ", "))
			}
			for _, p := range loose {
				if err := os.Remove(p.Path); err != nil {
					return fmt.Errorf("remove %s@%s: %w", name, p.Version(), err)
				}
				fmt.Fprintf(h.a.stderr, "removed %s@%s (%s)\n", name, p.Version(), p.Path)
			}
			if len(have) == 0 {
				return nil
			}
			removed, err := catalog.Remove(h.plugins(), name, ver)
			for _, v := range removed {
				fmt.Fprintf(h.a.stderr, "removed %s@%s\n", name, v)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove even if a connector uses it or no broker is reachable to check")
	cmd.Flags().StringVar(&h.dataDir, "data", "./data", "data directory whose plugins directory to remove from")
	h.addPluginFlag(cmd)
	return cmd
}

// connectorsUsing asks the broker which connectors run name (at version
// ver, when set). The error says when no broker could be asked.
func (h *hub) connectorsUsing(ctx context.Context, name, ver string) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, h.a.server, client.WithDialTimeout(2*time.Second))
	if err != nil {
		return nil, fmt.Errorf("no broker reachable at %s (%v)", h.a.server, err)
	}
	defer c.Close()
	cs, err := c.Connectors(cctx)
	if err != nil {
		return nil, fmt.Errorf("broker at %s: %w", h.a.server, err)
	}
	var users []string
	for _, s := range cs {
		if pluginName(s.Connector) == name && (ver == "" || s.PluginVersion == ver) {
			users = append(users, s.Name)
		}
	}
	return users, nil
}

func (h *hub) keygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [--out KEYFILE]",
		Short: "Create an ed25519 key pair for publishing a catalog",
		Long: `Write a new private key to KEYFILE (mode 0600, in a 0700 directory; never
overwritten; default ~/.junction/keys/publisher.key) and its public key to
KEYFILE.pub, and print the public key. Give KEYFILE.pub to users, who trust
it with 'junction hub trust add PUBLISHER KEYFILE.pub'. A KEYFILE inside a
git work tree that git does not ignore gets a warning: a commit could
publish it.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				def, err := h.defaultKeyFile()
				if err != nil {
					return usagef("--out KEYFILE: %v", err)
				}
				out = def
			}
			h.warnKeyInWorkTree(out)
			pub, err := catalog.GenerateKeyFile(out)
			if err != nil {
				return err
			}
			fmt.Fprintln(h.a.stdout, pub.String())
			fmt.Fprintf(h.a.stderr, "private key written to %s (keep it secret), public key to %s.pub; key id %s\n", out, out, pub.KeyID())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "private key file to create (default ~/.junction/keys/publisher.key)")
	return cmd
}

func (h *hub) publishCmd() *cobra.Command {
	var (
		dir, keyFile, minJunction, yank, unyank, reason string
		force                                           bool
	)
	cmd := &cobra.Command{
		Use:   "publish --catalog DIR [--key KEYFILE] BINARY...",
		Short: "Add plugin binaries to a catalog directory and sign it",
		Long: `Run each BINARY with --spec, copy it to
DIR/artifacts/NAME/VERSION/GOOS-GOARCH/NAME, sign it, and rewrite
DIR/index.json and DIR/index.json.sig atomically. An artifact already
published with different bytes is refused unless --force: bump the version.
--yank NAME@VERSION marks a version yanked (installed only when pinned
exactly); --unyank undoes it. Serve DIR with any static file server.
The key defaults to ~/.junction/keys/publisher.key, made by 'hub keygen'.`,
		Example: `  junction hub keygen
  junction hub publish --catalog ./catalog bin/plugins/acme-sink
  junction hub publish --catalog ./catalog --yank acme-sink@1.0.0 --reason "loses data on restart"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("--catalog DIR is required")
			}
			if keyFile == "" {
				def, err := h.defaultKeyFile()
				if err != nil {
					return usagef("--key KEYFILE: %v", err)
				}
				keyFile = def
			}
			h.warnKeyInWorkTree(keyFile)
			if (yank != "" || unyank != "") == (len(args) > 0) {
				return usagef("pass BINARY... to publish, or --yank/--unyank NAME@VERSION")
			}
			if minJunction != "" {
				if _, err := version.Parse(minJunction); err != nil {
					return usagef("--min-junction: %v", err)
				}
			}
			key, err := catalog.ReadPrivateKeyFile(keyFile)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no private key at %s: create one with junction hub keygen, or pass --key", keyFile)
			}
			if err != nil {
				return err
			}
			p := &catalog.Publisher{Dir: dir, Key: key, Force: force, MinJunction: minJunction}
			if ref := yank + unyank; ref != "" {
				name, ver, _ := strings.Cut(ref, "@")
				if ver == "" {
					return usagef("--yank/--unyank: want NAME@VERSION, got %q", ref)
				}
				if err := p.Yank(name, ver, reason, yank != ""); err != nil {
					return err
				}
				what := "yanked"
				if unyank != "" {
					what = "unyanked"
				}
				fmt.Fprintf(h.a.stderr, "%s %s in %s\n", what, ref, dir)
				return nil
			}
			pubs, err := p.Publish(cmd.Context(), args)
			if err != nil {
				return err
			}
			for _, pb := range pubs {
				state := "published"
				if pb.Unchanged {
					state = "unchanged"
				}
				fmt.Fprintf(h.a.stderr, "%s %s for %s (%s)\n", state, pb.Ref, pb.Platform, pb.Path)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "catalog", "", "catalog directory to publish into (created if missing)")
	f.StringVar(&keyFile, "key", "", "private key file from junction hub keygen (default ~/.junction/keys/publisher.key)")
	f.BoolVar(&force, "force", false, "replace an artifact published with different bytes, or re-sign a catalog signed by another key")
	f.StringVar(&minJunction, "min-junction", "", "oldest Junction the new releases run on (default this junction's version)")
	f.StringVar(&yank, "yank", "", "mark NAME@VERSION yanked")
	f.StringVar(&unyank, "unyank", "", "clear the yanked mark of NAME@VERSION")
	f.StringVar(&reason, "reason", "", "why the version is yanked, shown to users")
	return cmd
}

func (h *hub) trustCmd() *cobra.Command {
	cmd := groupCmd("trust", "Manage the publisher keys trusted to sign connectors")
	var (
		patterns []string
		expires  expiresFlag
	)
	add := &cobra.Command{
		Use:   "add PUBLISHER KEYFILE",
		Short: "Trust a publisher's public key for some connector names",
		Long: `Trust the public key in KEYFILE (or given as base64) to sign connectors
named by --for: a name, a prefix ending in * (acme-*), or * for any name.
The default is PUBLISHER and PUBLISHER-*. An artifact signed by a trusted
key for a name it is not trusted for is refused.`,
		Example: `  junction hub trust add acme acme.key.pub
  junction hub trust add acme acme.key.pub --for acme-* --for s3-fast`,
		Args: exactArgs("PUBLISHER", "KEYFILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pubName := args[0]
			if !catalog.ValidName(pubName) {
				return usagef("publisher %q: want lower case letters, digits and dashes", pubName)
			}
			key, err := catalog.ReadPublicKeyFile(args[1])
			if err != nil {
				k, perr := catalog.ParsePublicKey(args[1])
				if perr != nil {
					return err
				}
				key = k
			}
			pats := patterns
			if len(pats) == 0 {
				pats = []string{pubName, pubName + "-*"}
			}
			for _, p := range pats {
				if err := catalog.CheckPattern(p); err != nil {
					return usagef("--for: %v", err)
				}
			}
			cfg, path, err := h.config()
			if err != nil {
				return err
			}
			tk := catalog.TrustedKey{Publisher: pubName, Key: key.String(), Connectors: pats, Expires: expires.v}
			replaced := false
			for i, k := range cfg.TrustedKeys {
				if k.Publisher == pubName && k.Key == tk.Key {
					cfg.TrustedKeys[i], replaced = tk, true
				}
			}
			if !replaced {
				cfg.TrustedKeys = append(cfg.TrustedKeys, tk)
			}
			if _, err := catalog.NewTrustStore("", cfg.TrustedKeys); err != nil {
				return err
			}
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(h.a.stderr, "trusting key %s of %s for %s (in %s)\n", key.KeyID(), pubName, strings.Join(pats, ", "), path)
			return nil
		},
	}
	add.Flags().StringArrayVar(&patterns, "for", nil, "connector name or prefix* the key may sign (repeatable)")
	add.Flags().Var(&expires, "expires", "stop trusting the key then: a date (2027-01-31), RFC 3339 time, or duration from now (365d)")
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List trusted publisher keys and the names they may sign",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := h.a.checkOutput(); err != nil {
				return err
			}
			cfg, _, err := h.config()
			if err != nil {
				return err
			}
			keys := slices.Clone(cfg.TrustedKeys)
			if buildinfo.FirstPartyKey != "" {
				keys = append(keys, catalog.TrustedKey{Publisher: catalog.FirstPartyPublisher + " (built in)", Key: buildinfo.FirstPartyKey, Connectors: []string{"*"}})
			}
			if h.a.output == "json" {
				return writeJSON(h.a.stdout, toTrustedKeysJSON(keys))
			}
			tw := tabwriter.NewWriter(h.a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PUBLISHER\tKEY ID\tCONNECTORS\tSTATUS\tKEY")
			for _, k := range keys {
				id := "invalid"
				if pk, err := catalog.ParsePublicKey(k.Key); err == nil {
					id = pk.KeyID()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Publisher, id, strings.Join(k.Connectors, ","), k.Status(time.Now()), k.Key)
			}
			return tw.Flush()
		},
	}
	h.a.addOutputFlag(list)
	remove := &cobra.Command{
		Use:   "remove PUBLISHER",
		Short: "Stop trusting every key of a publisher",
		Args:  exactArgs("PUBLISHER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, err := h.config()
			if err != nil {
				return err
			}
			n := len(cfg.TrustedKeys)
			cfg.TrustedKeys = slices.DeleteFunc(cfg.TrustedKeys, func(k catalog.TrustedKey) bool { return k.Publisher == args[0] })
			if len(cfg.TrustedKeys) == n {
				return fmt.Errorf("%w: no trusted key of publisher %q", catalog.ErrNotFound, args[0])
			}
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(h.a.stderr, "removed %d key(s) of %s\n", n-len(cfg.TrustedKeys), args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, remove, h.trustRevokeCmd())
	return cmd
}
