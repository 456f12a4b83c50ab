package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/api"
	"github.com/junctionhq/junction/broker/cluster"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/plugin/config"
)

// placeConnectors makes a cluster node's connector host keep its
// definitions and checkpoints in the replicated store and run a connector
// only where node says it runs: on the leader, or on the node it is
// pinned to, whose produces and consumer group calls go to the leader.
func placeConnectors(o *plugin.Options, node *cluster.Node, b *broker.Broker) {
	o.Broker = node.ConnectorBroker(b)
	o.Store = node.ConnectorStore(b.Connectors())
	o.Placement = func(def *config.Connector) bool { return node.RunsHere(def.Node) }
}

// watchPlacement reconciles host's connectors whenever node's leadership
// or the replicated connector store changes. When the node becomes the
// leader it applies the definitions in dir, if any: only the leader may
// change connectors.
func watchPlacement(node *cluster.Node, host *plugin.Host, log *slog.Logger, dir string) {
	leading := false
	node.WatchPlacement(func(ctx context.Context) {
		if was := leading; !was && node.IsLeader() && dir != "" {
			if err := host.LoadDir(ctx, dir); err != nil && !errors.Is(err, broker.ErrClosed) {
				log.Error("some connector definitions were not applied", "dir", dir, "err", err)
			}
		}
		leading = node.IsLeader()
		if err := host.Reconcile(ctx); err != nil && !errors.Is(err, broker.ErrClosed) {
			log.Error("place connectors on this node", "err", err)
		}
	})
}

var _ plugin.Broker = (*cluster.ConnectorBroker)(nil)

// leading refuses a connector change on a cluster follower with a
// NotLeaderError naming the leader: changes are made on the leader.
func (s *connectorService) leading() error {
	if s.node == nil || s.node.IsLeader() {
		return nil
	}
	return api.Error(&broker.NotLeaderError{Leader: s.node.LeaderAPI()}, "", "")
}
