package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/junctionhq/junction/sdk/client"
)

// connectNode connects to the first --server address itself, not to a
// cluster's leader: for calls about that node's own files, such as
// station repair.
func (a *app) connectNode(ctx context.Context) (*client.Client, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	server, opts, err := a.clientOptions()
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(server, ",")
	c, err := client.Connect(cctx, strings.TrimSpace(first), opts...)
	if errors.Is(err, client.ErrUnavailable) {
		return nil, fmt.Errorf("%w (is the broker running? set --server or JUNCTION_SERVER)", err)
	}
	return c, err
}
