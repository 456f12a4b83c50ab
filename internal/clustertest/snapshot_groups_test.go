package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// TestGroupSurvivesSnapshotInstall keeps a follower down while a group
// consumes and checkpoints, and while the others snapshot and compact
// their raft logs past it; restarted, the follower catches up from a
// snapshot, is made leader, and the group resumes there at its committed
// offsets: nothing it acknowledged before is delivered again.
func TestGroupSurvivesSnapshotInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	const name, group = "snapgroups", "g"
	c := newCluster(t, 3, "--cluster-snapshot-threshold", "50", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(name, partitions, time.Hour)
	follower := c.follower()
	c.kill(follower)
	t.Logf("killed follower %s", follower.id)

	// Nothing here tests failover: every call goes to whichever node
	// leads at the time, so that a leader that steps down (a node
	// starved of CPU on a busy machine) only delays the test.
	produce := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			c.produceOnLeader(name, fmt.Sprintf("%s-%d", prefix, i))
		}
	}
	// pullAll pulls and acks on the leader until want messages were
	// acknowledged, and returns how often each value was, and how many
	// nodes served the acks: after a leader change, what the group had
	// not checkpointed yet is delivered again.
	pullAll := func(want int) (map[string]int, int) {
		t.Helper()
		got := make(map[string]int)
		served := make(map[*node]bool)
		c.await(60*time.Second, fmt.Sprintf("%d messages of group %s", want, group), func() bool {
			n := c.leaderNow()
			if n == nil {
				return false
			}
			mc := junctionv1connect.NewMessageServiceClient(c.hc, "http://"+n.api)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := mc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: name, Group: group, MaxMessages: 100, MaxWait: durationpb.New(100 * time.Millisecond)}))
			if err != nil {
				t.Logf("pull on %s: %v", n.id, err)
				return false
			}
			refs := map[uint32][]uint64{}
			for _, d := range resp.Msg.Messages {
				refs[d.Partition] = append(refs[d.Partition], d.Offset)
			}
			if len(refs) > 0 {
				req := &v1.AckRequest{Station: name, Group: group}
				for p, offs := range refs {
					req.Messages = append(req.Messages, &v1.MessageRefs{Partition: p, Offsets: offs})
				}
				if _, err := mc.Ack(ctx, connect.NewRequest(req)); err != nil {
					// Not acknowledged: they come again.
					t.Logf("ack on %s: %v", n.id, err)
					return false
				}
				for _, d := range resp.Msg.Messages {
					got[string(d.Value)]++
				}
				served[n] = true
			}
			return len(got) >= want
		})
		return got, len(served)
	}
	// checkpointed waits until n has stored the group's offsets at the
	// partitions' ends.
	checkpointed := func() {
		t.Helper()
		c.await(60*time.Second, "group "+group+" checkpointed at the end on the leader", func() bool {
			n := c.leaderNow()
			if n == nil {
				return false
			}
			gc := junctionv1connect.NewGroupServiceClient(c.hc, "http://"+n.api)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			resp, err := gc.DescribeGroup(ctx, connect.NewRequest(&v1.DescribeGroupRequest{Station: name, Group: group}))
			if err != nil || len(resp.Msg.Group.Partitions) != partitions {
				return false
			}
			for _, p := range resp.Msg.Group.Partitions {
				if p.CheckpointedOffset != p.NextOffset {
					return false
				}
			}
			return true
		})
	}

	produce("before", 60)
	pullAll(60)
	checkpointed()
	// Enough entries behind the checkpoint that the follower's restart
	// needs a snapshot.
	produce("after", 200)

	c.start(follower)
	c.await(90*time.Second, follower.id+" to install a snapshot", func() bool {
		b, _ := os.ReadFile(follower.logPath)
		return bytes.Contains(b, []byte("installed a snapshot from the leader"))
	})
	c.awaitHolds(follower, name, partitions)

	c.transferTo(follower)

	got, leaders := pullAll(200)
	for v, n := range got {
		switch {
		case strings.HasPrefix(v, "before-"):
			t.Errorf("%s delivered again though acknowledged and checkpointed before the snapshot", v)
		case n > 1 && leaders == 1:
			t.Errorf("%s acknowledged %d times", v, n)
		}
	}
	for i := range 200 {
		if v := fmt.Sprintf("after-%d", i); got[v] == 0 {
			t.Errorf("%s never delivered", v)
		}
	}
}
