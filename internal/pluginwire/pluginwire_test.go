package pluginwire

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/junctionhq/junction/sdk/protocol"
)

func TestPluginsServeNothing(t *testing.T) {
	set := Plugins()
	for _, name := range []string{protocol.PluginConnector, protocol.PluginSink, protocol.PluginSource} {
		p, ok := set[name].(plugin.GRPCPlugin)
		if !ok {
			t.Fatalf("plugin set lacks %s", name)
		}
		if err := p.GRPCServer(nil, nil); err == nil {
			t.Errorf("%s: the host's plugin served a service", name)
		}
	}
}

func TestReadSpecRejectsNonPlugins(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "notaplugin")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSpec(context.Background(), script); err == nil || !strings.Contains(err.Error(), "not a connector spec") {
		t.Errorf("ReadSpec of a non-plugin: %v", err)
	}
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho '{\"name\":\"old\",\"version\":\"1.0.0\",\"kinds\":[\"sink\"],\"protocol_version\":7}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, err := ReadSpec(context.Background(), old)
	if err == nil || !strings.Contains(err.Error(), "speaks connector protocol 7") || spec.Name != "old" {
		t.Errorf("ReadSpec of another protocol version: %q, %v", spec.Name, err)
	}
}
