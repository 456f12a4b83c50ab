package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/internal/version"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// HubLoader reads and verifies the broker's catalogs and returns an
// installer into dir, the broker's plugin directory, with a warning per
// catalog that did not load. cmd/junction builds it from the same config
// file `junction hub` reads.
type HubLoader func(ctx context.Context, dir string) (in *catalog.Installer, warnings []string, err error)

// hubService serves HubService on the broker's first plugin directory.
// Installs and removals are serialised: an Installer is single-caller.
type hubService struct {
	load HubLoader
	dir  string
	mu   sync.Mutex
}

func hubError(err error, name string) error {
	if err == nil {
		return nil
	}
	code := connect.CodeInternal
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		code = connect.CodeNotFound
	case errors.Is(err, catalog.ErrVerify):
		code = connect.CodeFailedPrecondition
	case errors.Is(err, catalog.ErrYanked), errors.Is(err, catalog.ErrIncompatible), errors.Is(err, catalog.ErrNoPlatform):
		code = connect.CodeFailedPrecondition
	case errors.Is(err, context.Canceled):
		code = connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		code = connect.CodeDeadlineExceeded
	}
	return connect.NewError(code, err)
}

func (s *hubService) installer(ctx context.Context) (*catalog.Installer, []string, error) {
	if s.load == nil || s.dir == "" {
		return nil, nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("this broker has no hub configured"))
	}
	in, warns, err := s.load(ctx, s.dir)
	if err != nil {
		return nil, nil, hubError(fmt.Errorf("load catalogs: %w", err), "")
	}
	return in, warns, nil
}

func validPluginName(name string) error {
	if !catalog.ValidName(name) {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("name %q: want lower case letters, digits and dashes", truncate(name, 64)))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (s *hubService) summary(in *catalog.Installer, cat *catalog.Catalog, e *catalog.Connector) *v1.HubConnector {
	hc := &v1.HubConnector{Name: e.Name, Description: e.Description, Catalog: cat.Source.Name, Publisher: e.Publisher,
		License: e.License, Homepage: e.Homepage, Trust: "not trusted"}
	for _, k := range e.Kinds {
		hc.Kinds = append(hc.Kinds, string(k))
	}
	if cand, err := in.Resolve(e.Name, ""); err == nil {
		hc.Latest = cand.Release.Version
	}
	if _, pub, err := in.Trust.Signer(e.Publisher, e.Name); err == nil {
		hc.Trust = "trusted, publisher " + pub
	} else if errors.Is(err, catalog.ErrUntrusted) && strings.Contains(err.Error(), "trusted only for") {
		hc.Trust = "trusted, but not for this name"
	}
	hc.Installed, _ = catalog.InstalledVersions(s.dir, e.Name)
	return hc
}

func (s *hubService) SearchHub(ctx context.Context, req *connect.Request[v1.SearchHubRequest]) (*connect.Response[v1.SearchHubResponse], error) {
	in, warns, err := s.installer(ctx)
	if err != nil {
		return nil, err
	}
	term := strings.ToLower(req.Msg.Term)
	resp := &v1.SearchHubResponse{Warnings: warns}
	seen := map[string]bool{}
	for _, c := range in.Catalogs {
		for i := range c.Index.Connectors {
			e := &c.Index.Connectors[i]
			if seen[e.Name] || (term != "" && !strings.Contains(e.Name, term) && !strings.Contains(strings.ToLower(e.Description), term)) {
				continue
			}
			seen[e.Name] = true
			resp.Connectors = append(resp.Connectors, s.summary(in, c, e))
		}
	}
	slices.SortFunc(resp.Connectors, func(a, b *v1.HubConnector) int { return strings.Compare(a.Name, b.Name) })
	return connect.NewResponse(resp), nil
}

func (s *hubService) GetHubConnector(ctx context.Context, req *connect.Request[v1.GetHubConnectorRequest]) (*connect.Response[v1.GetHubConnectorResponse], error) {
	if err := validPluginName(req.Msg.Name); err != nil {
		return nil, err
	}
	in, _, err := s.installer(ctx)
	if err != nil {
		return nil, err
	}
	cat, e, err := in.Find(req.Msg.Name)
	if err != nil {
		return nil, hubError(err, req.Msg.Name)
	}
	hc := s.summary(in, cat, e)
	for i := range e.Versions {
		r := &e.Versions[i]
		hr := &v1.HubRelease{Version: r.Version, Released: timestamppb.New(r.Released), MinJunction: r.MinJunction,
			Yanked: r.Yanked, YankReason: r.YankReason, Status: "ok"}
		for p := range r.Platforms {
			hr.Platforms = append(hr.Platforms, p)
		}
		slices.Sort(hr.Platforms)
		if r.Yanked {
			hr.Status = "yanked"
			if r.YankReason != "" {
				hr.Status += ": " + r.YankReason
			}
		} else if err := in.Compatible(r); err != nil {
			hr.Status = "incompatible: " + err.Error()
		} else if _, ok := r.Platforms[catalog.Platform()]; !ok {
			hr.Status = "no build for " + catalog.Platform()
		}
		hc.Versions = append(hc.Versions, hr)
	}
	return connect.NewResponse(&v1.GetHubConnectorResponse{Connector: hc}), nil
}

// install resolves name@constraint and installs it.
func (s *hubService) install(ctx context.Context, name, constraint string) (*v1.PluginInstall, error) {
	in, _, err := s.installer(ctx)
	if err != nil {
		return nil, err
	}
	var warns []string
	in.Warn = func(msg string) { warns = append(warns, msg) }
	cand, err := in.Resolve(name, constraint)
	if err != nil {
		return nil, hubError(err, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	path, already, err := in.Install(ctx, cand)
	if err != nil {
		return nil, hubError(fmt.Errorf("install %s: %w", cand.Ref(), err), name)
	}
	_, pub, _ := in.Trust.Signer(cand.Connector.Publisher, name)
	return &v1.PluginInstall{
		Name: name, Version: cand.Release.Version, Path: path, Catalog: cand.Catalog.Source.Name, AlreadyInstalled: already, Warnings: warns,
		Verification: fmt.Sprintf("signature by %s (trusted for %s), size and sha256 of the %s build, and its --spec match the catalog", orUnknown(pub), name, cand.Platform),
	}, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "a trusted key"
	}
	return s
}

func (s *hubService) InstallPlugin(ctx context.Context, req *connect.Request[v1.InstallPluginRequest]) (*connect.Response[v1.InstallPluginResponse], error) {
	if err := validPluginName(req.Msg.Name); err != nil {
		return nil, err
	}
	if req.Msg.Version != "" {
		if _, err := version.ParseConstraint(req.Msg.Version); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("version %q: %w", truncate(req.Msg.Version, 64), err))
		}
	}
	pi, err := s.install(ctx, req.Msg.Name, req.Msg.Version)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&v1.InstallPluginResponse{Install: pi}), nil
}

func (s *hubService) UpgradePlugin(ctx context.Context, req *connect.Request[v1.UpgradePluginRequest]) (*connect.Response[v1.UpgradePluginResponse], error) {
	if err := validPluginName(req.Msg.Name); err != nil {
		return nil, err
	}
	have, err := catalog.InstalledVersions(s.dir, req.Msg.Name)
	if err != nil {
		return nil, hubError(err, req.Msg.Name)
	}
	if len(have) == 0 {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("%s is not installed; install it first", req.Msg.Name))
	}
	pi, err := s.install(ctx, req.Msg.Name, "")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&v1.UpgradePluginResponse{Install: pi}), nil
}

func (s *hubService) RemovePlugin(ctx context.Context, req *connect.Request[v1.RemovePluginRequest]) (*connect.Response[v1.RemovePluginResponse], error) {
	if err := validPluginName(req.Msg.Name); err != nil {
		return nil, err
	}
	if s.dir == "" {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("this broker has no plugin directory"))
	}
	if v := req.Msg.Version; v != "" {
		if _, err := version.Parse(v); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("version %q: %w", truncate(v, 64), err))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	removed, err := catalog.Remove(s.dir, req.Msg.Name, req.Msg.Version)
	if err != nil {
		return nil, hubError(fmt.Errorf("remove %s: %w", req.Msg.Name, err), req.Msg.Name)
	}
	return connect.NewResponse(&v1.RemovePluginResponse{Removed: removed}), nil
}

func firstDir(dirs []string) string {
	if len(dirs) == 0 {
		return ""
	}
	return dirs[0]
}
