package main

import (
	"context"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/server"
)

// brokerHub is the server's HubService loader: the catalogs and trusted
// keys `junction hub` uses (config file, first-party catalog), installing
// into the broker's plugin directory.
func (a *app) brokerHub(dataDir string) server.HubLoader {
	return func(ctx context.Context, dir string) (*catalog.Installer, []string, error) {
		h := &hub{a: a, dataDir: dataDir, pluginDir: dir}
		var warns []string
		in, err := h.loadWith(ctx, func(err error) { warns = append(warns, "skipping "+err.Error()) })
		if err != nil {
			return nil, nil, err
		}
		in.Progress = nil
		in.Warn = nil
		return in, warns, nil
	}
}
