package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
	"github.com/junctionhq/junction/sdk/connector"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// RestartConnector gives a running connector a fresh plugin process with
// the same definition, keeping its restart count and its position.
func TestRestartConnector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), PluginDirs: []string{testPlugins}, Logger: slog.New(slog.DiscardHandler),
		Security: SecurityOptions{FileRoots: []string{out}}}, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := newClients(s.Addr())
	ctx := context.Background()
	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "orders"}})); err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf("name: files\nconnector: file\nkind: sink\nstation: orders\nbatch: {max_records: 10, max_wait: 10ms}\nconfig:\n  dir: %s\n", out)
	if _, err := c.connectors.ApplyConnector(ctx, connect.NewRequest(&v1.ApplyConnectorRequest{Definition: []byte(def)})); err != nil {
		t.Fatal(err)
	}
	status := func() *v1.ConnectorStatus {
		resp, err := c.connectors.GetConnector(ctx, connect.NewRequest(&v1.GetConnectorRequest{Name: "files"}))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.Connector
	}
	if _, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "orders", Messages: values(5, 0)})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		st := status()
		return st.State == v1.ConnectorState_CONNECTOR_STATE_RUNNING && st.RecordsOut == 5
	})
	before := status().StartedAt.AsTime()

	resp, err := c.connectors.RestartConnector(ctx, connect.NewRequest(&v1.RestartConnectorRequest{Name: "files"}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.Connector.Name != "files" {
		t.Fatalf("restart answered %v", resp.Msg.Connector)
	}
	waitFor(t, func() bool {
		st := status()
		return st.State == v1.ConnectorState_CONNECTOR_STATE_RUNNING && st.StartedAt != nil && st.StartedAt.AsTime().After(before)
	})
	if _, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "orders", Messages: values(5, 5)})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return status().Lag == 0 && status().RecordsOut >= 5 })
	if st := status(); st.Restarts != 0 {
		t.Fatalf("an operator's restart counted as a failure: restarts = %d", st.Restarts)
	}

	if _, err := c.connectors.PauseConnector(ctx, connect.NewRequest(&v1.PauseConnectorRequest{Name: "files"})); err != nil {
		t.Fatal(err)
	}
	resp, err = c.connectors.RestartConnector(ctx, connect.NewRequest(&v1.RestartConnectorRequest{Name: "files"}))
	if err != nil || resp.Msg.Connector.State != v1.ConnectorState_CONNECTOR_STATE_PAUSED {
		t.Fatalf("restarting a paused connector: %v, %v; want it still paused", resp, err)
	}
	_, err = c.connectors.RestartConnector(ctx, connect.NewRequest(&v1.RestartConnectorRequest{Name: "nope"}))
	wantReason(t, err, connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_CONNECTOR_NOT_FOUND, "")
}

// hubCatalog publishes script plugins answering --spec into a catalog
// directory signed by a test key trusted for "test-*".
type hubCatalog struct {
	dir string
	key catalog.PrivateKey
}

func newHubCatalog(t *testing.T) *hubCatalog {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(7 + i)
	}
	k, err := catalog.NewPrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return &hubCatalog{dir: t.TempDir(), key: k}
}

func (h *hubCatalog) publish(t *testing.T, name, ver string) {
	t.Helper()
	spec := connector.Spec{Name: name, Version: ver, Description: "Test connector " + name + ".", License: "MIT",
		Kinds:           []connector.Kind{connector.KindSink},
		Fields:          []connector.Field{{Name: "path", Type: connector.TypeString, Required: true, Doc: "File to append to."}},
		ProtocolVersion: connector.ProtocolVersion}
	js, _ := json.Marshal(spec)
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, []byte(fmt.Sprintf("#!/bin/sh\ncat <<'JSON'\n%s\nJSON\n", js)), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &catalog.Publisher{Dir: h.dir, Key: h.key}
	if _, err := p.Publish(context.Background(), []string{bin}); err != nil {
		t.Fatal(err)
	}
}

func (h *hubCatalog) loader(t *testing.T) HubLoader {
	return func(ctx context.Context, dir string) (*catalog.Installer, []string, error) {
		ts, err := catalog.NewTrustStore("", []catalog.TrustedKey{{Publisher: "test", Key: h.key.Public().String(), Connectors: []string{"test-*"}}})
		if err != nil {
			return nil, nil, err
		}
		l := &catalog.Loader{Trust: ts, CacheDir: filepath.Join(t.TempDir(), "cache")}
		c, err := l.Load(ctx, catalog.Source{Name: "test", Location: h.dir})
		if err != nil {
			return nil, nil, err
		}
		return &catalog.Installer{Catalogs: []*catalog.Catalog{c}, Trust: ts, Dir: dir}, nil, nil
	}
}

// HubService searches, describes, installs, upgrades and removes plugins
// in the broker's plugin directory, where ListPlugins then finds them.
func TestHubService(t *testing.T) {
	cat := newHubCatalog(t)
	cat.publish(t, "test-echo", "1.0.0")
	cat.publish(t, "test-other", "0.1.0")
	plugins := filepath.Join(t.TempDir(), "plugins")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), PluginDirs: []string{plugins}, Hub: cat.loader(t), Logger: slog.New(slog.DiscardHandler)}, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	hub := junctionv1connect.NewHubServiceClient(h2cClient(), "http://"+s.Addr())
	conns := newClients(s.Addr()).connectors

	sr, err := hub.SearchHub(ctx, connect.NewRequest(&v1.SearchHubRequest{Term: "echo"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Msg.Connectors) != 1 || sr.Msg.Connectors[0].Name != "test-echo" || sr.Msg.Connectors[0].Latest != "1.0.0" ||
		!strings.HasPrefix(sr.Msg.Connectors[0].Trust, "trusted") || len(sr.Msg.Connectors[0].Installed) != 0 {
		t.Fatalf("search echo: %v", sr.Msg.Connectors)
	}
	ir, err := hub.InstallPlugin(ctx, connect.NewRequest(&v1.InstallPluginRequest{Name: "test-echo"}))
	if err != nil {
		t.Fatal(err)
	}
	if in := ir.Msg.Install; in.Version != "1.0.0" || in.AlreadyInstalled || in.Path != filepath.Join(plugins, "test-echo", "1.0.0", "test-echo") || !strings.Contains(in.Verification, "sha256") {
		t.Fatalf("install: %v", in)
	}
	lp, err := conns.ListPlugins(ctx, connect.NewRequest(&v1.ListPluginsRequest{}))
	if err != nil || len(lp.Msg.Plugins) != 1 || lp.Msg.Plugins[0].Version != "1.0.0" {
		t.Fatalf("plugins after install: %v, %v", lp.Msg.GetPlugins(), err)
	}

	cat.publish(t, "test-echo", "1.1.0")
	info, err := hub.GetHubConnector(ctx, connect.NewRequest(&v1.GetHubConnectorRequest{Name: "test-echo"}))
	if err != nil {
		t.Fatal(err)
	}
	if hc := info.Msg.Connector; hc.Latest != "1.1.0" || len(hc.Versions) != 2 || hc.Versions[0].Status != "ok" || len(hc.Installed) != 1 {
		t.Fatalf("info: %v", hc)
	}
	ur, err := hub.UpgradePlugin(ctx, connect.NewRequest(&v1.UpgradePluginRequest{Name: "test-echo"}))
	if err != nil || ur.Msg.Install.Version != "1.1.0" {
		t.Fatalf("upgrade: %v, %v", ur, err)
	}
	rr, err := hub.RemovePlugin(ctx, connect.NewRequest(&v1.RemovePluginRequest{Name: "test-echo", Version: "1.0.0"}))
	if err != nil || len(rr.Msg.Removed) != 1 || rr.Msg.Removed[0] != "1.0.0" {
		t.Fatalf("remove 1.0.0: %v, %v", rr, err)
	}
	lp, err = conns.ListPlugins(ctx, connect.NewRequest(&v1.ListPluginsRequest{}))
	if err != nil || len(lp.Msg.Plugins) != 1 || lp.Msg.Plugins[0].Version != "1.1.0" {
		t.Fatalf("plugins after upgrade and remove: %v, %v", lp.Msg.GetPlugins(), err)
	}

	for _, c := range []struct {
		call func() error
		code connect.Code
	}{
		{func() error {
			_, err := hub.InstallPlugin(ctx, connect.NewRequest(&v1.InstallPluginRequest{Name: "../etc"}))
			return err
		}, connect.CodeInvalidArgument},
		{func() error {
			_, err := hub.InstallPlugin(ctx, connect.NewRequest(&v1.InstallPluginRequest{Name: "test-missing"}))
			return err
		}, connect.CodeNotFound},
		{func() error {
			_, err := hub.InstallPlugin(ctx, connect.NewRequest(&v1.InstallPluginRequest{Name: "test-echo", Version: "not a version"}))
			return err
		}, connect.CodeInvalidArgument},
		{func() error {
			_, err := hub.UpgradePlugin(ctx, connect.NewRequest(&v1.UpgradePluginRequest{Name: "test-other"}))
			return err
		}, connect.CodeNotFound},
		{func() error {
			_, err := hub.RemovePlugin(ctx, connect.NewRequest(&v1.RemovePluginRequest{Name: "test-echo", Version: "../../x"}))
			return err
		}, connect.CodeInvalidArgument},
	} {
		if err := c.call(); connect.CodeOf(err) != c.code {
			t.Errorf("got %v; want %v", err, c.code)
		}
	}
}

// Without a hub configured the service says so instead of failing oddly.
func TestHubServiceUnconfigured(t *testing.T) {
	s, _ := startInProcess(t)
	hub := junctionv1connect.NewHubServiceClient(h2cClient(), "http://"+s.Addr())
	_, err := hub.SearchHub(context.Background(), connect.NewRequest(&v1.SearchHubRequest{}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("search without a hub: %v", err)
	}
}

// The dashboard is served at / unless disabled; API paths are unaffected.
func TestDashboardMount(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), DisableDashboard: disabled}, ln)
		if err != nil {
			t.Fatal(err)
		}
		want := http.StatusOK
		if disabled {
			want = http.StatusNotFound
		}
		for _, path := range []string{"/", "/ui/js/app.js"} {
			resp, err := http.Get("http://" + s.Addr() + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("disabled=%v: GET %s = %d, want %d", disabled, path, resp.StatusCode, want)
			}
		}
		resp, err := http.Get("http://" + s.Addr() + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("disabled=%v: /healthz: %v %v", disabled, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
		s.Close()
	}
}
