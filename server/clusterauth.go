package server

import (
	"log/slog"

	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/broker/cluster"
)

// replicateAuth makes a reload the users and tokens node applies from the
// cluster's replicated auth store, so that logins and tokens are checked
// against the same users on every node.
func replicateAuth(node *cluster.Node, a *auth.Auth, log *slog.Logger) {
	node.OnAuthChange(func() {
		if err := a.Reload(); err != nil {
			log.Error("reload users and tokens replicated from the cluster; this node keeps checking callers against the ones it had", "err", err)
		}
	})
}
