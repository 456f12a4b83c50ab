package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/junctionhq/junction/internal/pluginwire"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

// process is one running plugin process.
type process struct {
	client *goplugin.Client
	rpc    goplugin.ClientProtocol
	conn   *protocol.ConnectorClient
}

// launch starts the plugin binary with a clean environment (PATH plus the
// variables of env its spec declares) and completes the go-plugin handshake.
func launch(inst Installed, env map[string]string, log *slog.Logger) (*process, error) {
	cmd := exec.Command(inst.Path)
	var err error
	if cmd.Env, err = pluginEnv(inst.Spec, env); err != nil {
		return nil, err
	}
	dieWithHost(cmd)
	cfg := pluginwire.ClientConfig(cmd, hclogToSlog(log))
	cfg.SkipHostEnv = true
	cfg.StartTimeout = 15 * time.Second
	client := goplugin.NewClient(cfg)
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s@%s (%s): %w", inst.Name(), inst.Version(), inst.Path, err)
	}
	raw, err := rpc.Dispense(protocol.PluginConnector)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: %w", inst.Name(), err)
	}
	return &process{client: client, rpc: rpc, conn: raw.(*protocol.ConnectorClient)}, nil
}

func (p *process) sink() (connector.Sink, error) {
	raw, err := p.rpc.Dispense(protocol.PluginSink)
	if err != nil {
		return nil, err
	}
	return raw.(connector.Sink), nil
}

func (p *process) source() (connector.Source, error) {
	raw, err := p.rpc.Dispense(protocol.PluginSource)
	if err != nil {
		return nil, err
	}
	return raw.(connector.Source), nil
}

// watch returns a channel closed when the plugin stops answering pings or
// exits, checking every interval until ctx is done.
func (p *process) watch(ctx context.Context, interval time.Duration) <-chan error {
	dead := make(chan error, 1)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if p.client.Exited() {
				dead <- fmt.Errorf("plugin process exited")
				return
			}
			if err := p.rpc.Ping(); err != nil {
				dead <- fmt.Errorf("plugin stopped answering health checks: %w", err)
				return
			}
		}
	}()
	return dead
}

// stop kills the plugin process (go-plugin first asks it to exit).
func (p *process) stop() { p.client.Kill() }
