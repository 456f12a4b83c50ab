package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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
	// shm is the region the plugin's sink takes record batches through;
	// nil when it has none.
	shm *sharedMemory
}

// launch starts the plugin binary with a clean environment (PATH plus the
// variables of env its spec declares) and completes the go-plugin handshake.
// With shmBytes > 0 it passes the plugin a shared memory region of that
// size for a sink's record batches, where the platform has them.
func launch(inst Installed, env map[string]string, shmBytes int, log *slog.Logger) (*process, error) {
	cmd := exec.Command(inst.Path)
	var err error
	if cmd.Env, err = pluginEnv(inst.Spec, env); err != nil {
		return nil, err
	}
	dieWithHost(cmd)
	var shm *sharedMemory
	if shmBytes > 0 && offerSharedMemory {
		if shm, err = newSharedMemory(shmBytes); err != nil {
			log.Debug("record batches will go over gRPC", "err", err)
		} else {
			cmd.ExtraFiles = []*os.File{shm.file} // fd 3 in the plugin
			cmd.Env = append(cmd.Env, protocol.EnvSharedMemoryFD+"=3")
		}
	}
	cfg := pluginwire.ClientConfig(cmd, hclogToSlog(log))
	cfg.SkipHostEnv = true
	cfg.StartTimeout = 15 * time.Second
	client := goplugin.NewClient(cfg)
	rpc, err := client.Client()
	shm.passed()
	if err != nil {
		client.Kill()
		shm.close()
		return nil, fmt.Errorf("start plugin %s@%s (%s): %w", inst.Name(), inst.Version(), inst.Path, err)
	}
	raw, err := rpc.Dispense(protocol.PluginConnector)
	if err != nil {
		client.Kill()
		shm.close()
		return nil, fmt.Errorf("plugin %s: %w", inst.Name(), err)
	}
	return &process{client: client, rpc: rpc, conn: raw.(*protocol.ConnectorClient), shm: shm}, nil
}

func (p *process) sink() (connector.Sink, error) {
	raw, err := p.rpc.Dispense(protocol.PluginSink)
	if err != nil {
		return nil, err
	}
	if c, ok := raw.(*protocol.SinkClient); ok && p.shm != nil {
		c.UseSharedMemory(p.shm.mem)
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

// stop kills the plugin process (go-plugin first asks it to exit), then
// releases its shared memory.
func (p *process) stop() {
	p.client.Kill()
	p.shm.close()
}
