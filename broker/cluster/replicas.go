package cluster

import (
	"github.com/hashicorp/raft"

	"github.com/junctionhq/junction/broker"
)

var _ broker.ReplicaCounter = (*Node)(nil)

// Voters returns how many voting members the cluster has, as this node
// knows its configuration. With one data group every station lives on
// each of them, so this is every station's replica count.
func (n *Node) Voters() (int, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, n.raftErr(err)
	}
	voters := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	return voters, nil
}
