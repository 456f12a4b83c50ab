package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// ErrReplicasUnsatisfiable is matched by a refusal to remove a voter
// that would leave fewer voters than some station's replicas setting.
var ErrReplicasUnsatisfiable = errors.New("stations would have fewer voters than their replicas")

// maxNamedStations bounds how many stations a refusal names.
const maxNamedStations = 10

// checkRemoval refuses removing member id when it is a voter and fewer
// voters would be left than a station's explicit replicas. With one data
// group a station lives on every voter, so an explicit count is a floor:
// adding voters keeps it (the station has more copies than asked, as
// station describe shows), removing one must not break it. A station
// whose replicas is unset (0) follows the voters.
func (n *Node) checkRemoval(id string) error {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return n.raftErr(err)
	}
	voters, leaving := 0, false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			leaving = leaving || string(s.ID) == id
		}
	}
	if !leaving {
		return nil
	}
	left := voters - 1
	cfgs, _ := n.fsm.b.Stations()
	var short []string
	for _, c := range cfgs {
		if int64(c.Replicas) > int64(left) {
			short = append(short, fmt.Sprintf("%s (replicas %d)", c.Name, c.Replicas))
		}
	}
	if len(short) == 0 {
		return nil
	}
	slices.Sort(short)
	named := strings.Join(short[:min(len(short), maxNamedStations)], ", ")
	if len(short) > maxNamedStations {
		named += fmt.Sprintf(" and %d more", len(short)-maxNamedStations)
	}
	return fmt.Errorf("%w: removing voter %s would leave %d, fewer than station(s) %s ask for; "+
		"set their replicas to 0 (every voter) first: junction station update NAME --replicas 0",
		ErrReplicasUnsatisfiable, id, left, named)
}
