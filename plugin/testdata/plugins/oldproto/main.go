// Command oldproto is a plugin built for another connector protocol
// version: it says so in its spec and in its handshake.
package main

import (
	"fmt"
	"os"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--spec" {
		fmt.Println(`{"name":"oldproto","version":"0.1.0","kinds":["sink"],"fields":[],"protocol_version":7}`)
		return
	}
	hs := protocol.Handshake
	hs.ProtocolVersion = 7
	goplugin.Serve(&goplugin.ServeConfig{HandshakeConfig: hs, Plugins: connector.ServerPlugins(connector.Definition{}, nil), GRPCServer: goplugin.DefaultGRPCServer})
}
